"""Passkeys: WebAuthn Level 3 credentials through Duo's ``webauthn`` package (issue 14, item 1).

A passkey is a :class:`~idp.storage.models.Factor` of type ``passkey`` (label, creation, last use,
removal, listed and removed like any factor) with its :class:`~idp.storage.models.PasskeyCredential`
(credential id, COSE public key, sign count, backup flags, transports, AAGUID).

- **Relying party**: the RP ID is the host of the public URL (every tenant of an instance shares it);
  the expected origin is the public URL's origin. Tenants are kept apart by the lookup: a credential is
  found by (tenant, credential id) only, so a passkey registered at tenant A is refused at tenant B (R-44).
- **Ceremonies** have two halves. ``begin_*`` makes the options (a 32-byte random challenge) and keeps
  the challenge server-side in the ephemeral store under a random ceremony id, for
  :data:`CEREMONY_TTL` seconds; ``finish_*`` takes that record (atomic read-and-delete: single use) and
  verifies the browser's answer against it. The browser never supplies the challenge it is checked with.
- **User verification is required** in both ceremonies, and registration asks for a discoverable
  credential (resident key required), so a passkey alone signs in (passwordless) and also serves as a
  second factor after a password.
- **Cloned authenticators**: a sign count that does not go up (when either count is non-zero) is refused
  and audited ``factor.passkey_clone_suspected`` (W3C WebAuthn §6.1.1); the step tells the holder.
- **User handle**: ``HMAC(instance key, tenant, user)``: stable per account (an authenticator replaces
  its credential for the same account), unlinkable across tenants, and no personal data.

Reused by the login steps (:mod:`flows.steps.passkey`), the recovery's last step and the account console:
``begin_passkey_registration`` → the browser's ``navigator.credentials.create()`` (``templates/static/passkeys.js``)
→ ``finish_passkey_registration``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, parse_authentication_credential_json
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidJSONStructure, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from idp.accounts.factor_results import FactorError, FactorParts, _now, random_uuid
from idp.assurance import AMR_HWK, AMR_SWK
from idp.security.secrets import random_token
from idp.storage.models import Factor, PasskeyCredential, User

if TYPE_CHECKING:  # pragma: no cover
    from idp.accounts.factor_results import UserFactors
    from idp.request_info import RequestInfo
    from idp.tenants.service import TenantView

log = logging.getLogger("idp.passkeys")

#: The factor type of a passkey, and the throttle's name for its attempts.
PASSKEY = "passkey"
#: Seconds a ceremony's challenge stays valid (the browser's own timeout is a little shorter).
CEREMONY_TTL = 300
#: The browser's timeout for the ceremony, milliseconds.
BROWSER_TIMEOUT_MS = 240_000
#: Longest browser answer we parse (a credential with attestation is a few kilobytes).
MAX_RESPONSE = 64_000
_TRANSPORTS = {t.value for t in AuthenticatorTransport}


@dataclass(frozen=True)
class PasskeyOptions:
    """One half-done ceremony: its id (kept by the caller, e.g. in the flow's state) and the options for the browser."""

    ceremony: str
    #: ``PublicKeyCredentialCreationOptionsJSON`` or ``…RequestOptionsJSON`` (WebAuthn L3 §5.1.8/§5.1.9).
    options_json: str


@dataclass(frozen=True)
class PasskeyCheck:
    """The answer to an assertion; true when it was accepted."""

    ok: bool
    #: ``ok``, ``invalid`` (bad answer), ``expired`` (no live ceremony), ``unknown_credential`` (not one of this
    #: tenant's, or not the expected user's), ``cloned`` (sign count went back), ``user_not_verified``.
    reason: str
    user_id: int | None = None
    factor_id: str = ""
    #: ``hwk`` (kept on one device) or ``swk`` (may be synced).
    method: str = ""

    def __bool__(self) -> bool:
        return self.ok


def _origin(public_url: str) -> str:
    parts = urlsplit(public_url)
    return f"{parts.scheme}://{parts.netloc}"


class Passkeys(FactorParts):
    """The passkey part of :class:`~idp.accounts.factors.FactorService` (a mixin: it shares its services)."""

    # -- the relying party ----------------------------------------------------------------

    def rp_id(self, tenant: TenantView) -> str:
        """The RP ID: the public URL's host (an IP address is not a valid one: serve under a name)."""
        return urlsplit(tenant.public_url).hostname or "localhost"

    def expected_origin(self, tenant: TenantView) -> str:
        return _origin(tenant.public_url)

    def user_handle(self, tenant: TenantView, user: User) -> bytes:
        """The account's WebAuthn user handle (32 bytes, keyed digest of tenant and user)."""
        return bytes.fromhex(self.secrets.digest(f"{tenant.id}:{user.id}", "webauthn-user-handle"))

    # -- reading ----------------------------------------------------------------------------

    def has_passkeys(self, tenant: TenantView, user: User, known: UserFactors | None = None) -> bool:
        return bool(self._rows(tenant, user, PASSKEY, known))

    def passkeys(self, tenant: TenantView, user: User) -> list[tuple[Factor, PasskeyCredential]]:
        """The user's active passkeys with their credentials, oldest first."""
        with self.db.read() as s:
            rows = s.execute(
                select(Factor, PasskeyCredential)
                .join(PasskeyCredential, PasskeyCredential.factor_id == Factor.id)
                .where(Factor.tenant_id == tenant.id, Factor.user_id == user.id, Factor.type == PASSKEY, Factor.removed_at.is_(None))
                .order_by(Factor.created_at, Factor.id)
            )
            return [(f, c) for f, c in rows]

    def passkey_details(self, tenant: TenantView, user: User) -> dict[str, PasskeyCredential]:
        """The credential of every passkey the user ever had (removed ones too), by factor id (admin listings)."""
        with self.db.read() as s:
            rows = s.scalars(select(PasskeyCredential).where(PasskeyCredential.tenant_id == tenant.id, PasskeyCredential.user_id == user.id))
            return {c.factor_id: c for c in rows}

    def passkey_credential(self, tenant: TenantView, factor_id: str) -> PasskeyCredential | None:
        with self.db.read() as s:
            return s.scalar(select(PasskeyCredential).where(PasskeyCredential.tenant_id == tenant.id, PasskeyCredential.factor_id == factor_id))

    # -- ceremonies ---------------------------------------------------------------------------

    def _ceremony_key(self, tenant: TenantView, ceremony: str) -> str:
        return f"{tenant.slug}:webauthn:{ceremony}"

    def _keep(self, tenant: TenantView, kind: str, challenge: bytes, user: User | None) -> str:
        ceremony = random_token(24)
        payload = {"kind": kind, "challenge": bytes_to_base64url(challenge), "user_id": user.id if user is not None else None}
        self.store.upsert(self._ceremony_key(tenant, ceremony), payload, CEREMONY_TTL)
        return ceremony

    def _take(self, tenant: TenantView, ceremony: str, kind: str) -> dict[str, Any] | None:
        if not ceremony or len(ceremony) > 64:
            return None
        payload = self.store.take(self._ceremony_key(tenant, ceremony))
        return payload if payload is not None and payload.get("kind") == kind else None

    def begin_passkey_registration(self, tenant: TenantView, user: User) -> PasskeyOptions:
        """Options for ``navigator.credentials.create()``: a discoverable credential with user verification,
        excluding the user's existing passkeys (one per authenticator)."""
        existing = [
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(c.credential_id), transports=_transports(c.transports))
            for _f, c in self.passkeys(tenant, user)
        ]
        options = generate_registration_options(
            rp_id=self.rp_id(tenant),
            rp_name=tenant.brand_name,
            user_id=self.user_handle(tenant, user),
            user_name=user.email or user.username,
            user_display_name=user.name or user.username,
            timeout=BROWSER_TIMEOUT_MS,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED, user_verification=UserVerificationRequirement.REQUIRED
            ),
            exclude_credentials=existing,
        )
        return PasskeyOptions(self._keep(tenant, "register", options.challenge, user), options_to_json(options))

    def finish_passkey_registration(
        self,
        tenant: TenantView,
        user: User,
        ceremony: str,
        response: str,
        label: str = "",
        replace_existing: bool = False,
        actor: str = "",
        request: RequestInfo | None = None,
    ) -> Factor:
        """Verify the browser's ``response`` (JSON) to the ceremony ``ceremony`` and save the passkey.

        With ``replace_existing`` every earlier active factor is removed in the transaction that saves it
        (recovery, R-98). Raises :class:`FactorError`: ``passkey_expired`` (no live ceremony for this user),
        ``passkey_invalid`` (the answer does not verify), ``passkey_exists`` (already registered here);
        nothing is written then.
        """
        pending = self._take(tenant, ceremony, "register")
        if pending is None or pending.get("user_id") != user.id:
            raise FactorError("passkey_expired", "the passkey request expired: try again")
        if not response or len(response) > MAX_RESPONSE:
            raise FactorError("passkey_invalid", "the browser's answer is missing or too long")
        try:
            verified = verify_registration_response(
                credential=response,
                expected_challenge=base64url_to_bytes(pending["challenge"]),
                expected_rp_id=self.rp_id(tenant),
                expected_origin=self.expected_origin(tenant),
                require_user_verification=True,
            )
            transports = [t for t in (json.loads(response).get("response", {}).get("transports") or []) if t in _TRANSPORTS]
        except (InvalidRegistrationResponse, InvalidJSONStructure, ValueError, TypeError, AttributeError, KeyError) as exc:
            log.info("passkey registration refused: %s", exc)
            raise FactorError("passkey_invalid", "the passkey could not be verified") from None
        who = (actor or f"user:{user.id}")[:200]
        credential_id = bytes_to_base64url(verified.credential_id)
        eligible = verified.credential_device_type.value == "multi_device"
        factor = Factor(
            id=random_uuid(), tenant_id=tenant.id, user_id=user.id, type=PASSKEY, label=(label or "Passkey")[:200], created_by=who, last_used_at=_now()
        )
        removed: list[Factor] = []
        with self.db.session() as s:
            taken = s.scalar(select(PasskeyCredential.id).where(PasskeyCredential.tenant_id == tenant.id, PasskeyCredential.credential_id == credential_id))
            if taken is not None:
                raise FactorError("passkey_exists", "this passkey is already registered", status=409)
            if replace_existing:
                removed = self._remove_all(s, tenant, user, who, request, reason="replaced")
            s.add(factor)
            s.flush()
            s.add(
                PasskeyCredential(
                    tenant_id=tenant.id,
                    user_id=user.id,
                    factor_id=factor.id,
                    credential_id=credential_id,
                    public_key=verified.credential_public_key,
                    user_handle=bytes_to_base64url(self.user_handle(tenant, user)),
                    sign_count=verified.sign_count,
                    backup_eligible=eligible,
                    backed_up=verified.credential_backed_up,
                    transports=transports,
                    aaguid=verified.aaguid,
                )
            )
            self._audit(
                s, tenant, user, "factor.enrolled", request, actor=who, factor_id=factor.id, factor_type=PASSKEY,
                replaced=len(removed), aaguid=verified.aaguid, synced=eligible,
            )  # fmt: skip
        self._drop_replay_state(tenant, removed)
        return factor

    def begin_passkey_authentication(self, tenant: TenantView, user: User | None = None) -> PasskeyOptions:
        """Options for ``navigator.credentials.get()``: for ``user``, their passkeys; for nobody yet (passwordless
        sign-in, conditional mediation), any discoverable credential of this RP."""
        allowed = []
        if user is not None:
            allowed = [
                PublicKeyCredentialDescriptor(id=base64url_to_bytes(c.credential_id), transports=_transports(c.transports))
                for _f, c in self.passkeys(tenant, user)
            ]
        options = generate_authentication_options(
            rp_id=self.rp_id(tenant),
            timeout=BROWSER_TIMEOUT_MS,
            allow_credentials=allowed,
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        return PasskeyOptions(self._keep(tenant, "authenticate", options.challenge, user), options_to_json(options))

    def finish_passkey_authentication(
        self,
        tenant: TenantView,
        ceremony: str,
        response: str,
        user: User | None = None,
        request: RequestInfo | None = None,
        ok_event: str = "",
        ok_details: dict[str, Any] | None = None,
    ) -> PasskeyCheck:
        """Verify an assertion to the ceremony ``ceremony``; ``user``: whose passkey it must be (second factor),
        None for passwordless sign-in (the passkey names its user).

        The credential is looked up by this tenant and its id; a discoverable credential's user handle must
        be the one it was registered with. On success the sign count and last use are saved, with
        ``ok_event`` in the same transaction. A sign count that did not go up is refused and audited.
        """
        pending = self._take(tenant, ceremony, "authenticate")
        if pending is None or (user is not None and pending.get("user_id") != user.id):
            return PasskeyCheck(False, "expired")
        if not response or len(response) > MAX_RESPONSE:
            return PasskeyCheck(False, "invalid")
        try:
            parsed = parse_authentication_credential_json(response)
        except (InvalidJSONStructure, InvalidAuthenticationResponse, ValueError, TypeError, AttributeError, KeyError):
            return PasskeyCheck(False, "invalid")
        credential_id = bytes_to_base64url(parsed.raw_id)
        with self.db.read() as s:
            found = s.execute(
                select(PasskeyCredential, Factor)
                .join(Factor, Factor.id == PasskeyCredential.factor_id)
                .where(PasskeyCredential.tenant_id == tenant.id, PasskeyCredential.credential_id == credential_id, Factor.removed_at.is_(None))
            ).first()
        if found is None:
            self._refused(tenant, user, request, "unknown_credential")
            return PasskeyCheck(False, "unknown_credential")
        credential, factor = found
        handle = parsed.response.user_handle
        if (user is not None and credential.user_id != user.id) or (handle is not None and bytes_to_base64url(handle) != credential.user_handle):
            self._refused(tenant, user, request, "unknown_credential")
            return PasskeyCheck(False, "unknown_credential")
        try:
            verified = verify_authentication_response(
                credential=parsed,
                expected_challenge=base64url_to_bytes(pending["challenge"]),
                expected_rp_id=self.rp_id(tenant),
                expected_origin=self.expected_origin(tenant),
                credential_public_key=credential.public_key,
                credential_current_sign_count=0,  # the counter is compared below, to tell a clone from a bad answer
                require_user_verification=True,
            )
        except InvalidAuthenticationResponse as exc:
            reason = "user_not_verified" if "verif" in str(exc).lower() and "signature" not in str(exc).lower() else "invalid"
            self._refused(tenant, user, request, reason, factor_id=factor.id, holder=credential.user_id)
            return PasskeyCheck(False, reason, credential.user_id, factor.id)
        owner = self._owner(tenant, credential.user_id)
        if owner is None:
            return PasskeyCheck(False, "unknown_credential")
        new_count = verified.new_sign_count
        if (new_count > 0 or credential.sign_count > 0) and new_count <= credential.sign_count:
            log.warning("passkey sign count went back: tenant=%s user=%s factor=%s", tenant.slug, owner.id, factor.id)
            self._audit(
                None, tenant, owner, "factor.passkey_clone_suspected", request, factor_id=factor.id, factor_type=PASSKEY,
                stored_count=credential.sign_count, presented_count=new_count,
            )  # fmt: skip
            return PasskeyCheck(False, "cloned", owner.id, factor.id)
        with self.db.session() as s:
            s.execute(
                update(PasskeyCredential)
                .where(PasskeyCredential.id == credential.id)
                .values(sign_count=new_count, backed_up=verified.credential_backed_up)
                .execution_options(synchronize_session=False)
            )
            s.execute(update(Factor).where(Factor.id == factor.id).values(last_used_at=_now()).execution_options(synchronize_session=False))
            if ok_event:
                self._audit(s, tenant, owner, ok_event, request, factor_id=factor.id, **(ok_details or {}))
        method = AMR_SWK if credential.backup_eligible else AMR_HWK
        return PasskeyCheck(True, "ok", owner.id, factor.id, method)

    def _owner(self, tenant: TenantView, user_id: int) -> User | None:
        with self.db.read() as s:
            row = s.get(User, user_id)
            return row if row is not None and row.tenant_id == tenant.id and row.status == "active" else None

    def _refused(self, tenant: TenantView, user: User | None, request: RequestInfo | None, reason: str, factor_id: str = "", holder: int | None = None) -> None:
        """A refused assertion is audited (R-46) against the account it names, when one is known."""
        self.audit.record(
            tenant.id,
            "login.passkey_refused",
            user_id=user.id if user is not None else holder,
            actor=f"user:{user.id}" if user is not None else "anonymous",
            client_ip=request.client_ip if request else "",
            user_agent=request.user_agent if request else "",
            reason=reason,
            factor_id=factor_id,
        )


def _transports(values: list[str] | None) -> list[AuthenticatorTransport] | None:
    found = [AuthenticatorTransport(t) for t in values or () if t in _TRANSPORTS]
    return found or None
