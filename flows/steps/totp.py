"""The TOTP step (``totp``): the second factor from an authenticator app, offered first (R-30).

Runs after the password step for a user who has a TOTP factor, when the
second-factor policy asks for one (:func:`second_factor_needed`). The page has
a field ``code``; where the tenant allows SMS and the user has an SMS factor, a
button posts ``action=use_sms`` to take the SMS step instead (the step is then
skipped without proving anything and :class:`flows.steps.sms.SmsStep` runs).

Each code is accepted once per credential (R-82). The engine throttles each
attempt per account and per (account, address) (R-06, R-83), writes
``login.second_factor_failed`` and sends the user a notice once per run after a
correct password (R-55): :attr:`TotpStep.attempts`. ``login.second_factor_ok``
is written by the factor service with the factor's last use, in one
transaction (R-46).

Policy (Keycloak's "requirement belongs to the binding"): the step's
``Config.policy`` when set, else the flow's ``Config.mfa_policy`` when the flow
has one, else the tenant's ``mfa.policy``. ``acr_values`` containing
``urn:idp:acr:mfa`` or ``mfa`` in the parked authorization request turns any
policy into ``required``.
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
    Attempts,
    Challenge,
    ConfigError,
    Failure,
    Outcome,
    Skip,
    Step,
    StepContext,
    Success,
)

#: Policies a step binding may set; ``always`` runs the step whenever the user has the factor
#: (the recovery flow's "prove your second factor").
POLICIES = ("", "off", "optional", "required", "always")
#: Proofs that count as a second factor.
SECOND_FACTOR_PROOFS = ("totp", "sms")


def mfa_forced(auth_request: Mapping[str, str] | None) -> bool:
    """Whether the relying party asked for a second factor through ``acr_values``."""
    values = (auth_request or {}).get("acr_values", "") or ""
    return any(v in MFA_REQUESTS for v in values.split())


def effective_policy(ctx: StepContext) -> str:
    """``off``, ``optional``, ``required`` or ``always`` for this step in this run (see the module docstring)."""
    policy = getattr(ctx.config, "policy", "") or getattr(ctx.flow_config, "mfa_policy", "") or ctx.tenant.config.mfa.policy
    if policy != "always" and mfa_forced(ctx.state.auth_request):
        return "required"
    return str(policy)


def second_factor_proved(ctx: StepContext) -> bool:
    return any(p in ctx.state.proofs for p in SECOND_FACTOR_PROOFS)


def user_has_second_factor(ctx: StepContext) -> bool:
    user = ctx.user
    if user is None:
        return False
    factors, known = ctx.services.factors, ctx.factors
    return factors.has_totp(ctx.tenant, user, known) or factors.sms_number(ctx.tenant, user, known) is not None


def second_factor_needed(ctx: StepContext) -> bool:
    """Whether this run must prove a second factor now (none proved yet)."""
    if ctx.user is None or second_factor_proved(ctx):
        return False
    policy = effective_policy(ctx)
    if policy in ("required", "always"):
        return True
    if policy == "optional":
        return user_has_second_factor(ctx)
    return False


def second_factor_amr(ctx: StepContext, method: str) -> tuple[str, ...]:
    """``amr`` of a proved second factor: the method, plus ``mfa`` when the password was proved too."""
    return (method, AMR_MFA) if "password" in ctx.state.proofs else (method,)


def check_config_policy(policy: str, path: str) -> None:

    if policy not in POLICIES:
        raise ConfigError(f"{path}.policy", "must be empty, 'off', 'optional', 'required' or 'always'")


def with_requirements(step_cls: type[Step], requires: tuple[str, ...], name: str | None = None) -> type[Step]:
    """A subclass of ``step_cls`` bound with other ``requires`` (and optionally another name).

    For flows that compose the shared steps under their own proof chain, e.g. the
    recovery flow: ``with_requirements(TotpSetupStep, ("email_link", "password", "sms"))``.
    """
    attrs: dict[str, Any] = {"requires": tuple(requires), "__module__": step_cls.__module__}
    if name is not None:
        attrs["name"] = name
    suffix = "".join(p.title().replace("_", "").replace("-", "") for p in requires)
    return type(f"{step_cls.__name__}After{suffix}", (step_cls,), attrs)


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
    requires = ("password",)
    provides = ("totp",)
    template = "steps/totp.html"
    errors = texts_of("code_replayed", "sms_unavailable")
    attempts = Attempts(factor="totp")

    @dataclass(frozen=True)
    class Config:
        """Settings of the ``totp`` step in a flow binding."""

        #: ``off``, ``optional``, ``required``, ``always``; empty: the flow's ``mfa_policy``, else the tenant's ``mfa.policy``.
        policy: str = ""
        #: Offer "Use an SMS code instead" where the tenant allows SMS and the user has an SMS factor (R-30).
        offer_sms: bool = True

        def check(self, path: str) -> None:
            check_config_policy(self.policy, path)

    def applies(self, ctx: StepContext) -> bool:
        user = ctx.user
        if user is None or not ctx.services.factors.has_totp(ctx.tenant, user, ctx.factors):
            return False
        return second_factor_needed(ctx)

    def _sms_offered(self, ctx: StepContext) -> bool:
        user = ctx.user
        if user is None or not getattr(ctx.config, "offer_sms", True):
            return False
        return ctx.services.factors.sms_number(ctx.tenant, user, ctx.factors) is not None

    def challenge(self, ctx: StepContext) -> Outcome:
        return Challenge(self.template, {"sms_offered": self._sms_offered(ctx)})

    def attempt(self, ctx: StepContext, form: Mapping[str, str]) -> Any:
        """ "Use an SMS code instead" tries no code."""
        return None if form.get("action") == "use_sms" else ctx.user

    def submit(self, ctx: StepContext, form: Mapping[str, str]) -> Outcome:
        user = ctx.user
        assert user is not None  # applies() guarantees it
        if form.get("action") == "use_sms":
            if not self._sms_offered(ctx):
                return Failure("sms_unavailable")
            ctx.state.step_data(self.name)["declined"] = True
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
