"""The TOTP step (``totp``): the second factor from an authenticator app, offered first (R-30).

Runs after the password step for a user who has a TOTP factor, when the
second-factor policy asks for one (:func:`second_factor_needed`). The page has
a field ``code``; where the tenant allows SMS and the user has an SMS factor, a
button posts ``action=use_sms`` to take the SMS step instead (the step is then
skipped without proving anything and :class:`flows.steps.sms.SmsStep` runs).

Each code is throttled per account and per (account, address) (R-06, R-83),
accepted once per credential (R-82), and a failure after a correct password
sends the user a notice once per run (R-55). Audit events:
``login.second_factor_ok`` and ``login.second_factor_failed`` (R-46).

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

from idp.flowengine.contract import (
    Challenge,
    Failure,
    Outcome,
    Skip,
    Step,
    StepContext,
    Success,
)

#: ``acr`` values that ask for a second factor (docs/CONTRACTS.md).
MFA_ACR_VALUES = ("urn:idp:acr:mfa", "mfa")
#: Policies a step binding may set; ``always`` runs the step whenever the user has the factor
#: (the recovery flow's "prove your second factor").
POLICIES = ("", "off", "optional", "required", "always")
#: Proofs that count as a second factor.
SECOND_FACTOR_PROOFS = ("totp", "sms")


def mfa_forced(auth_request: Mapping[str, str] | None) -> bool:
    """Whether the relying party asked for a second factor through ``acr_values``."""
    values = (auth_request or {}).get("acr_values", "") or ""
    return any(v in MFA_ACR_VALUES for v in values.split())


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
    return (method, "mfa") if "password" in ctx.state.proofs else (method,)


def check_config_policy(policy: str, path: str) -> None:
    from idp.tenants.config import ConfigError

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


def notify_failed_second_factor(ctx: StepContext, step_name: str, factor: str) -> None:
    """R-55: a correct password followed by a failed second factor: tell the user, once per step and run."""
    data = ctx.state.step_data(step_name)
    user = ctx.user
    if user is None or "password" not in ctx.state.proofs or data.get("noticed"):
        return
    data["noticed"] = True
    ctx.services.factors.notify(ctx.tenant, user, "failed_second_factor_notice", ctx.request, factor=factor)


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

    def submit(self, ctx: StepContext, form: Mapping[str, str]) -> Outcome:
        user = ctx.user
        assert user is not None  # applies() guarantees it
        if form.get("action") == "use_sms":
            if not self._sms_offered(ctx):
                return Failure("sms_unavailable")
            ctx.state.step_data(self.name)["declined"] = True
            return Skip()
        throttle = ctx.services.throttle
        ip = ctx.request.client_ip
        wait = throttle.check(ctx.tenant, user.id, "totp", ip)
        if wait:
            return Failure("too_many_attempts", {"retry_after": wait}, status=429)
        # the success event is written with the factor's last use, in one transaction
        result = ctx.services.factors.verify_totp(
            ctx.tenant,
            user,
            form.get("code", ""),
            ctx.request,
            ctx.factors,
            ok_event="login.second_factor_ok",
            ok_details={"flow": ctx.state.flow, "factor": "totp"},
        )
        if result:
            throttle.record_success(ctx.tenant, user.id, "totp", ip)
            return Success(proofs=("totp",), amr=second_factor_amr(ctx, "otp"))
        throttle.record_failure(ctx.tenant, user.id, "totp", ip, ctx.request.user_agent)
        audit(ctx, "login.second_factor_failed", factor="totp", reason=result.reason)
        notify_failed_second_factor(ctx, self.name, "totp")
        return Failure("code_replayed" if result.reason == "replay" else "invalid_code")
