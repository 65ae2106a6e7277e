"""The SMS-code step (``sms``): « Saisir le code à 6 chiffres. » (seed screen 6).

Two uses:

- **Login** (default): a :data:`SECOND_FACTOR` step configured for a user with an SMS factor where the
  tenant allows SMS (``sms.allowed_as_second_factor``); bound as the alternative after TOTP, it runs
  when the TOTP step did not prove a factor (the user chose "Use an SMS code instead", or has no
  authenticator), never first when TOTP exists (R-30, R-37).
- **Recovery** (``Config(only_path=True)``, bound ``REQUIRED``): it sends the code to the verified
  number on file, and there is no other way through; no number, an opted-out number or a reached cap
  ends the run with a plain message and the support link (R-43, R-91).

The first display sends a code bound to this run (the flow id), for
``sms.code_ttl`` seconds; the page shows the masked number, a ``code`` field,
« Continuer », and a resend button posting ``action=resend`` (voids the
previous code; cool-down ``sms.resend_cooldown``). Codes are single use and
void after ``sms.max_attempts`` wrong tries (R-11, R-35, R-53); the engine also
throttles attempts per account and per (account, address), audits them and
sends the failed-second-factor notice (:attr:`SmsStep.attempts`, R-06, R-55).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flows.steps.errors import texts_of
from flows.steps.totp import audit, second_factor_amr
from idp.flowengine.contract import (
    AMR_SMS,
    N_,
    SECOND_FACTOR,
    Abort,
    Attempts,
    Challenge,
    ConfigError,
    Failure,
    Outcome,
    SmsError,
    Step,
    StepContext,
    Success,
)

#: Message ids the page shows for the service's refusals (idp/web/messages.py).
SEND_ERRORS = {
    "no_phone": "no_phone",
    "sms_not_allowed": "sms_unavailable",
    "sms_country_not_allowed": "sms_unavailable",
    "sms_refused": "sms_unavailable",
    "sms_delivery_failed": "sms_unavailable",
    "sms_opted_out": "sms_opted_out",
    "sms_cap_reached": "sms_cap_reached",
    "sms_cooldown": "sms_cooldown",
}


class SmsStep(Step):
    """A 6-digit code sent by SMS to the user's verified number."""

    name = "sms"
    designation = SECOND_FACTOR
    another_way = N_("Use an SMS code instead")
    requires = ("password",)
    provides = ("sms",)
    template = "steps/sms.html"
    errors = texts_of("code_expired", "code_exhausted", "no_phone", "sms_unavailable", "sms_cooldown", "sms_cap_reached", "sms_opted_out")
    attempts = Attempts(factor="sms")

    @dataclass(frozen=True)
    class Config:
        """Settings of the ``sms`` step in a flow binding."""

        #: Recovery: send to the verified number on file, no alternative path.
        only_path: bool = False
        #: Sender ID of these messages (empty: the tenant's ``sms.sender_id``).
        sender_id: str = ""
        #: Support link shown when the code cannot be sent (empty: the tenant's ``branding.support_url``).
        support_url: str = ""

        def check(self, path: str) -> None:
            if self.support_url and not self.support_url.startswith(("https://", "mailto:")):
                raise ConfigError(f"{path}.support_url", "must be an https or mailto: URL")

    # -- helpers ------------------------------------------------------------------

    def _only_path(self, ctx: StepContext) -> bool:
        return bool(getattr(ctx.config, "only_path", False))

    def _number(self, ctx: StepContext) -> str | None:
        user = ctx.user
        if user is None:
            return None
        factors = ctx.services.factors
        if self._only_path(ctx):
            return factors.phone_on_file(ctx.tenant, user) or factors.sms_number(ctx.tenant, user, ctx.factors)
        return factors.sms_number(ctx.tenant, user, ctx.factors)

    def _support(self, ctx: StepContext) -> str:
        return getattr(ctx.config, "support_url", "") or ctx.tenant.config.branding.support_url

    def _send(self, ctx: StepContext) -> str:
        """Send a code for this run; returns an error id, or "" when sent."""
        user = ctx.user
        assert user is not None
        number = self._number(ctx)
        if number is None:
            return "no_phone"
        data = ctx.step_data
        try:
            sent = ctx.services.factors.send_sms_code(
                ctx.tenant,
                user,
                ctx.state.id,
                to=number,
                locale=ctx.state.locale or ctx.request.locale,
                sender_id=getattr(ctx.config, "sender_id", ""),
                request=ctx.request,
            )
        except SmsError as exc:
            if exc.code == "sms_cooldown":
                data["retry_after"] = int(exc.params.get("retry_after", 0))
            return SEND_ERRORS.get(exc.code, "sms_unavailable")
        data.update(sent=True, masked=sent.masked_number)
        return ""

    def _page(self, ctx: StepContext, **extra: Any) -> Challenge:
        data = ctx.step_data
        context = {
            "masked_number": data.get("masked", ""),
            "only_path": self._only_path(ctx),
            "support_url": self._support(ctx),
            "code_length": 6,
        }
        context.update(extra)
        return Challenge(self.template, context)

    # -- the step -------------------------------------------------------------------

    def configured_for(self, ctx: StepContext) -> bool:
        return self._number(ctx) is not None

    def challenge(self, ctx: StepContext) -> Outcome:
        data = ctx.step_data
        if not data.get("sent"):
            error = self._send(ctx)
            if error == "sms_cooldown":
                # a code sent for another run moments ago: this page offers the resend once the cool-down ends
                return self._page(ctx, notice="sms_cooldown", retry_after=data.get("retry_after", 0))
            if error:
                audit(ctx, "login.second_factor_unavailable", factor="sms", reason=error)
                return Abort(error, 400, {"support_url": self._support(ctx)})
        return self._page(ctx)

    def attempt(self, ctx: StepContext, form: Mapping[str, str]) -> Any:
        """ "Send again" tries no code."""
        return None if form.get("action") == "resend" else ctx.user

    def submit(self, ctx: StepContext, form: Mapping[str, str]) -> Outcome:
        user = ctx.user
        assert user is not None  # the engine runs the step for an identified user
        data = ctx.step_data
        if form.get("action") == "resend":
            error = self._send(ctx)
            if error == "sms_cooldown":
                return Failure("sms_cooldown", {"retry_after": data.get("retry_after", 0)}, status=429)
            if error:
                return Failure(error, {"support_url": self._support(ctx)})
            return self._page(ctx, notice="sms_resent")
        result = ctx.services.factors.verify_sms_code(ctx.tenant, user, ctx.state.id, form.get("code", ""))
        if result:
            return Success(proofs=("sms",), amr=second_factor_amr(ctx, AMR_SMS))
        if result.reason == "expired" and not data.get("sent"):
            return Failure("code_expired", counted=False)  # no code to guess: not an attempt
        if result.reason == "invalid":
            return Failure("invalid_code", {"attempts_left": result.attempts_left}, reason="invalid")
        if result.reason == "exhausted":
            return Failure("code_exhausted", reason="exhausted")
        return Failure("code_expired", reason=result.reason)
