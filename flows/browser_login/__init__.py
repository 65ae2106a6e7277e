"""The browser login flow: identify by username or email, then password, then a second factor (issue 2, item 7).

Registered under the ``idp.flows`` entry point ``browser-login`` and on for every tenant unless turned
off. Its default bindings:

- ``password`` REQUIRED: the password, or passwordless with a passkey (« Se connecter avec une clé
  d'accès », :mod:`flows.steps.passkey`), which proves both factors;
- ``second-factor``, a sub-flow CONDITIONAL on ``second-factor-needed`` (the tenant's MFA policy, or
  the relying party's ``acr_values``), of ALTERNATIVE bindings: every installed step designated
  :data:`SECOND_FACTOR` (a passkey first, then TOTP, then SMS, R-30, then recovery codes, then the step
  plugins'), the first configured for the user running, then ``totp-setup`` for a user who has none yet,
  whose page offers ``passkey-setup`` (a passkey on this device) instead;
- ``save-recovery-codes``, CONDITIONAL on ``recovery-codes-due``: after an enrolment, a new set of
  recovery codes shown once; after a recovery code was used, how many remain.

A new second factor installed as a step plugin (``idp.steps``) joins the alternatives with no change
here; a tenant may bind its own list instead (``flows.browser-login.bindings``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flows.steps.passkey import PasskeySetupStep, PasskeyStep
from flows.steps.password import PasswordStep
from flows.steps.recovery_code import RecoveryCodesStep, RecoveryCodeStep, recovery_codes_due
from flows.steps.sms import SmsStep
from flows.steps.totp import SECOND_FACTOR_CONDITIONS, TotpStep
from flows.steps.totp_setup import TotpSetupStep
from idp.flowengine.contract import ALTERNATIVE, LOGIN, SECOND_FACTOR, Abort, Binding, Flow, Step, StepContext, bind, sub_flow


def login_bindings(catalog: Mapping[str, type[Step]]) -> tuple[Binding, ...]:
    """The password, then one of the installed second factors, or enrolment (see the module docstring)."""
    factors = [bind(name, ALTERNATIVE) for name, step in catalog.items() if step.designation == SECOND_FACTOR]
    return (
        bind(PasswordStep.name),
        sub_flow(
            "second-factor",
            *factors,
            bind(TotpSetupStep.name, ALTERNATIVE),
            bind(PasskeySetupStep.name, ALTERNATIVE),
            condition="second-factor-needed",
        ),
        sub_flow("save-recovery-codes", bind(RecoveryCodesStep.name), condition="recovery-codes-due"),
    )


class BrowserLoginFlow(Flow):
    """Sign a user in at a tenant; the web layer then opens the SSO session."""

    name = "browser-login"
    completes = "login"
    designation = LOGIN
    steps = (PasswordStep, PasskeyStep, TotpStep, SmsStep, RecoveryCodeStep, TotpSetupStep, PasskeySetupStep, RecoveryCodesStep)
    conditions = {**SECOND_FACTOR_CONDITIONS, "recovery-codes-due": recovery_codes_due}
    #: Identified, and by a password or a passkey (:meth:`finish` refuses a run with neither).
    completion_requires = ("identified",)
    #: One of these first factors must be proved.
    first_factors = ("password", "passkey")
    default_enabled = True

    def bindings(self, config: Any, catalog: Mapping[str, type[Step]]) -> Sequence[Binding]:
        return login_bindings(catalog)

    def finish(self, ctx: StepContext) -> Abort | None:
        """A sign-in ends on a password or a passkey proved, whatever a tenant's bindings say."""
        if not any(p in ctx.state.proofs for p in self.first_factors):
            return Abort("steps_out_of_order")
        return None
