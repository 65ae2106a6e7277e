"""The steps of the self-recovery flow that are its own: request, choice, new password.

The password, SMS-code and enrolment steps are the shared ones of ``flows/steps``,
bound into this flow by :mod:`flows.self_recovery` with the recovery paths' rules.
"""

from __future__ import annotations

from collections.abc import Mapping

from flows.self_recovery.config import PASSWORD_PATH_NEEDS_ONE_OF, SelfRecoveryConfig
from flows.self_recovery.requests import RecoveryRequest, submit_request
from idp.flowengine.contract import N_, Abort, Challenge, Failure, Outcome, Skip, Step, StepContext, Success, UserError

PASSWORD = "password"
SECOND_FACTOR = "second-factor"


def chosen_path(ctx: StepContext) -> str:
    return str(ctx.state.step_data("choose").get("path", ""))


def recovery_config(ctx: StepContext) -> SelfRecoveryConfig:
    config = ctx.flow_config
    assert isinstance(config, SelfRecoveryConfig)
    return config


def run_language(ctx: StepContext) -> str:
    """The language of this recovery's messages: the run's (where the link was asked for), the account's, the tenant's."""
    user = ctx.user
    return ctx.state.locale or (user.locale if user is not None else "") or ctx.tenant.config.default_locale


class RequestStep(Step):
    """« Vos moyens d'identification sont perdus ? »: one field, the same answer for every input (R-47)."""

    name = "request"
    provides = ()
    errors = {"login_missing": N_("Enter your username or email.")}

    def challenge(self, ctx: StepContext) -> Outcome:
        sent = bool(ctx.step_data.get("sent"))
        return Challenge("recovery/request.html", {"sent": sent})

    def submit(self, ctx: StepContext, form: Mapping[str, str]) -> Outcome:
        login = form.get("login", "").strip()
        if not login:
            return Failure("login_missing")
        submit_request(
            ctx.services,
            ctx.tenant,
            recovery_config(ctx),
            RecoveryRequest(login=login[:320], client_ip=ctx.request.client_ip, user_agent=ctx.request.user_agent, locale=ctx.state.locale),
        )
        ctx.step_data["sent"] = True
        return Challenge("recovery/request.html", {"sent": True})


class ChooseStep(Step):
    """« Que souhaitez-vous faire ? »: reset the password, or the second factor."""

    name = "choose"
    requires = ("email_link",)
    errors = {"choose_a_path": N_("Choose what you would like to reset.")}

    def _offered(self, ctx: StepContext) -> list[str]:
        config = recovery_config(ctx)
        offered = []
        if config.offer_password_reset:
            offered.append(PASSWORD)
        if config.offer_second_factor_reset:
            offered.append(SECOND_FACTOR)
        return offered

    def challenge(self, ctx: StepContext) -> Outcome:
        return Challenge("recovery/choose.html", {"offered": self._offered(ctx)})

    def submit(self, ctx: StepContext, form: Mapping[str, str]) -> Outcome:
        choice = form.get("path", "")
        if choice not in self._offered(ctx):
            return Failure("choose_a_path", status=400)
        ctx.step_data["path"] = choice
        return Success()


class NewPasswordStep(Step):
    """Set a new password, typed twice, under the tenant's policy (R-01..R-04, R-51)."""

    name = "new-password"
    requires = ("email_link",)
    provides = ("password_replaced",)
    #: Bound in the ``reset-password`` sub-flow, after the account's second factor is proved (R-18, R-32).
    errors = {
        "passwords_differ": N_("The two passwords do not match."),
        "second_factor_required": N_("Your account has a second factor: prove it before choosing a new password, or contact support."),
    }

    def challenge(self, ctx: StepContext) -> Outcome:
        user = ctx.user
        if user is None:
            return Abort("steps_out_of_order")
        if not any(ctx.state.has(p) for p in PASSWORD_PATH_NEEDS_ONE_OF) and ctx.services.factors.active(ctx.tenant, user):
            # The account has a second factor that was not proved: a new password must not bypass it.
            return Abort("second_factor_required")
        policy = ctx.services.users.policy(ctx.tenant)
        return Challenge("recovery/new_password.html", {"min_length": policy.min_length, "max_length": policy.max_length})

    def submit(self, ctx: StepContext, form: Mapping[str, str]) -> Outcome:
        page = self.challenge(ctx)
        if not isinstance(page, Challenge):
            return page
        user = ctx.user
        assert user is not None
        password, again = form.get("password", ""), form.get("password_confirm", "")
        if password != again:
            return Failure("passwords_differ")
        try:
            ctx.services.users.set_password(ctx.tenant, user, password)
        except UserError as exc:
            return Failure(f"password_{exc.code}")  # the rejection states its reason
        return Success(proofs=("password_replaced",))


__all__ = ["ChooseStep", "NewPasswordStep", "RequestStep", "Skip", "chosen_path", "recovery_config", "run_language"]
