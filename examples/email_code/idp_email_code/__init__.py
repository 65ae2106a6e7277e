"""A second factor written as a plugin: a 6-digit code sent to the user's verified email address.

The worked example of the README ("Write a second-factor plugin"). It touches nothing in ``idp/`` and
nothing in the login flow: it imports the public contract alone, and its ``idp.steps`` entry point
(``setup.cfg`` of this folder) registers it. Because it is designated :data:`SECOND_FACTOR`, the
login flow offers it as one more alternative after TOTP and SMS, to the users it is *configured for*
(:meth:`EmailCodeStep.configured_for`); the engine throttles and counts its attempts, audits them and
sends the failed-second-factor notice (:attr:`EmailCodeStep.attempts`).

A code by email is a weaker factor than an authenticator app (NIST SP 800-63B does not accept email
for out-of-band authentication): a tenant that does not want it sets its own login bindings with
``"requirement": "DISABLED"`` for ``email-code``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from html import escape

from idp.flowengine.contract import (
    AMR_MFA,
    AMR_OTP,
    N_,
    SECOND_FACTOR,
    Attempts,
    Brand,
    Challenge,
    Email,
    Failure,
    Outcome,
    Step,
    StepContext,
    Success,
)

#: How long a code stays valid (seconds).
CODE_TTL = 300
PURPOSE = "email-code"


class EmailCodeStep(Step):
    """« Saisir le code reçu par e-mail » : a one-time code mailed to the verified address."""

    name = "email-code"
    designation = SECOND_FACTOR
    another_way = N_("Get a code by email instead")
    requires = ("password",)
    provides = ("email_code",)
    template = "steps/email_code.html"
    attempts = Attempts(factor="email-code")
    errors = {"email_code_expired": N_("This code has expired: we sent you a new one.")}

    def configured_for(self, ctx: StepContext) -> bool:
        user = ctx.user
        return user is not None and bool(user.email) and bool(user.email_verified)

    def challenge(self, ctx: StepContext) -> Outcome:
        if "digest" not in ctx.step_data:
            self._send(ctx)
        return Challenge(self.template, {"sent_to": _masked(ctx.user.email if ctx.user else "")})

    def submit(self, ctx: StepContext, form: Mapping[str, str]) -> Outcome:
        data = ctx.step_data
        if "digest" not in data or ctx.request.now > data["expires"]:
            self._send(ctx)
            return Failure("email_code_expired", counted=False)  # no code was there to guess
        typed = form.get("code", "").replace(" ", "")
        if not ctx.services.secrets.matches(typed, data["digest"], PURPOSE):
            return Failure("invalid_code")
        data.clear()  # single use
        amr = (AMR_OTP, AMR_MFA) if "password" in ctx.state.proofs else (AMR_OTP,)
        return Success(proofs=("email_code",), amr=amr)

    def _send(self, ctx: StepContext) -> None:
        """A new code for this run (the previous one is void); only its keyed digest is kept."""
        user = ctx.user
        assert user is not None and user.email
        code = f"{secrets.randbelow(10**6):06d}"
        ctx.step_data.update(digest=ctx.services.secrets.digest(code, PURPOSE), expires=ctx.request.now + CODE_TTL)
        brand = Brand.of(ctx.tenant).name
        text = f"Your {brand} sign-in code is {code}. It expires in 5 minutes. If you did not try to sign in, change your password."
        mail = ctx.tenant.config.mail
        ctx.services.mailer.send(
            Email(
                to=user.email,
                subject=f"{brand}: your sign-in code",
                text=text,
                html=f"<p>{escape(text)}</p>",
                from_address=mail.from_address,
                configuration_set=mail.configuration_set,
            )
        )


def _masked(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}•••@{domain}" if domain else ""
