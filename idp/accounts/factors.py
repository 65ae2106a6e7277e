"""Second factors: TOTP authenticators and SMS codes, with their whole lifecycle (R-14).

- **TOTP** (pyotp): SHA1, 6 digits, 30 s, ``valid_window=1``, 160-bit secrets from
  ``pyotp.random_base32()`` (R-79 to R-81), encrypted at rest (R-84). A step is
  accepted at most once per credential: the last accepted step is advanced
  atomically in the ephemeral store (R-82), so of two parallel requests with the
  same code exactly one succeeds; a replay is logged, refused and the holder is
  told (R-36).
- **Enrolment** is two calls: :meth:`FactorService.begin_totp_enrolment` makes a
  pending secret and its ``otpauth://`` URI and saves nothing;
  :meth:`FactorService.confirm_totp_enrolment` saves the factor only once a first
  code from it is valid, and with ``replace_existing=True`` removes every earlier
  factor in the same database transaction (R-85, R-98).
- **SMS codes**: 6 digits from ``secrets`` (R-11), stored as a keyed hash in the
  ephemeral store, bound to the flow that asked, lifetime ``sms.code_ttl``, single
  use, voided after ``sms.max_attempts`` wrong tries, voided by a resend, with a
  resend cool-down (R-35, R-53). Sent only to a verified number (R-10, R-37),
  within per-number, per-account and per-tenant daily caps and the tenant's
  allowed country codes (R-89). A failed send voids the code it carried.

Phone numbers: the user's *number on file* (``users.phone`` with
``phone_verified``) is contact data; an **SMS factor** (a row of type ``sms``,
made by :meth:`FactorService.set_phone`) is what makes SMS usable as a login
second factor. The recovery flow sends its code to the number on file
(:meth:`FactorService.phone_on_file`).

Removed factors keep their row with ``removed_at`` and ``removed_by`` (R-14).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import phonenumbers
import pyotp
from sqlalchemy import select, update

from idp.security.secrets import random_digits, random_token
from idp.storage.models import Factor, User

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import Session

    from idp.flowengine.contract import RequestInfo
    from idp.services import Services
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

_SECRET_PURPOSE = "totp-secret"
_PENDING_PURPOSE = "totp-pending"
_SMS_PURPOSE = "sms-code"
_DAY = 86400


class FactorError(ValueError):
    """A factor operation was refused; ``code`` is a stable message id the steps show, ``str()`` one plain line."""

    def __init__(self, code: str, message: str, status: int = 400, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.params = params


class SmsError(FactorError):
    """An SMS code could not be sent. Codes:

    ``no_phone``, ``sms_not_allowed`` (the tenant does not allow SMS), ``sms_country_not_allowed``,
    ``sms_cooldown`` (``params["retry_after"]``), ``sms_cap_reached``, ``sms_opted_out``,
    ``sms_refused`` (the provider refused the message), ``sms_delivery_failed`` (transient).
    """


# -- results ---------------------------------------------------------------------


@dataclass(frozen=True)
class PendingTotp:
    """A TOTP secret offered for enrolment; nothing is saved until a first code confirms it."""

    secret: str
    uri: str
    issuer: str
    label: str

    @property
    def grouped_secret(self) -> str:
        """The key in groups of 4 for typing by hand (``ABCD EFGH ...``)."""
        return group_secret(self.secret)


@dataclass(frozen=True)
class UserFactors:
    """One user's active factors as read at one moment (oldest first), for several decisions in one request."""

    user_id: int
    rows: tuple[Factor, ...]

    def of_type(self, type: str) -> list[Factor]:
        return [f for f in self.rows if f.type == type]


@dataclass(frozen=True)
class TotpCheck:
    """The result of :meth:`FactorService.verify_totp`; true when the code was accepted."""

    ok: bool
    #: ``ok``, ``invalid`` (no factor's code), ``replay`` (a code already used) or ``no_factor``.
    reason: str
    factor_id: str = ""

    def __bool__(self) -> bool:
        return self.ok


@dataclass(frozen=True)
class SmsSent:
    """A code was sent."""

    masked_number: str
    expires_in: int
    resend_in: int


@dataclass(frozen=True)
class SmsCheck:
    """The result of :meth:`FactorService.verify_sms_code`; true when the code was accepted."""

    ok: bool
    #: ``ok``, ``invalid`` (wrong code, tries left), ``exhausted`` (that was the last try: the code is void),
    #: ``expired`` (no live code for this flow: expired, used, voided or never sent).
    reason: str
    attempts_left: int = 0

    def __bool__(self) -> bool:
        return self.ok


def group_secret(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def normalise_code(code: str) -> str:
    """Digits of a typed code (spaces and dashes dropped)."""
    return "".join(c for c in (code or "") if c not in " -\u00a0\t")


def mask_phone(number: str) -> str:
    try:
        from idp.messaging.masking import mask_phone as _mask

        return _mask(number)
    except ImportError:  # pragma: no cover - messaging ships with the package
        return "+" + number[1:3] + "*" * max(0, len(number) - 5) + number[-2:]


def _now() -> datetime:
    return datetime.now(UTC)


class FactorService:
    """Second factors of users; every rule about them is here (steps, CLI and admin API call it)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    # -- reading ----------------------------------------------------------------

    def active(self, tenant: TenantView, user: User, type: str | None = None) -> list[Factor]:
        """The user's active factors (optionally of one ``type``: ``totp`` or ``sms``), oldest first."""
        with self.services.db.read() as s:
            q = select(Factor).where(Factor.tenant_id == tenant.id, Factor.user_id == user.id, Factor.removed_at.is_(None))
            if type is not None:
                q = q.where(Factor.type == type)
            return list(s.scalars(q.order_by(Factor.created_at, Factor.id)))

    def history(self, tenant: TenantView, user: User) -> list[Factor]:
        """Every factor ever bound to the user, removed ones included (R-14)."""
        with self.services.db.read() as s:
            q = select(Factor).where(Factor.tenant_id == tenant.id, Factor.user_id == user.id)
            return list(s.scalars(q.order_by(Factor.created_at, Factor.id)))

    def get(self, tenant: TenantView, user: User, factor_id: str) -> Factor | None:
        with self.services.db.read() as s:
            return s.scalar(
                select(Factor).where(Factor.tenant_id == tenant.id, Factor.user_id == user.id, Factor.id == factor_id)
            )

    def of_user(self, tenant: TenantView, user: User) -> UserFactors:
        """The user's active factors in one read, to pass as ``known`` to the checks below within one request."""
        return UserFactors(user.id, tuple(self.active(tenant, user)))

    def _rows(self, tenant: TenantView, user: User, type: str, known: UserFactors | None) -> list[Factor]:
        if known is not None and known.user_id == user.id:
            return known.of_type(type)
        return self.active(tenant, user, type)

    def has_totp(self, tenant: TenantView, user: User, known: UserFactors | None = None) -> bool:
        return bool(self._rows(tenant, user, "totp", known))

    def sms_number(self, tenant: TenantView, user: User, known: UserFactors | None = None) -> str | None:
        """The number of the user's active SMS factor, when the tenant allows SMS as a second factor (R-37)."""
        if not tenant.config.sms.allowed_as_second_factor:
            return None
        rows = self._rows(tenant, user, "sms", known)
        return rows[-1].phone if rows and rows[-1].phone else None

    def phone_on_file(self, tenant: TenantView, user: User) -> str | None:
        """The user's verified number on file (for recovery codes and notices), or None (R-10)."""
        fresh = self.services.users.get(tenant, user.id)
        if fresh is None or not fresh.phone or not fresh.phone_verified:
            return None
        return fresh.phone

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
        return self.services.secrets.encrypt(secret.encode(), _PENDING_PURPOSE)

    def open_pending(self, sealed: str) -> str:
        return self.services.secrets.decrypt(sealed, _PENDING_PURPOSE).decode()

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
        with self.services.db.session() as s:
            if replace_existing:
                removed = self._remove_all(s, tenant, user, actor or f"user:{user.id}", request, reason="replaced")
            s.add(factor)
            self._audit(s, tenant, user, "factor.enrolled", request, actor=actor, factor_id=factor.id, factor_type="totp", replaced=len(removed))
        self._drop_replay_state(tenant, removed)
        # the first code is now spent for this credential
        self.services.store.advance(self._replay_key(tenant, factor.id), step, TOTP_REPLAY_TTL)
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
        with self.services.db.session() as s:
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
            if self.services.store.advance(key, step, TOTP_REPLAY_TTL):
                self._touch(factor, tenant, user, request, ok_event, ok_details or {})
                return TotpCheck(True, "ok", factor.id)
            if self.services.store.counter(key) == step:
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
        return self.services.secrets.encrypt(secret.encode(), _SECRET_PURPOSE)

    def _open(self, factor: Factor) -> str:
        return self.services.secrets.decrypt(factor.secret_encrypted, _SECRET_PURPOSE).decode()

    def _touch(
        self,
        factor: Factor,
        tenant: TenantView,
        user: User,
        request: RequestInfo | None,
        event: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Record the factor's last use (R-14), with the caller's audit event in the same transaction."""
        with self.services.db.session() as s:
            s.execute(update(Factor).where(Factor.id == factor.id).values(last_used_at=_now()))
            if event:
                self.services.audit.record(
                    tenant.id,
                    event,
                    user_id=user.id,
                    client_ip=request.client_ip if request else "",
                    user_agent=request.user_agent if request else "",
                    session=s,
                    **(details or {}),
                )

    def _replayed(self, tenant: TenantView, user: User, factor: Factor, request: RequestInfo | None) -> None:
        log.warning("totp replay refused: tenant=%s user=%s factor=%s", tenant.slug, user.id, factor.id)
        self._audit(None, tenant, user, "factor.totp_replay", request, factor_id=factor.id, factor_type="totp")
        self.notify(tenant, user, "totp_replay_notice", request)

    def _drop_replay_state(self, tenant: TenantView, removed: list[Factor]) -> None:
        for f in removed:
            if f.type == "totp":
                self.services.store.destroy(self._replay_key(tenant, f.id))

    # -- lifecycle --------------------------------------------------------------

    def remove_factor(
        self, tenant: TenantView, user: User, factor_id: str, actor: str = "", request: RequestInfo | None = None
    ) -> Factor:
        """Remove one active factor; its row stays with ``removed_at``/``removed_by`` (R-14, R-34)."""
        with self.services.db.session() as s:
            row = s.scalar(
                select(Factor).where(
                    Factor.tenant_id == tenant.id, Factor.user_id == user.id, Factor.id == factor_id, Factor.removed_at.is_(None)
                )
            )
            if row is None:
                raise FactorError("not_found", f"no active factor {factor_id!r} for user {user.username!r}", status=404)
            row.removed_at = _now()
            row.removed_by = (actor or f"user:{user.id}")[:200]
            self._audit(s, tenant, user, "factor.removed", request, actor=actor, factor_id=row.id, factor_type=row.type)
        self._drop_replay_state(tenant, [row])
        return row

    def _remove_all(
        self, s: Session, tenant: TenantView, user: User, actor: str, request: RequestInfo | None, reason: str, type: str | None = None
    ) -> list[Factor]:
        q = select(Factor).where(Factor.tenant_id == tenant.id, Factor.user_id == user.id, Factor.removed_at.is_(None))
        if type is not None:
            q = q.where(Factor.type == type)
        rows = list(s.scalars(q))
        for row in rows:
            row.removed_at = _now()
            row.removed_by = actor[:200]
            self._audit(s, tenant, user, "factor.removed", request, actor=actor, factor_id=row.id, factor_type=row.type, reason=reason)
        return rows

    def set_phone(
        self, tenant: TenantView, user: User, phone: str, actor: str = "", request: RequestInfo | None = None
    ) -> Factor:
        """Bind ``phone`` as the user's SMS factor and verified number on file (R-10: a new number is a new binding).

        The earlier SMS factor, if any, is removed in the same transaction.
        """
        from idp.accounts.users import normalise_phone

        number = normalise_phone(phone, tenant.config.sms.allowed_country_codes)
        factor = Factor(
            id=random_uuid(),
            tenant_id=tenant.id,
            user_id=user.id,
            type="sms",
            label=mask_phone(number),
            phone=number,
            created_by=(actor or f"user:{user.id}")[:200],
        )
        with self.services.db.session() as s:
            row = s.get(User, user.id)
            if row is None or row.tenant_id != tenant.id:
                raise FactorError("not_found", f"no user {user.id} in tenant {tenant.slug!r}", status=404)
            self._remove_all(s, tenant, user, actor or f"user:{user.id}", request, reason="number_changed", type="sms")
            row.phone = number
            row.phone_verified = True
            s.add(factor)
            self._audit(s, tenant, user, "factor.enrolled", request, actor=actor, factor_id=factor.id, factor_type="sms")
        return factor

    # -- SMS codes --------------------------------------------------------------

    def _sms_key(self, tenant: TenantView, user: User) -> str:
        return f"{tenant.slug}:sms-code:{user.id}"

    def sms_code_pending(self, tenant: TenantView, user: User, binding: str) -> bool:
        """Whether a live code sent for ``binding`` (the flow id) awaits entry."""
        rec = self.services.store.find(self._sms_key(tenant, user))
        return rec is not None and rec.get("binding") == binding

    def send_sms_code(
        self,
        tenant: TenantView,
        user: User,
        binding: str,
        *,
        to: str | None = None,
        locale: str | None = None,
        sender_id: str = "",
        request: RequestInfo | None = None,
    ) -> SmsSent:
        """Send a fresh code for ``binding`` to ``to`` (default: the user's SMS factor); voids the previous code.

        ``to`` must be a verified number of the user (:meth:`sms_number` or
        :meth:`phone_on_file`); any other number is refused (R-10, R-37).
        Raises :class:`SmsError`; a code whose message failed is voided.
        """
        cfg = tenant.config.sms
        allowed_numbers = {n for n in (self.sms_number(tenant, user), self.phone_on_file(tenant, user)) if n}
        number = to if to is not None else self.sms_number(tenant, user)
        if not number or number not in allowed_numbers:
            raise SmsError("no_phone", "no verified phone number is on file for this account")
        try:
            cc = str(phonenumbers.parse(number, None).country_code)
        except phonenumbers.NumberParseException:
            raise SmsError("no_phone", "the number on file is not a valid phone number") from None
        if cfg.allowed_country_codes and cc not in cfg.allowed_country_codes:
            raise SmsError("sms_country_not_allowed", f"SMS to +{cc} numbers is not allowed for this tenant")
        store = self.services.store
        prefix = f"{tenant.slug}:sms"
        cooldown_key = f"{prefix}:cooldown:{user.id}"
        if cfg.resend_cooldown > 0 and store.incr(cooldown_key, cfg.resend_cooldown) > 1:
            prev = store.find(self._sms_key(tenant, user))
            retry = cfg.resend_cooldown - int(time.time() - float(prev["sent_at"])) if prev else cfg.resend_cooldown
            raise SmsError("sms_cooldown", "wait before asking for another code", status=429, retry_after=max(1, retry))
        caps = (
            (f"{prefix}:day:number:{self.services.secrets.digest(number, 'sms-number')[:32]}", cfg.per_number_daily_cap),
            (f"{prefix}:day:account:{user.id}", cfg.per_account_daily_cap),
            (f"{prefix}:day:tenant", cfg.per_tenant_daily_cap),
        )
        counted: list[str] = []
        for key, cap in caps:
            counted.append(key)
            if store.incr(key, _DAY) > cap:
                for k in counted:
                    store.incr(k, _DAY, -1)
                store.destroy(cooldown_key)
                self._audit(None, tenant, user, "sms.cap_reached", request, cap=key.split(":")[3])
                raise SmsError("sms_cap_reached", "too many codes were sent today; try again tomorrow", status=429)
        from idp.messaging import (
            Brand,
            DeliveryFailed,
            DeliveryRefused,
            Sms,
            render_sms,
        )

        texter = self.services.texter  # it refuses an opted-out number before publishing: no second check here
        code = random_digits(TOTP_DIGITS)
        code_id = random_token(9)
        key = self._sms_key(tenant, user)
        now = time.time()
        # overwriting the record voids any previous code of this user
        store.upsert(
            key,
            {"id": code_id, "binding": binding, "digest": self.services.secrets.digest(code, _SMS_PURPOSE), "sent_at": now},
            cfg.code_ttl,
        )
        lang = locale or user.locale or tenant.config.default_locale
        try:
            text = render_sms("sms_code", lang, brand=Brand.of(tenant), code=code, expires_minutes=max(1, cfg.code_ttl // 60))
            texter.send(Sms(number, text, sender_id or cfg.sender_id))
        except DeliveryRefused as exc:
            store.destroy(key)  # a failed send voids the code it carried
            store.destroy(cooldown_key)
            self._audit(None, tenant, user, "sms.refused", request, reason=exc.reason)
            if exc.reason == "opted-out":
                raise SmsError("sms_opted_out", "this phone number has opted out of text messages") from None
            raise SmsError("sms_refused", "the text message was refused by the provider") from None
        except DeliveryFailed as exc:
            store.destroy(key)
            store.destroy(cooldown_key)
            self._audit(None, tenant, user, "sms.failed", request, reason=exc.reason)
            raise SmsError("sms_delivery_failed", "the text message could not be sent; try again later", status=503) from None
        except BaseException:
            store.destroy(key)
            store.destroy(cooldown_key)
            raise
        self._audit(None, tenant, user, "sms.code_sent", request, to=mask_phone(number), binding_flow=binding[:8])
        return SmsSent(masked_number=mask_phone(number), expires_in=cfg.code_ttl, resend_in=cfg.resend_cooldown)

    def verify_sms_code(self, tenant: TenantView, user: User, binding: str, code: str) -> SmsCheck:
        """Check a code sent for ``binding``; single use, voided after ``sms.max_attempts`` wrong tries (R-11, R-53)."""
        cfg = tenant.config.sms
        store = self.services.store
        key = self._sms_key(tenant, user)
        rec = store.find(key)
        if rec is None or rec.get("binding") != binding:
            return SmsCheck(False, "expired")
        tries = store.incr(f"{key}:tries:{rec['id']}", cfg.code_ttl)
        if tries > cfg.max_attempts:
            self._void_if(key, rec["id"])
            return SmsCheck(False, "expired")
        if self.services.secrets.matches(normalise_code(code), rec["digest"], _SMS_PURPOSE):
            taken = store.take(key)  # exactly one caller gets it: single use
            if taken is None or taken.get("id") != rec["id"]:
                return SmsCheck(False, "expired")
            return SmsCheck(True, "ok")
        left = cfg.max_attempts - tries
        if left <= 0:
            self._void_if(key, rec["id"])
            return SmsCheck(False, "exhausted")
        return SmsCheck(False, "invalid", attempts_left=left)

    def _void_if(self, key: str, code_id: str) -> None:
        """Void the live code if it is still ``code_id`` (not a newer one)."""
        rec = self.services.store.find(key)
        if rec is not None and rec.get("id") == code_id:
            self.services.store.destroy(key)

    # -- notices and audit ------------------------------------------------------

    def notify(self, tenant: TenantView, user: User, template: str, request: RequestInfo | None = None, **context: Any) -> bool:
        """Mail ``template`` to the user (R-29, R-36, R-55); best effort, never raises. True when sent."""
        fresh = self.services.users.get(tenant, user.id) or user
        if not fresh.email:
            return False
        try:
            from idp.messaging import Brand, Email, render

            lang = fresh.locale or (request.locale if request else "") or tenant.config.default_locale
            when = datetime.fromtimestamp(request.now if request else time.time(), UTC)
            rendered = render(template, lang, brand=Brand.of(tenant), when=when, browser=request.user_agent if request else "", **context)
            self.services.mailer.send(
                Email(
                    to=fresh.email,
                    subject=rendered.subject,
                    text=rendered.text,
                    html=rendered.html,
                    from_address=tenant.config.mail.from_address,
                    configuration_set=tenant.config.mail.configuration_set,
                    tags={"kind": template.replace("_", "-")},
                )
            )
            return True
        except Exception:
            log.exception("notice %s to user %s of %s could not be sent", template, user.id, tenant.slug)
            return False

    def _audit(
        self, s: Session | None, tenant: TenantView, user: User, type: str, request: RequestInfo | None, actor: str = "", **details: Any
    ) -> None:
        self.services.audit.record(
            tenant.id,
            type,
            user_id=user.id,
            actor=actor or f"user:{user.id}",
            client_ip=request.client_ip if request else "",
            user_agent=request.user_agent if request else "",
            session=s,
            **details,
        )


def random_uuid() -> str:
    import uuid

    return str(uuid.uuid4())
