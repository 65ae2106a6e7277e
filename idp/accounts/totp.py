"""TOTP authenticators of :class:`~idp.accounts.factors.FactorService`: enrolment and verification (R-79 to R-85).

See :mod:`idp.accounts.factors` for the rules; this module holds the TOTP half of the service.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import pyotp
from sqlalchemy import Table, bindparam, update

from idp.accounts.factor_results import (
    FactorError,
    FactorParts,
    PendingTotp,
    TotpCheck,
    UserFactors,
    _now,
    normalise_code,
    random_uuid,
)
from idp.storage.models import Factor, User

if TYPE_CHECKING:  # pragma: no cover

    from idp.request_info import RequestInfo
    from idp.tenants.service import TenantView


log = logging.getLogger("idp.factors")

#: TOTP parameters (R-79): never changed per tenant, for authenticator-app compatibility.
TOTP_DIGITS = 6
TOTP_INTERVAL = 30
#: Steps of drift accepted either side of now (R-81: never wider than 1).
TOTP_VALID_WINDOW = 1
#: How long the last accepted step of a credential is kept (R-82: 90 s or more).
TOTP_REPLAY_TTL = 150
#: Shortest secret accepted from outside (R-80: 128 bits = 26 base32 characters).
MIN_SECRET_BITS = 128

#: A factor's last use (R-14), a Core update (:meth:`TotpFactors._touch`).
_FACTORS = cast(Table, Factor.__table__)
_TOUCH = update(_FACTORS).where(_FACTORS.c.id == bindparam("factor_id")).values(last_used_at=bindparam("used_at"))

_SECRET_PURPOSE = "totp-secret"
_PENDING_PURPOSE = "totp-pending"


class TotpFactors(FactorParts):
    """The TOTP part of :class:`~idp.accounts.factors.FactorService` (a mixin: it shares its ``services``)."""

    # -- TOTP -------------------------------------------------------------------

    def _issuer(self, tenant: TenantView) -> str:
        return tenant.brand_name

    def otpauth_uri(self, tenant: TenantView, user: User, secret: str) -> str:
        """``otpauth://totp/Issuer:username?secret=...&issuer=Issuer`` (R-85: shown, never emailed)."""
        return pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL).provisioning_uri(
            name=user.username, issuer_name=self._issuer(tenant)
        )

    def begin_totp_enrolment(self, tenant: TenantView, user: User) -> PendingTotp:
        """A fresh 160-bit secret and its URI (R-80); nothing is saved."""
        secret = pyotp.random_base32()
        return PendingTotp(secret=secret, uri=self.otpauth_uri(tenant, user, secret), issuer=self._issuer(tenant), label=user.username)

    def seal_pending(self, secret: str) -> str:
        """Encrypt a pending secret for keeping in flow state (R-84: never stored in clear)."""
        return self.secrets.encrypt(secret.encode(), _PENDING_PURPOSE)

    def open_pending(self, sealed: str) -> str:
        return self.secrets.decrypt(sealed, _PENDING_PURPOSE).decode()

    def confirm_totp_enrolment(
        self,
        tenant: TenantView,
        user: User,
        secret: str,
        code: str,
        replace_existing: bool = False,
        label: str = "",
        actor: str = "",
        request: RequestInfo | None = None,
    ) -> Factor:
        """Save the TOTP factor of ``secret`` once ``code`` from it is valid (R-85).

        With ``replace_existing`` every earlier active factor (TOTP and SMS) is
        removed in the same transaction as the new one is saved, and the replay
        state of removed TOTP factors is dropped (R-98). Raises
        :class:`FactorError` ``invalid_code`` (nothing written) on a wrong code.
        """
        step = self._matching_step(secret, normalise_code(code))
        if step is None:
            raise FactorError("invalid_code", "the code does not match the new authenticator")
        factor = Factor(
            id=random_uuid(),
            tenant_id=tenant.id,
            user_id=user.id,
            type="totp",
            label=(label or "Authenticator")[:200],
            secret_encrypted=self._seal(secret),
            created_by=(actor or f"user:{user.id}")[:200],
            last_used_at=_now(),
        )
        removed: list[Factor] = []
        with self.db.session() as s:
            if replace_existing:
                removed = self._remove_all(s, tenant, user, actor or f"user:{user.id}", request, reason="replaced")
            s.add(factor)
            self._audit(s, tenant, user, "factor.enrolled", request, actor=actor, factor_id=factor.id, factor_type="totp", replaced=len(removed))
        self._drop_replay_state(tenant, removed)
        # the first code is now spent for this credential
        self.store.advance(self._replay_key(tenant, factor.id), step, TOTP_REPLAY_TTL)
        return factor

    def add_totp(
        self, tenant: TenantView, user: User, secret: str | None = None, label: str = "", actor: str = "cli"
    ) -> tuple[Factor, str]:
        """Bind a TOTP factor directly (operators, tests); returns it and its ``otpauth://`` URI."""
        if secret is None:
            secret = pyotp.random_base32()
        else:
            secret = secret.replace(" ", "").upper().rstrip("=")
            try:
                raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
            except (binascii.Error, ValueError):
                raise FactorError("invalid_secret", "the secret must be base32 (letters A-Z and digits 2-7)") from None
            if len(raw) * 8 < MIN_SECRET_BITS:
                raise FactorError("invalid_secret", f"the secret must carry at least {MIN_SECRET_BITS} bits (26 base32 characters)")
        factor = Factor(
            id=random_uuid(),
            tenant_id=tenant.id,
            user_id=user.id,
            type="totp",
            label=(label or "Authenticator")[:200],
            secret_encrypted=self._seal(secret),
            created_by=actor[:200],
        )
        with self.db.session() as s:
            s.add(factor)
            self._audit(s, tenant, user, "factor.enrolled", None, actor=actor, factor_id=factor.id, factor_type="totp")
        return factor, self.otpauth_uri(tenant, user, secret)

    def verify_totp(
        self,
        tenant: TenantView,
        user: User,
        code: str,
        request: RequestInfo | None = None,
        known: UserFactors | None = None,
        ok_event: str = "",
        ok_details: Mapping[str, Any] | None = None,
    ) -> TotpCheck:
        """Check ``code`` against the user's TOTP factors; a step is accepted once per credential (R-82, R-36).

        ``known``: the user's factors as this request already read them (:meth:`of_user`). ``ok_event``: an
        audit event (with ``ok_details``) written on success in the transaction that records the factor's use.
        """
        code = normalise_code(code)
        factors = self._rows(tenant, user, "totp", known)
        if not factors:
            return TotpCheck(False, "no_factor")
        if len(code) != TOTP_DIGITS or not code.isdigit():
            return TotpCheck(False, "invalid")
        for factor in factors:
            step = self._matching_step(self._open(factor), code)
            if step is None:
                continue
            key = self._replay_key(tenant, factor.id)
            if self.store.advance(key, step, TOTP_REPLAY_TTL):
                self._touch(factor, tenant, user, request, ok_event, ok_details or {})
                return TotpCheck(True, "ok", factor.id)
            if self.store.counter(key) == step:
                self._replayed(tenant, user, factor, request)
                return TotpCheck(False, "replay", factor.id)
            # an older step than one already accepted: stale, refused like a wrong code (another factor may still match)
        return TotpCheck(False, "invalid")

    def _matching_step(self, secret: str, code: str, now: float | None = None) -> int | None:
        """The time step (counter) whose code is ``code`` within ``valid_window`` of now, or None (R-81)."""
        if len(code) != TOTP_DIGITS or not code.isdigit():
            return None
        totp = pyotp.TOTP(secret, digits=TOTP_DIGITS, interval=TOTP_INTERVAL)
        current = totp.timecode(datetime.fromtimestamp(now if now is not None else time.time(), UTC))
        found = None
        for step in range(current - TOTP_VALID_WINDOW, current + TOTP_VALID_WINDOW + 1):
            if hmac.compare_digest(totp.generate_otp(step), code):
                found = step  # keep scanning: constant work whatever matched
        return found

    def _replay_key(self, tenant: TenantView, factor_id: str) -> str:
        return f"{tenant.slug}:totp-step:{factor_id}"

    def _seal(self, secret: str) -> str:
        return self.secrets.encrypt(secret.encode(), _SECRET_PURPOSE)

    def _open(self, factor: Factor) -> str:
        return self.secrets.decrypt(factor.secret_encrypted, _SECRET_PURPOSE).decode()

    def _touch(
        self,
        factor: Factor,
        tenant: TenantView,
        user: User,
        request: RequestInfo | None,
        event: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Record the factor's last use (R-14), with the caller's audit event in the same transaction (two Core
        statements in one :meth:`~idp.storage.database.Database.write`: no ORM unit of work)."""
        operations: list[tuple[Any, dict[str, Any]]] = [(_TOUCH, {"factor_id": factor.id, "used_at": _now()})]
        if event:
            row = self.audit.insert(
                tenant.id,
                event,
                user_id=user.id,
                client_ip=request.client_ip if request else "",
                user_agent=request.user_agent if request else "",
                **(details or {}),
            )
            operations.append((self.audit.INSERT, row))
        self.db.write(*operations)
        if event:
            self.audit.announce([(tenant.id, event, operations[1][1]["details"])])

    def _replayed(self, tenant: TenantView, user: User, factor: Factor, request: RequestInfo | None) -> None:
        log.warning("totp replay refused: tenant=%s user=%s factor=%s", tenant.slug, user.id, factor.id)
        self._audit(None, tenant, user, "factor.totp_replay", request, factor_id=factor.id, factor_type="totp")
        self.notify(tenant, user, "totp_replay_notice", request)

    def _drop_replay_state(self, tenant: TenantView, removed: list[Factor]) -> None:
        for f in removed:
            if f.type == "totp":
                self.store.destroy(self._replay_key(tenant, f.id))
