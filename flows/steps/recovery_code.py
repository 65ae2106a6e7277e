"""Recovery codes at sign-in and in recovery (issue 14, item 3): « Utiliser un code de récupération ».

- ``recovery-code`` (:class:`RecoveryCodeStep`): a :data:`SECOND_FACTOR` step, configured for a user
  who has a set: the login flow offers it as an alternative ("Use a recovery code instead"), and the
  self-recovery's password path as a proof of the second factor. A code is spent once; the engine
  throttles and audits the attempts like any code (``recovery_code``); the user is told by email,
  with how many codes remain.
- ``recovery-codes`` (:class:`RecoveryCodesStep`): after an authenticator is enrolled at sign-in, the
  page shows a new set of ten codes, once, to be saved; after a recovery code was used, it shows how
  many remain and offers a new set (which voids the old one).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from flows.steps.totp import second_factor_amr
from idp.flowengine.contract import (
    AMR_OTP,
    N_,
    SECOND_FACTOR,
    Abort,
    Attempts,
    Branch,
    Challenge,
    Failure,
    Outcome,
    Step,
    StepContext,
    Success,
    TemplateSpec,
    message_templates,
)

#: The notice a spent code sends (with the count left), shipped in ``messages/`` beside this module.
MESSAGES = message_templates(
    Path(__file__).resolve().parent / "messages",
    {"recovery_code_used_notice": TemplateSpec(("email",), ("when", "remaining"))},
)
#: Few enough codes left that the page suggests a new set.
FEW_LEFT = 3
_SEAL = "recovery-codes-shown"


class RecoveryCodeStep(Step):
    """One of the user's saved codes, in place of the authenticator they cannot use."""

    name = "recovery-code"
    designation = SECOND_FACTOR
    another_way = N_("Use a recovery code instead")
    requires = ("password",)
    provides = ("recovery_code",)
    template = "steps/recovery_code.html"
    attempts = Attempts(factor="recovery_code")

    def configured_for(self, ctx: StepContext) -> bool:
        user = ctx.user
        return user is not None and ctx.services.factors.has_recovery_codes(ctx.tenant, user, ctx.factors)

    def challenge(self, ctx: StepContext) -> Outcome:
        if not self.configured_for(ctx):  # bound REQUIRED for a user without codes: no code can pass
            return Abort("no_method_available", 403)
        return Challenge(self.template, {})

    def submit(self, ctx: StepContext, form: Mapping[str, str]) -> Outcome:
        user = ctx.user
        assert user is not None  # the engine runs the step for an identified user
        result = ctx.services.factors.use_recovery_code(ctx.tenant, user, form.get("code", ""), ctx.request)
        if not result:
            return Failure("invalid_code")
        ctx.services.factors.notify(
            ctx.tenant, user, "recovery_code_used_notice", ctx.request, locale=ctx.state.locale, messages=MESSAGES, remaining=result.remaining
        )
        return Success(proofs=("recovery_code",), amr=second_factor_amr(ctx, AMR_OTP))


def recovery_codes_due(ctx: StepContext, branch: Branch) -> bool:
    """Condition: the run enrolled an authenticator (time to save codes) or spent a recovery code (time to
    see how many remain)."""
    return ctx.user is not None and ("factor_enrolled" in ctx.state.proofs or "recovery_code" in ctx.state.proofs)


class RecoveryCodesStep(Step):
    """Save a new set (shown once), or see how many codes remain after using one."""

    name = "recovery-codes"
    requires = ("password",)
    template = "steps/recovery_codes.html"

    def _shown(self, ctx: StepContext) -> list[str]:
        sealed = ctx.step_data.get("sealed")
        return json.loads(ctx.services.secrets.decrypt(sealed, _SEAL)) if sealed else []

    def _new_set(self, ctx: StepContext) -> list[str]:
        user = ctx.user
        assert user is not None
        codes = ctx.services.factors.generate_recovery_codes(ctx.tenant, user, actor=f"user:{user.id}", request=ctx.request)
        # kept sealed in the run's state until the page is left, so a reload shows the same set
        ctx.step_data["sealed"] = ctx.services.secrets.encrypt(json.dumps(codes).encode(), _SEAL)
        return codes

    def challenge(self, ctx: StepContext) -> Outcome:
        user = ctx.user
        if user is None:
            return Abort("steps_out_of_order")
        codes = self._shown(ctx)
        if not codes and "factor_enrolled" in ctx.state.proofs:
            codes = self._new_set(ctx)
        if codes:
            return Challenge(self.template, {"codes": codes, "no_store": True})
        left = ctx.services.factors.recovery_codes_left(ctx.tenant, user)
        return Challenge(self.template, {"codes": [], "left": left, "few": left <= FEW_LEFT})

    def submit(self, ctx: StepContext, form: Mapping[str, str]) -> Outcome:
        if form.get("action") == "generate" and not self._shown(ctx):
            return Challenge(self.template, {"codes": self._new_set(ctx), "no_store": True})
        ctx.step_data.pop("sealed", None)  # the codes leave the run's state once the user moves on
        return Success()
