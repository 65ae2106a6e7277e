"""TotpSetupStep on fakes: the required action and the recovery's replacement (R-84, R-85, R-98)."""

from __future__ import annotations

import pyotp
from support.fakes import FakeServices, FakeUser, step_context

from flows.steps.totp_setup import TotpSetupStep
from idp.flowengine.attempts import submit_attempt
from idp.flowengine.contract import Abort, Challenge, Failure, Success

REPLACE = TotpSetupStep.Config(replace_existing=True, label="New phone")


def test_configured_for_a_user_without_second_factor_and_always_when_replacing(services: FakeServices, alice: FakeUser) -> None:
    """At sign-in, enrolment is the alternative of a user with no second factor (whether one is needed is the
    login flow's condition); replacing, it always runs (after the proofs the planner demands)."""
    step = TotpSetupStep()
    assert step.configured_for(step_context(services, binding="totp-setup", user=alice, proofs=("password",)))
    services.factors.sms_numbers[alice.id] = "+33612345678"
    assert not step.configured_for(step_context(services, binding="totp-setup", user=alice, proofs=("password",)))  # has a factor
    assert step.configured_for(step_context(services, binding="totp-setup", user=alice, proofs=("password", "sms"), config=REPLACE))
    assert TotpSetupStep.needs(REPLACE) == ("email_link", "password", "sms") and TotpSetupStep.needs(TotpSetupStep.Config()) == ()


def test_the_page_keeps_one_sealed_secret_for_the_run(services: FakeServices, alice: FakeUser) -> None:
    ctx = step_context(services, binding="totp-setup", user=alice, proofs=("password",))
    first = TotpSetupStep().challenge(ctx)
    assert isinstance(first, Challenge) and first.template == "steps/totp_setup.html"
    sealed = ctx.state.step_data("totp-setup")["pending"]
    secret = services.factors.open_pending(sealed)
    assert secret not in sealed  # never in clear in the run's state
    assert first.context["secret_groups"].replace(" ", "") == secret
    assert first.context["issuer"] == "Acme" and first.context["account"] == "alice" and first.context["replace"] is False
    assert first.context["no_store"] is True and "<svg" in str(first.context["qr_svg"])
    again = TotpSetupStep().challenge(ctx)
    assert isinstance(again, Challenge) and again.context["secret_groups"] == first.context["secret_groups"]
    assert TotpSetupStep().challenge(step_context(services, binding="totp-setup", proofs=("password",))) == Abort("steps_out_of_order")


def test_a_right_first_code_enrols_and_proves_totp(services: FakeServices, alice: FakeUser) -> None:
    ctx = step_context(services, binding="totp-setup", user=alice, proofs=("identified", "password"))
    TotpSetupStep().challenge(ctx)
    secret = services.factors.open_pending(ctx.state.step_data("totp-setup")["pending"])
    outcome = submit_attempt(TotpSetupStep(), ctx, {"code": pyotp.TOTP(secret).now()})
    assert outcome == Success(proofs=("totp", "factor_enrolled"), amr=("otp", "mfa"))
    assert "pending" not in ctx.state.step_data("totp-setup")
    enrolled = services.factors.enrolled[0]
    assert enrolled["secret"] == secret and enrolled["replace_existing"] is False and enrolled["label"] == "Authenticator"
    assert enrolled["actor"] == f"user:{alice.id}"
    assert services.throttle.calls == [("check", alice.id, "totp"), ("record_success", alice.id, "totp")]


def test_replacing_proves_factor_replaced_with_the_recovery_actor(services: FakeServices, alice: FakeUser) -> None:
    ctx = step_context(services, binding="totp-setup", user=alice, proofs=("email_link", "password", "sms"), config=REPLACE)
    TotpSetupStep().challenge(ctx)
    secret = services.factors.open_pending(ctx.state.step_data("totp-setup")["pending"])
    assert submit_attempt(TotpSetupStep(), ctx, {"code": pyotp.TOTP(secret).now()}) == Success(proofs=("totp", "factor_replaced"), amr=("otp", "mfa"))
    enrolled = services.factors.enrolled[0]
    assert enrolled["replace_existing"] is True and enrolled["actor"] == f"recovery:{alice.id}" and enrolled["label"] == "New phone"


def test_a_wrong_first_code_fails_counts_and_audits_and_keeps_the_secret(services: FakeServices, alice: FakeUser) -> None:
    ctx = step_context(services, binding="totp-setup", user=alice, proofs=("password",))
    TotpSetupStep().challenge(ctx)
    secret = services.factors.open_pending(ctx.state.step_data("totp-setup")["pending"])
    wrong = "000000" if pyotp.TOTP(secret).now() != "000000" else "111111"
    assert submit_attempt(TotpSetupStep(), ctx, {"code": wrong}) == Failure("invalid_code")
    assert services.throttle.methods() == ["check", "record_failure"]
    assert services.audit.types() == ["factor.enrolment_failed"] and services.audit.events[0]["factor"] == "totp"
    assert "pending" in ctx.state.step_data("totp-setup") and services.factors.enrolled == []


def test_no_pending_secret_or_a_throttled_account_refuses_the_code(services: FakeServices, alice: FakeUser) -> None:
    assert submit_attempt(TotpSetupStep(), step_context(services, binding="totp-setup", user=alice, proofs=("password",)), {"code": "123456"}) == Failure("code_expired", counted=False)
    assert services.throttle.calls == []
    ctx = step_context(services, binding="totp-setup", user=alice, proofs=("password",))
    TotpSetupStep().challenge(ctx)
    services.throttle.wait = 5
    assert submit_attempt(TotpSetupStep(), ctx, {"code": "123456"}) == Failure("too_many_attempts", {"retry_after": 5}, status=429)
    assert services.factors.enrolled == []
