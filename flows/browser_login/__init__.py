"""The browser login flow: identify by username or email, then password (issue 2, item 7).

Registered under the ``idp.flows`` entry point ``browser-login`` and on for
every tenant unless turned off. Second-factor steps from :mod:`flows.steps`
are appended to :data:`STEPS`; each decides in ``applies()`` whether it runs
for the identified user.
"""

from __future__ import annotations

from flows.steps.password import PasswordStep
from flows.steps.sms import SmsStep
from flows.steps.totp import TotpStep
from flows.steps.totp_setup import TotpSetupStep
from idp.flowengine.contract import LOGIN, Flow, Step

#: The steps in order; extend by appending (``STEPS + (TotpStep, SmsStep)``).
#: TOTP first, SMS as its alternative (R-30), enrolment under ``required`` for a user with no factor.
STEPS: tuple[type[Step], ...] = (PasswordStep, TotpStep, SmsStep, TotpSetupStep)


class BrowserLoginFlow(Flow):
    """Sign a user in at a tenant; the web layer then opens the SSO session."""

    name = "browser-login"
    completes = "login"
    designation = LOGIN
    steps = STEPS
    completion_requires = ("identified", "password")
    default_enabled = True
