"""SMS codes of :class:`~idp.accounts.factors.FactorService`: sending and checking one-time codes (R-11, R-35, R-53, R-89).

See :mod:`idp.accounts.factors` for the rules; this module holds the SMS-code half of the service.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import phonenumbers

from idp.accounts.factor_results import (
    FactorParts,
    SmsCheck,
    SmsError,
    SmsSent,
    mask_phone,
    normalise_code,
)
from idp.accounts.totp import TOTP_DIGITS
from idp.security.secrets import random_digits, random_token
from idp.storage.models import User

if TYPE_CHECKING:  # pragma: no cover

    from idp.messaging import Texter
    from idp.request_info import RequestInfo
    from idp.tenants.service import TenantView


_SMS_PURPOSE = "sms-code"
_DAY = 86400


class SmsCodes(FactorParts):
    """The SMS-code part of :class:`~idp.accounts.factors.FactorService` (a mixin: it shares its ``services``)."""

    texter: Texter

    # -- SMS codes --------------------------------------------------------------

    def _sms_key(self, tenant: TenantView, user: User) -> str:
        return f"{tenant.slug}:sms-code:{user.id}"

    def sms_code_pending(self, tenant: TenantView, user: User, binding: str) -> bool:
        """Whether a live code sent for ``binding`` (the flow id) awaits entry."""
        rec = self.store.find(self._sms_key(tenant, user))
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
        store = self.store
        prefix = f"{tenant.slug}:sms"
        cooldown_key = f"{prefix}:cooldown:{user.id}"
        if cfg.resend_cooldown > 0 and store.incr(cooldown_key, cfg.resend_cooldown) > 1:
            prev = store.find(self._sms_key(tenant, user))
            retry = cfg.resend_cooldown - int(time.time() - float(prev["sent_at"])) if prev else cfg.resend_cooldown
            raise SmsError("sms_cooldown", "wait before asking for another code", status=429, retry_after=max(1, retry))
        caps = (
            (f"{prefix}:day:number:{self.secrets.digest(number, 'sms-number')[:32]}", cfg.per_number_daily_cap),
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

        texter = self.texter  # it refuses an opted-out number before publishing: no second check here
        code = random_digits(TOTP_DIGITS)
        code_id = random_token(9)
        key = self._sms_key(tenant, user)
        now = time.time()
        # overwriting the record voids any previous code of this user
        store.upsert(
            key,
            {"id": code_id, "binding": binding, "digest": self.secrets.digest(code, _SMS_PURPOSE), "sent_at": now},
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
        store = self.store
        key = self._sms_key(tenant, user)
        rec = store.find(key)
        if rec is None or rec.get("binding") != binding:
            return SmsCheck(False, "expired")
        tries = store.incr(f"{key}:tries:{rec['id']}", cfg.code_ttl)
        if tries > cfg.max_attempts:
            self._void_if(key, rec["id"])
            return SmsCheck(False, "expired")
        if self.secrets.matches(normalise_code(code), rec["digest"], _SMS_PURPOSE):
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
        rec = self.store.find(key)
        if rec is not None and rec.get("id") == code_id:
            self.store.destroy(key)
