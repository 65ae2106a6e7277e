"""Passkeys in the flows (issue 14, item 1): a second factor, an enrolment, and passwordless sign-in.

- ``passkey`` (:class:`PasskeyStep`): a :data:`SECOND_FACTOR` step configured for a user who has a
  passkey; the login flow offers it among the alternatives (« Utiliser une clé d'accès »), and the
  recovery's « Reset my password » path binds it as ``verify-passkey`` (after the emailed link, before
  the new password). The browser signs the server's challenge with one of the user's passkeys, user
  verification required; only a passkey of the run's user is accepted.
  ``amr``: ``hwk`` (kept on one device) or ``swk`` (may be synced), ``user``, and ``mfa`` after the password.
- ``passkey-setup`` (:class:`PasskeySetupStep`): register a passkey on this device. In the login
  flow, an alternative to the QR-code enrolment for a user without a second factor; in the recovery
  flow, the last screen's other choice (``replace_existing``: every earlier factor is removed in the
  transaction that saves the passkey, and never before the emailed link, the password and an SMS code
  are proved, :meth:`PasskeySetupStep.needs`). The QR-code page offers it (« Utiliser plutôt une clé
  d'accès sur cet appareil »), shown only where the browser can make one.
- Passwordless (:func:`passwordless_page`, :func:`passwordless_submit`): the sign-in page of the password
  step carries « Se connecter avec une clé d'accès » and conditional mediation on the username field; a
  discoverable passkey with user verification names its user and proves both factors
  (``amr`` ``hwk``/``swk``, ``user``, ``mfa``).

The ceremony's challenge is kept server-side (:mod:`idp.accounts.passkeys`); the run's state only holds
the ceremony's id. A refused passkey is audited; a cloned one (its sign count went back) is refused,
audited and its holder told by email.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flows.steps.totp import enrolment_due
from idp.flowengine.contract import (
    AMR_MFA,
    AMR_USER,
    N_,
    SECOND_FACTOR,
    Abort,
    Attempts,
    Challenge,
    FactorError,
    Failure,
    Outcome,
    Step,
    StepContext,
    Success,
    TemplateSpec,
    message_templates,
)

#: The notice a refused clone sends, shipped in ``messages/`` beside this module.
MESSAGES = message_templates(Path(__file__).resolve().parent / "messages", {"passkey_clone_notice": TemplateSpec(("email",), ("when",))})

#: Errors of the passkey steps, and their English text (the page shows them translated).
ERRORS = {
    "passkey_failed": N_("That passkey could not be checked. Try again, or use another way."),
    "passkey_unknown": N_("That passkey is not registered for an account here."),
    "passkey_cloned": N_("That passkey was refused: it may have been copied. Use another way, and contact support."),
    "passkey_expired": N_("The passkey request expired. Try again."),
    "passkey_exists": N_("This passkey is already registered."),
}

_REASONS = {"unknown_credential": "passkey_unknown", "cloned": "passkey_cloned", "expired": "passkey_expired"}


def passkey_amr(ctx: StepContext, method: str) -> tuple[str, ...]:
    """``amr`` of a passkey with user verification: its kind, ``user``, and ``mfa`` (the passkey is both a possession
    and a verified user; after a password all the more)."""
    return (method, AMR_USER, AMR_MFA)


def _error(reason: str) -> str:
    return _REASONS.get(reason, "passkey_failed")


def _tell_holder(ctx: StepContext, reason: str, user_id: int | None) -> None:
    """A refused clone: its holder is told (R-29), best effort."""
    if reason != "cloned" or user_id is None:
        return
    holder = ctx.services.users.get(ctx.tenant, user_id)
    if holder is not None:
        ctx.services.factors.notify(ctx.tenant, holder, "passkey_clone_notice", ctx.request, locale=ctx.state.locale, messages=MESSAGES)


class PasskeyStep(Step):
    """« Utiliser une clé d'accès » : one of the user's passkeys, as the second factor."""

    name = "passkey"
    designation = SECOND_FACTOR
    another_way = N_("Use a passkey instead")
    requires = ("password",)
    provides = ("passkey",)
    template = "steps/passkey.html"
    errors = ERRORS
    attempts = Attempts(factor="passkey")

    @dataclass(frozen=True)
    class Config:
        """Settings of the ``passkey`` step in a flow binding."""

        #: The recovery's « Reset my password » path (``verify-passkey``): the page says the passkey is asked
        #: for before the new password is chosen.
        before_new_password: bool = False

    def configured_for(self, ctx: StepContext) -> bool:
        user = ctx.user
        return user is not None and ctx.services.factors.has_passkeys(ctx.tenant, user, ctx.factors)

    def challenge(self, ctx: StepContext) -> Outcome:
        user = ctx.user
        if user is None or not self.configured_for(ctx):
            return Abort("no_method_available", 403)
        options = ctx.services.factors.begin_passkey_authentication(ctx.tenant, user)
        ctx.step_data["ceremony"] = options.ceremony
        before = bool(getattr(ctx.config, "before_new_password", False))
        return Challenge(self.template, {"passkey_options": options.options_json, "before_new_password": before})

    def attempt(self, ctx: StepContext, form: Mapping[str, str]) -> Any:
        return ctx.user if form.get("credential") else None

    def submit(self, ctx: StepContext, form: Mapping[str, str]) -> Outcome:
        user = ctx.user
        assert user is not None  # the engine runs the step for an identified user
        ceremony = str(ctx.step_data.pop("ceremony", ""))
        if not form.get("credential"):
            return Failure("passkey_failed", counted=False)
        result = ctx.services.factors.finish_passkey_authentication(
            ctx.tenant,
            ceremony,
            form.get("credential", ""),
            user=user,
            request=ctx.request,
            ok_event=self.attempts.ok_event if self.attempts else "",
            ok_details={"flow": ctx.state.flow, "factor": "passkey"},
        )
        if result:
            return Success(proofs=("passkey",), amr=passkey_amr(ctx, result.method), audited=True)
        _tell_holder(ctx, result.reason, result.user_id)
        return Failure(_error(result.reason), reason=result.reason)


class PasskeySetupStep(Step):
    """Register a passkey on this device (enrolment at sign-in, or the recovery's new factor)."""

    name = "passkey-setup"
    requires = ("password",)
    provides = ("passkey", "factor_enrolled", "factor_replaced")
    template = "steps/passkey_setup.html"
    errors = ERRORS
    #: A refused registration is audited; it checks no secret the throttle could protect.
    attempts = None

    @dataclass(frozen=True)
    class Config:
        """Settings of the ``passkey-setup`` step in a flow binding."""

        #: Recovery: remove every earlier factor in the transaction that saves the passkey.
        replace_existing: bool = False
        #: Label of the new passkey in listings.
        label: str = "Passkey"

    #: What replacing every factor needs proved first (R-17, R-33, R-97), as for the QR-code enrolment.
    REPLACE_NEEDS = ("email_link", "password", "sms")

    @classmethod
    def needs(cls, config: Any) -> tuple[str, ...]:
        return cls.REPLACE_NEEDS if getattr(config, "replace_existing", False) else ()

    def _replace(self, ctx: StepContext) -> bool:
        return bool(getattr(ctx.config, "replace_existing", False))

    def configured_for(self, ctx: StepContext) -> bool:
        return self._replace(ctx) or enrolment_due(ctx)

    def challenge(self, ctx: StepContext) -> Outcome:
        user = ctx.user
        if user is None:
            return Abort("steps_out_of_order")
        options = ctx.services.factors.begin_passkey_registration(ctx.tenant, user)
        ctx.step_data["ceremony"] = options.ceremony
        return Challenge(self.template, {"passkey_options": options.options_json, "replace": self._replace(ctx), "no_store": True})

    def submit(self, ctx: StepContext, form: Mapping[str, str]) -> Outcome:
        user = ctx.user
        if user is None:
            return Abort("steps_out_of_order")
        ceremony = str(ctx.step_data.pop("ceremony", ""))
        replace = self._replace(ctx)
        try:
            ctx.services.factors.finish_passkey_registration(
                ctx.tenant,
                user,
                ceremony,
                form.get("credential", ""),
                label=getattr(ctx.config, "label", "") or "Passkey",
                replace_existing=replace,
                actor=f"recovery:{user.id}" if replace else f"user:{user.id}",
                request=ctx.request,
            )
        except FactorError as exc:
            ctx.services.audit.record(
                ctx.tenant.id, "factor.enrolment_failed", user_id=user.id, client_ip=ctx.request.client_ip,
                user_agent=ctx.request.user_agent, flow=ctx.state.flow, factor="passkey", reason=exc.code,
            )  # fmt: skip
            return Failure(exc.code if exc.code in ERRORS else "passkey_failed", reason=exc.code)
        proof = "factor_replaced" if replace else "factor_enrolled"
        # registration asked for user verification: the new passkey was just used with it
        return Success(proofs=("passkey", proof), amr=passkey_amr(ctx, "hwk"))


# -- passwordless sign-in (the password step's page) --------------------------------------------------------

#: The ``action`` of the sign-in page's passkey form.
PASSWORDLESS = "passkey"


def passwordless_page(ctx: StepContext) -> dict[str, Any]:
    """The sign-in page's passkey ceremony (a discoverable credential, any of this tenant's users)."""
    options = ctx.services.factors.begin_passkey_authentication(ctx.tenant, None)
    ctx.step_data["passkey_ceremony"] = options.ceremony
    return {"passkey_options": options.options_json}


def passwordless_submit(ctx: StepContext, form: Mapping[str, str], provides: tuple[str, ...]) -> Outcome:
    """Sign in with the passkey the browser answered with: it names its user and proves both factors."""
    ceremony = str(ctx.step_data.pop("passkey_ceremony", ""))
    if ctx.state.user_id is not None or not form.get("credential"):
        return Failure("passkey_failed", counted=False)
    result = ctx.services.factors.finish_passkey_authentication(
        ctx.tenant,
        ceremony,
        form.get("credential", ""),
        request=ctx.request,
        ok_event="login.passkey_ok",
        ok_details={"flow": ctx.state.flow, "factor": "passkey", "passwordless": True},
    )
    if not result or result.user_id is None:
        _tell_holder(ctx, result.reason, result.user_id)
        return Failure(_error(result.reason), counted=False, reason=result.reason)
    user = ctx.services.users.get(ctx.tenant, result.user_id)
    if user is None or user.status != "active":
        return Failure("passkey_unknown", counted=False)
    ctx.identified(user)
    return Success(proofs=tuple(p for p in provides if p in ("identified", "passkey")), amr=passkey_amr(ctx, result.method), user_id=user.id)
