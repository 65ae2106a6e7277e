"""Persistent records (SQLAlchemy 2): what must outlive a restart.

Ephemeral records (sessions, codes, tokens, counters) are not here: they live in
the ephemeral store (:mod:`idp.store`). Every table below is scoped by tenant.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON, list[str]: JSON}


class Tenant(Base):
    """A realm: its own issuer, keys, users and clients."""

    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    #: ``v2`` (the new login experience) or ``legacy`` (existing customers not yet migrated).
    experience: Mapped[str] = mapped_column(String(16), default="v2")
    #: The tenant configuration as loaded by :class:`idp.tenants.config.TenantConfig`.
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: Bumped on every change, so caches of the tenant can be checked cheaply.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TenantLogo(Base):
    """A logo uploaded through the console, served from this server (:mod:`idp.tenants.logos`).

    Keyed by its SHA-256, which the tenant's ``branding.uploaded_logo`` names; the image was
    checked (PNG, JPEG, or an SVG with nothing active in it) before it was written.
    """

    __tablename__ = "tenant_logos"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Client(Base):
    """An OAuth 2.0 / OIDC client (relying party) of one tenant."""

    __tablename__ = "clients"
    __table_args__ = (UniqueConstraint("tenant_id", "client_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(200), default="")
    #: Keyed SHA-256 of the secret (secrets are random, so a slow hash buys nothing); empty for public clients.
    secret_hash: Mapped[str] = mapped_column(String(128), default="")
    redirect_uris: Mapped[list[str]] = mapped_column(default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(default=list)
    grant_types: Mapped[list[str]] = mapped_column(default=list)
    scope: Mapped[str] = mapped_column(Text, default="openid profile email address phone offline_access")
    #: ``client_secret_basic``, ``client_secret_post`` or ``none`` (public).
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32), default="client_secret_basic")
    require_pkce: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Where the end_session page frames the RP to sign it out (OpenID Connect Front-Channel Logout 1.0 §2); empty: none.
    frontchannel_logout_uri: Mapped[str] = mapped_column(Text, default="")
    #: The frame's URL carries ``iss`` and ``sid`` (Front-Channel Logout §2).
    frontchannel_logout_session_required: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Where logout tokens are POSTed (OpenID Connect Back-Channel Logout 1.0 §2.2); empty: none.
    backchannel_logout_uri: Mapped[str] = mapped_column(Text, default="")
    #: The logout token carries ``sid`` (Back-Channel Logout §2.2).
    backchannel_logout_session_required: Mapped[bool] = mapped_column(Boolean, default=False)
    #: A third-party client: the user approves the scopes it asks for on a consent page (:mod:`idp.oidc.consent`).
    consent_required: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Only pushed authorization requests are accepted from this client (RFC 9126 §6).
    require_pushed_authorization_requests: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Every token request of this client must carry a DPoP proof (RFC 9449 §5.2).
    dpop_bound_access_tokens: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The authorization response modes this client may ask for (``query``, ``form_post``; R-64).
    response_modes: Mapped[list[str]] = mapped_column(default=lambda: ["query", "form_post"])
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"


class User(Base):
    """An end user of one tenant."""

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("tenant_id", "username"),
        Index("ix_users_tenant_email", "tenant_id", "email"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    #: The OIDC subject: random, never reassigned.
    sub: Mapped[str] = mapped_column(String(36), unique=True, default=lambda: str(uuid.uuid4()))
    #: As typed (display); its canonical form (RFC 8265) is a :class:`UserIdentifier`, unique within the tenant.
    username: Mapped[str] = mapped_column(String(128))
    #: As typed (for sending); its canonical form is a :class:`UserIdentifier`, unique within the tenant.
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    #: E.164 (``+33612345678``).
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    given_name: Mapped[str] = mapped_column(String(200), default="")
    family_name: Mapped[str] = mapped_column(String(200), default="")
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)
    #: OIDC Core §5.1.1 address (``formatted``, ``street_address``, ``locality``, ``region``, ``postal_code``,
    #: ``country``), only the members that are set; None when there is none.
    address: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: Argon2id encoded hash; empty when the tenant's users do not keep local passwords.
    password_hash: Mapped[str] = mapped_column(Text, default="")
    #: ``active`` or ``disabled``.
    status: Mapped[str] = mapped_column(String(16), default="active")
    roles: Mapped[list[str]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    factors: Mapped[list["Factor"]] = relationship(back_populates="user", lazy="raise")

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.given_name, self.family_name) if p)


class UserIdentifier(Base):
    """A canonical sign-in identifier of a user: one namespace per tenant for usernames and emails.

    The unique index makes "one identifier names one account" hold under concurrency: a username equal to
    another user's email (after canonicalisation, :mod:`idp.identifiers`) cannot be written.
    """

    __tablename__ = "user_identifiers"
    __table_args__ = (UniqueConstraint("tenant_id", "value"), Index("ix_user_identifiers_user", "user_id", "kind"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: ``username`` or ``email``.
    kind: Mapped[str] = mapped_column(String(16))
    #: The canonical form: RFC 8265 UsernameCaseMapped for usernames, lower-cased address for emails.
    value: Mapped[str] = mapped_column(String(320))


class Factor(Base):
    """A second factor bound to a user, with its whole lifecycle (R-14).

    A removed factor keeps its row (``removed_at`` set) so that every
    authenticator ever bound stays on record for the audit.
    """

    __tablename__ = "factors"
    __table_args__ = (Index("ix_factors_user_active", "user_id", "removed_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=lambda: str(uuid.uuid4()))
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    #: ``totp``, ``sms``, ``recovery_code`` (a set of :class:`RecoveryCode`) or ``passkey`` (one :class:`PasskeyCredential`).
    type: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(200), default="")
    #: TOTP seed encrypted with the tenant secret key (R-84); empty for SMS.
    secret_encrypted: Mapped[str] = mapped_column(Text, default="")
    #: For SMS factors, the verified number it sends to (E.164).
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    last_used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    removed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    removed_by: Mapped[str] = mapped_column(String(200), default="")

    user: Mapped[User] = relationship(back_populates="factors")


class RecoveryCode(Base):
    """One single-use recovery code of a set (the set is a :class:`Factor` of type ``recovery_code``).

    Only the code's keyed digest is kept (HMAC-SHA256 under the instance key, never the code); a used code
    keeps its row with ``used_at``; the set's factor being removed voids every code of it.
    """

    __tablename__ = "recovery_codes"
    __table_args__ = (Index("ix_recovery_codes_lookup", "tenant_id", "user_id", "digest"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    factor_id: Mapped[str] = mapped_column(ForeignKey("factors.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PasskeyCredential(Base):
    """The WebAuthn credential of a passkey (the passkey is a :class:`Factor` of type ``passkey``: its label,
    creation, last use and removal are the factor's).

    Looked up by tenant and credential id, never by credential id alone: a credential registered at one
    tenant is unknown at every other (R-44). Only the public key is kept.
    """

    __tablename__ = "passkey_credentials"
    __table_args__ = (UniqueConstraint("tenant_id", "credential_id"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    factor_id: Mapped[str] = mapped_column(ForeignKey("factors.id", ondelete="CASCADE"), unique=True)
    #: The credential id as the authenticator made it (base64url, at most 1023 bytes raw).
    credential_id: Mapped[str] = mapped_column(String(1400))
    #: The COSE public key.
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    #: The user handle the credential was made for (base64url): what a discoverable credential hands back.
    user_handle: Mapped[str] = mapped_column(String(128))
    #: The authenticator's signature counter at the last use (0: the authenticator keeps none).
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    #: Backup eligibility (BE) and state (BS): a synced, multi-device passkey when eligible.
    backup_eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    #: ``usb``, ``nfc``, ``ble``, ``internal``, ``hybrid``... as the browser reported them.
    transports: Mapped[list[str]] = mapped_column(default=list)
    #: The authenticator model (all zeros when it did not say).
    aaguid: Mapped[str] = mapped_column(String(36), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SigningKey(Base):
    """A tenant's token signing key; the private half is encrypted at rest."""

    __tablename__ = "signing_keys"
    __table_args__ = (UniqueConstraint("tenant_id", "kid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    kid: Mapped[str] = mapped_column(String(64))
    alg: Mapped[str] = mapped_column(String(16))
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Published in the JWKS from creation; signs only from this time on.
    active_from: Mapped[datetime] = mapped_column(default=utcnow)
    #: Stopped signing (a newer key took over) at this time.
    retired_at: Mapped[datetime | None] = mapped_column(nullable=True)
    #: Leaves the JWKS at this time: every token it signed has expired by then.
    unpublish_at: Mapped[datetime | None] = mapped_column(nullable=True)


class AuditEvent(Base):
    """Something that happened, for the audit (R-46): never a secret, code or token."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_tenant_time", "tenant_id", "created_at"),
        Index("ix_audit_tenant_type", "tenant_id", "type"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    actor: Mapped[str] = mapped_column(String(200), default="")
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(400), default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BackchannelLogoutDelivery(Base):
    """A logout token still to be POSTed to a relying party (OpenID Connect Back-Channel Logout 1.0 §2.5).

    The queue of :mod:`idp.oidc.backchannel_queue`: a row is written when a session ends and deleted once the
    RP answered 2xx, or after its last attempt. A worker leases a row (``leased_until``) while it sends it,
    so a worker that dies mid-send leaves it to another once the lease lapses. The token itself is minted
    at each attempt (it lives two minutes); the row keeps what goes in it.
    """

    __tablename__ = "backchannel_logout_deliveries"
    __table_args__ = (Index("ix_backchannel_due", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(128))
    #: The user's subject (always sent: RPs that do not keep sids match on it).
    sub: Mapped[str] = mapped_column(String(36))
    #: The ended session's id (the ``sid`` claim of the ID tokens it gave).
    sid: Mapped[str] = mapped_column(String(64), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    leased_until: Mapped[datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str] = mapped_column(String(400), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Consent(Base):
    """The scopes a user granted a third-party client on the consent page (:mod:`idp.oidc.consent`).

    One row per (tenant, user, client); a later grant of more scopes widens ``scopes``. The client is named
    by its ``client_id`` (removing the client removes its consents, :meth:`ClientService.delete`).
    """

    __tablename__ = "consents"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id", "client_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(128))
    scopes: Mapped[list[str]] = mapped_column(default=list)
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
