"""Consent for third-party clients (R-76): the scopes each user granted each client, remembered, reviewed, revoked.

A client registered with ``consent_required`` is a third party: at the authorization endpoint, once the
user is signed in, the consent page (:mod:`idp.web.consent`) lists the scopes it asks for unless the user
already granted every one of them to that client (or the request says ``prompt=consent``). "Allow" calls
:meth:`ConsentService.grant`; "Deny" sends ``access_denied`` to the client. First-party clients (the
default) never ask.

:meth:`ConsentService.revoke` (the admin API, the CLI, and the account console) removes the consent and
revokes every code, refresh token and access token the client got for the user (as Keycloak does): the
authorization endpoint files each code given to a consent-required client under (user, client)
(:meth:`TokenService.file_client_grant`), so the token endpoint does no extra work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from authlib.oauth2.rfc6749.util import scope_to_list
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from idp.storage.models import Client, Consent, utcnow

if TYPE_CHECKING:  # pragma: no cover
    from idp.audit import AuditLog
    from idp.oidc.clients import ClientView
    from idp.oidc.tokens import TokenService
    from idp.storage.database import Database
    from idp.tenants.service import TenantView


class ConsentError(LookupError):
    """A consent operation was refused: one plain line, an HTTP status and the field at fault."""

    def __init__(self, message: str, status: int = 404, field: str = "client_id") -> None:
        super().__init__(message)
        self.status = status
        self.field = field


@dataclass(frozen=True)
class ConsentView:
    """One remembered consent: the client (with its display name) and the scopes granted to it."""

    client_id: str
    client_name: str
    scopes: tuple[str, ...]
    granted_at: datetime | None
    updated_at: datetime | None

    def to_dict(self) -> dict[str, object]:
        return {
            "client_id": self.client_id,
            "client_name": self.client_name,
            "scopes": list(self.scopes),
            "granted_at": self.granted_at.isoformat() if self.granted_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


def requested_scopes(client: "ClientView", scope: str | None) -> list[str]:
    """The scopes of a request the client may have, in request order: what the code will carry, and what the user approves."""
    return scope_to_list(client.get_allowed_scope(scope)) or []


class ConsentService:
    """List, grant and revoke the consents of a tenant's users."""

    def __init__(self, db: "Database", tokens: "TokenService", audit: "AuditLog") -> None:
        self.db = db
        self.tokens = tokens
        self.audit = audit

    # -- reading ------------------------------------------------------------------------------------

    def granted(self, tenant: "TenantView", user_id: int, client_id: str) -> set[str]:
        """The scopes ``user_id`` granted ``client_id`` (empty when never, or revoked)."""
        with self.db.session() as s:
            scopes = s.scalar(
                select(Consent.scopes).where(Consent.tenant_id == tenant.id, Consent.user_id == user_id, Consent.client_id == client_id)
            )
        return set(scopes or ())

    def missing(self, tenant: "TenantView", user_id: int, client: "ClientView", scopes: list[str]) -> list[str]:
        """The ``scopes`` the user has not granted ``client`` yet (all of them when there is no consent); one query."""
        granted = self.granted(tenant, user_id, client.client_id)
        return [s for s in scopes if s not in granted]

    def list_for_user(self, tenant: "TenantView", user_id: int) -> list[ConsentView]:
        """Every consent of the user, by client id, with each client's display name."""
        with self.db.session() as s:
            rows = s.execute(
                select(Consent, Client.name)
                .join(Client, (Client.tenant_id == Consent.tenant_id) & (Client.client_id == Consent.client_id))
                .where(Consent.tenant_id == tenant.id, Consent.user_id == user_id)
                .order_by(Consent.client_id)
            ).all()
            return [
                ConsentView(c.client_id, name or "", tuple(c.scopes or ()), c.granted_at, c.updated_at) for c, name in rows
            ]

    # -- changing -----------------------------------------------------------------------------------

    def grant(
        self, tenant: "TenantView", user_id: int, client_id: str, scopes: list[str], *, client_ip: str = "", user_agent: str = ""
    ) -> set[str]:
        """Remember that the user granted ``scopes`` to ``client_id`` (added to what they granted before); audited
        as ``consent.granted`` in the same transaction. Returns every scope now granted."""
        wanted = list(dict.fromkeys(scopes))
        for attempt in (1, 2):  # two first grants at once: the loser of the unique constraint adds to the winner's row
            try:
                with self.db.session() as s:
                    row = s.scalar(
                        select(Consent)
                        .where(Consent.tenant_id == tenant.id, Consent.user_id == user_id, Consent.client_id == client_id)
                        .with_for_update()
                    )
                    if row is None:
                        row = Consent(tenant_id=tenant.id, user_id=user_id, client_id=client_id, scopes=wanted)
                        s.add(row)
                    else:
                        row.scopes = list(dict.fromkeys([*(row.scopes or []), *wanted]))
                        row.updated_at = utcnow()
                    s.flush()
                    self.audit.record(
                        tenant.id, "consent.granted", user_id=user_id, actor=f"user:{user_id}", client_ip=client_ip, user_agent=user_agent,
                        session=s, client_id=client_id, scopes=wanted,
                    )
                    return set(row.scopes)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def revoke(self, tenant: "TenantView", user_id: int, client_id: str, *, actor: str, client_ip: str = "", user_agent: str = "") -> int:
        """Forget the user's consent to ``client_id`` and revoke what the client got for the user (codes, refresh and
        access tokens); audited as ``consent.revoked``. :class:`ConsentError` (404) when there is no such consent.
        Returns how many authorizations of the client were ended.

        The account console calls it with ``actor=f"user:{user_id}"``; the admin API with the admin's actor.
        """
        with self.db.session() as s:
            row = s.scalar(
                select(Consent).where(Consent.tenant_id == tenant.id, Consent.user_id == user_id, Consent.client_id == client_id).with_for_update()
            )
            if row is None:
                raise ConsentError(f"no consent to {client_id!r} for this user")
            scopes = list(row.scopes or ())
            s.delete(row)
            s.flush()
            ended = self.tokens.revoke_client_grants(tenant, user_id, client_id)
            self.audit.record(
                tenant.id, "consent.revoked", user_id=user_id, actor=actor, client_ip=client_ip, user_agent=user_agent, session=s,
                client_id=client_id, scopes=scopes, tokens_revoked=ended,
            )
        return ended
