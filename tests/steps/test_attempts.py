"""The engine counts a step's attempts, audits and notifies (issue 13, item 3; R-06, R-46, R-55, R-83).

A new step that checks a secret writes none of that: it declares :class:`Attempts` and answers
``Success`` or ``Failure``. These tests use such a step, with no bookkeeping of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from support.fakes import AGENT, IP, FakeServices, FakeUser, step_context

from idp.flowengine.attempts import submit_attempt
from idp.flowengine.contract import Attempts, Challenge, Failure, Outcome, Step, StepContext, Success


class PinStep(Step):
    """A made-up factor: the right PIN is 2468; "send again" tries nothing; "boom" fails inside the check."""

    name = "pin"
    requires = ("password",)
    provides = ("pin",)
    attempts = Attempts(factor="pin")

    def attempt(self, ctx: StepContext, form: Mapping[str, str]) -> Any:
        return None if form.get("action") == "resend" else ctx.user

    def challenge(self, ctx: StepContext) -> Outcome:
        return Challenge("steps/pin.html")

    def submit(self, ctx: StepContext, form: Mapping[str, str]) -> Outcome:
        pin = form.get("pin", "")
        if pin == "boom":
            raise RuntimeError("the check itself failed")
        if pin == "":
            return Failure("code_expired", counted=False)
        if form.get("action") == "resend":
            return Challenge("steps/pin.html", {"notice": "resent"})
        return Success(proofs=("pin",)) if pin == "2468" else Failure("invalid_code", reason="invalid")


class PlainStep(PinStep):
    """The same step without :attr:`Step.attempts`: the engine leaves it alone."""

    attempts = None


def _ctx(services: FakeServices, user: FakeUser, proofs: tuple[str, ...] = ("identified", "password")) -> StepContext:
    return step_context(services, user=user, proofs=proofs, binding="pin")


def test_a_right_secret_resets_the_counters_and_is_audited_with_its_factor(services: FakeServices, alice: FakeUser) -> None:
    assert submit_attempt(PinStep(), _ctx(services, alice), {"pin": "2468"}) == Success(proofs=("pin",))
    assert services.throttle.calls == [("check", alice.id, "pin"), ("record_success", alice.id, "pin")]
    assert services.audit.events == [
        {
            "tenant_id": 1,
            "type": "login.second_factor_ok",
            "user_id": alice.id,
            "client_ip": IP,
            "user_agent": AGENT,
            "flow": "browser-login",
            "factor": "pin",
        }
    ]


def test_a_wrong_secret_counts_is_audited_with_its_reason_and_notifies_once_per_run(services: FakeServices, alice: FakeUser) -> None:
    ctx = _ctx(services, alice)
    for _ in range(2):
        assert submit_attempt(PinStep(), ctx, {"pin": "0000"}) == Failure("invalid_code", reason="invalid")
    assert services.throttle.methods() == ["check", "record_failure"] * 2
    assert services.audit.types() == ["login.second_factor_failed"] * 2
    assert services.audit.events[0]["reason"] == "invalid" and services.audit.events[0]["factor"] == "pin"
    assert services.factors.notices == [(alice.id, "failed_second_factor_notice", {"factor": "pin"})]  # R-55, once


def test_no_notice_before_the_password_is_proved(services: FakeServices, alice: FakeUser) -> None:
    submit_attempt(PinStep(), _ctx(services, alice, proofs=("email_link",)), {"pin": "0000"})
    assert services.audit.types() == ["login.second_factor_failed"] and services.factors.notices == []


def test_a_throttled_attempt_is_refused_with_the_wait_and_the_step_never_checks(services: FakeServices, alice: FakeUser) -> None:
    services.throttle.wait = 17
    assert submit_attempt(PinStep(), _ctx(services, alice), {"pin": "2468"}) == Failure("too_many_attempts", {"retry_after": 17}, status=429)
    assert services.throttle.methods() == ["check"] and services.audit.events == []


def test_a_submission_that_tries_nothing_is_not_throttled(services: FakeServices, alice: FakeUser) -> None:
    services.throttle.wait = 17
    assert submit_attempt(PinStep(), _ctx(services, alice), {"action": "resend", "pin": "x"}) == Challenge("steps/pin.html", {"notice": "resent"})
    assert services.throttle.calls == [] and services.audit.events == []


def test_a_refusal_that_checked_nothing_gives_its_slot_back(services: FakeServices, alice: FakeUser) -> None:
    assert submit_attempt(PinStep(), _ctx(services, alice), {"pin": ""}) == Failure("code_expired", counted=False)
    assert services.throttle.methods() == ["check", "release"] and services.audit.events == []


def test_a_check_that_raises_gives_its_slot_back(services: FakeServices, alice: FakeUser) -> None:
    with pytest.raises(RuntimeError):
        submit_attempt(PinStep(), _ctx(services, alice), {"pin": "boom"})
    assert services.throttle.methods() == ["check", "release"] and services.audit.events == []


def test_a_step_without_attempts_is_left_alone(services: FakeServices, alice: FakeUser) -> None:
    assert submit_attempt(PlainStep(), _ctx(services, alice), {"pin": "0000"}) == Failure("invalid_code", reason="invalid")
    assert services.throttle.calls == [] and services.audit.events == [] and services.factors.notices == []


def test_every_shipped_step_that_checks_a_secret_declares_its_attempts() -> None:
    """The password, TOTP, SMS and enrolment steps leave throttling and audit to the engine."""
    from flows.steps.password import PasswordStep
    from flows.steps.sms import SmsStep
    from flows.steps.totp import TotpStep
    from flows.steps.totp_setup import TotpSetupStep

    factors = {step.name: step.attempts.factor for step in (PasswordStep, TotpStep, SmsStep, TotpSetupStep) if step.attempts}
    assert factors == {"password": "password", "totp": "totp", "sms": "sms", "totp-setup": "totp"}
