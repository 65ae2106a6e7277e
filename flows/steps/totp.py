"""The TOTP step (``totp``): the second factor from an authenticator app, offered first (R-30).

A :data:`SECOND_FACTOR` step, configured for a user who has a TOTP factor: the login flow binds it as
the first alternative of its ``second-factor`` sub-flow, which runs when the second-factor policy asks
for one (the ``second-factor-needed`` condition, :func:`second_factor_needed`). The page has
a field ``code``; where the tenant allows SMS and the user has an SMS factor, a
button posts ``action=use_sms`` to take the SMS step instead (the step is then
skipped without proving anything and :class:`flows.steps.sms.SmsStep` runs).

Each code is accepted once per credential (R-82). The engine throttles each
attempt per account and per (account, address) (R-06, R-83), writes
``login.second_factor_failed`` and sends the user a notice once per run after a
correct password (R-55): :attr:`TotpStep.attempts`. ``login.second_factor_ok``
is written by the factor service with the factor's last use, in one
transaction (R-46).

Policy (Keycloak's "requirement belongs to the binding"): the flow's ``Config.mfa_policy``
when the flow has one, else the tenant's ``mfa.policy``. ``acr_values`` containing
``urn:idp:acr:mfa`` or ``mfa`` in the parked authorization request turns any
policy into ``required``. This module also holds the conditions second-factor sub-flows name
(:data:`SECOND_FACTOR_CONDITIONS`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flows.steps.errors import texts_of
from idp.flowengine.contract import (
    AMR_MFA,
    AMR_OTP,
    MFA_REQUESTS,
    N_,
    SECOND_FACTOR,
    Abort,
    Attempts,
    Branch,
    Challenge,
    Condition,
    ConfigError,
    Failure,
    Outcome,
    Skip,
    Step,
    StepContext,
    Success,
)

#: Policies a flow's settings may set (empty: the tenant's ``mfa.policy``).
POLICIES = ("", "off", "optional", "required")
#: Proofs that count as a second factor.
SECOND_FACTOR_PROOFS = ("totp", "sms", "recovery_code", "passkey")


def mfa_forced(auth_request: Mapping[str, str] | None) -> bool:
    """Whether the relying party asked for a second factor through ``acr_values``."""
    values = (auth_request or {}).get("acr_values", "") or ""
    return any(v in MFA_REQUESTS for v in values.split())


def effective_policy(ctx: StepContext) -> str:
    """``off``, ``optional`` or ``required`` for this run (see the module docstring)."""
    policy = getattr(ctx.flow_config, "mfa_policy", "") or ctx.tenant.config.mfa.policy
    if mfa_forced(ctx.state.auth_request):
        return "required"
    return str(policy)


def second_factor_proved(ctx: StepContext) -> bool:
    return any(p in ctx.state.proofs for p in SECOND_FACTOR_PROOFS)


def has_second_factor(ctx: StepContext, branch: Branch) -> bool:
    """Condition: a second-factor step of the sub-flow is configured for the user (they have that factor)."""
    return ctx.user is not None and not second_factor_proved(ctx) and branch.any_configured(SECOND_FACTOR)


def user_has_second_factor(ctx: StepContext) -> bool:
    user = ctx.user
    if user is None:
        return False
    factors, known = ctx.services.factors, ctx.factors
    return (
        factors.has_totp(ctx.tenant, user, known)
        or factors.sms_number(ctx.tenant, user, known) is not None
        or factors.has_passkeys(ctx.tenant, user, known)
    )


def second_factor_needed(ctx: StepContext, branch: Branch) -> bool:
    """Condition: this run must prove a second factor now (none proved yet): always under ``required``;
    under ``optional`` when the user has one of the sub-flow's second factors; never under ``off``."""
    if ctx.user is None or second_factor_proved(ctx):
        return False
    policy = effective_policy(ctx)
    if policy == "required":
        return True
    if policy == "optional":
        return branch.any_configured(SECOND_FACTOR)
    return False


def second_factor_amr(ctx: StepContext, method: str) -> tuple[str, ...]:
    """``amr`` of a proved second factor: the method, plus ``mfa`` when the password was proved too."""
    return (method, AMR_MFA) if "password" in ctx.state.proofs else (method,)


def check_config_policy(policy: str, path: str) -> None:
    if policy not in POLICIES:
        raise ConfigError(f"{path}.policy", "must be empty, 'off', 'optional' or 'required'")


def enrolment_due(ctx: StepContext) -> bool:
    """Whether the run's user has no second factor at all, so the only way through is to enrol one."""
    return ctx.user is not None and not second_factor_proved(ctx) and not user_has_second_factor(ctx)


#: The conditions a flow's ``CONDITIONAL`` second-factor sub-flows may name (a flow lists them in its
#: :attr:`Flow.conditions`): the policy asks for a second factor now; the user has one to prove.
SECOND_FACTOR_CONDITIONS: Mapping[str, Condition] = {
    "second-factor-needed": second_factor_needed,
    "has-second-factor": has_second_factor,
}


def audit(ctx: StepContext, event: str, **details: Any) -> None:
    ctx.services.audit.record(
        ctx.tenant.id,
        event,
        user_id=ctx.state.user_id,
        client_ip=ctx.request.client_ip,
        user_agent=ctx.request.user_agent,
        flow=ctx.state.flow,
        **details,
    )


class TotpStep(Step):
    """« Code de l'application d'authentification » : a 6-digit code from the user's authenticator."""

    name = "totp"
    designation = SECOND_FACTOR
    another_way = N_("Use your authenticator app instead")
    #: Its page has its own "Use an SMS code instead" button (with the advice beside it).
    hands_over = ("sms",)
    requires = ("password",)
    provides = ("totp",)
    template = "steps/totp.html"
    errors = texts_of("code_replayed", "sms_unavailable")
    attempts = Attempts(factor="totp")

    @dataclass(frozen=True)
    class Config:
        """Settings of the ``totp`` step in a flow binding."""

        #: Offer "Use an SMS code instead" where the tenant allows SMS and the user has an SMS factor (R-30).
        offer_sms: bool = True

    def configured_for(self, ctx: StepContext) -> bool:
        user = ctx.user
        return user is not None and ctx.services.factors.has_totp(ctx.tenant, user, ctx.factors)

    def _sms_offered(self, ctx: StepContext) -> bool:
        user = ctx.user
        if user is None or not getattr(ctx.config, "offer_sms", True):
            return False
        return ctx.services.factors.sms_number(ctx.tenant, user, ctx.factors) is not None

    def challenge(self, ctx: StepContext) -> Outcome:
        if not self.configured_for(ctx):  # bound REQUIRED for a user without an authenticator: no code can pass
            return Abort("no_method_available", 403)
        return Challenge(self.template, {"sms_offered": self._sms_offered(ctx)})

    def attempt(self, ctx: StepContext, form: Mapping[str, str]) -> Any:
        """ "Use an SMS code instead" tries no code."""
        return None if form.get("action") == "use_sms" else ctx.user

    def submit(self, ctx: StepContext, form: Mapping[str, str]) -> Outcome:
        user = ctx.user
        assert user is not None  # the engine runs the step for an identified user
        if form.get("action") == "use_sms":
            if not self._sms_offered(ctx):
                return Failure("sms_unavailable")
            ctx.step_data["declined"] = True
            return Skip()
        # the success event is written with the factor's last use, in one transaction
        result = ctx.services.factors.verify_totp(
            ctx.tenant,
            user,
            form.get("code", ""),
            ctx.request,
            ctx.factors,
            ok_event=self.attempts.ok_event,
            ok_details={"flow": ctx.state.flow, "factor": self.attempts.factor},
        )
        if result:
            return Success(proofs=("totp",), amr=second_factor_amr(ctx, AMR_OTP), audited=True)
        return Failure("code_replayed" if result.reason == "replay" else "invalid_code", reason=result.reason)
