"""TotpStep on fakes: whom it is configured for, the SMS alternative, codes, throttle, audit, notice (R-30, R-55, R-82)."""

from __future__ import annotations

from support.fakes import FakeServices, FakeUser, step_context

from flows.steps.totp import TotpStep
from idp.flowengine.attempts import submit_attempt
from idp.flowengine.contract import Abort, Challenge, Failure, Skip, Success


def _with_totp(services: FakeServices, user: FakeUser, *codes: str) -> None:
    services.factors.totp_codes[user.id] = set(codes or ("123456",))


def test_configured_only_for_an_identified_user_with_an_authenticator(services: FakeServices, alice: FakeUser) -> None:
    """An ALTERNATIVE binding of the step runs only for a user who has the factor (the policy is the
    login flow's condition, tested in test_login_bindings.py)."""
    step = TotpStep()
    assert not step.configured_for(step_context(services, binding="totp"))  # nobody identified
    assert not step.configured_for(step_context(services, binding="totp", user=alice, proofs=("password",)))  # no authenticator
    assert step.challenge(step_context(services, binding="totp", user=alice, proofs=("password",))) == Abort("no_method_available", 403)  # bound REQUIRED
    _with_totp(services, alice)
    assert step.configured_for(step_context(services, binding="totp", user=alice, proofs=("password",)))


def test_the_page_offers_sms_only_with_an_sms_factor_and_when_the_binding_allows_it(services: FakeServices, alice: FakeUser) -> None:
    _with_totp(services, alice)
    ctx = step_context(services, binding="totp", user=alice, proofs=("password",))
    assert TotpStep().challenge(ctx) == Challenge("steps/totp.html", {"sms_offered": False})
    services.factors.sms_numbers[alice.id] = "+33612345678"
    assert TotpStep().challenge(ctx) == Challenge("steps/totp.html", {"sms_offered": True})
    no_sms = step_context(services, binding="totp", user=alice, proofs=("password",), config=TotpStep.Config(offer_sms=False))
    assert TotpStep().challenge(no_sms) == Challenge("steps/totp.html", {"sms_offered": False})


def test_use_sms_skips_the_step_when_offered_and_fails_when_not(services: FakeServices, alice: FakeUser) -> None:
    _with_totp(services, alice)
    ctx = step_context(services, binding="totp", user=alice, proofs=("password",))
    assert submit_attempt(TotpStep(), ctx, {"action": "use_sms"}) == Failure("sms_unavailable")
    assert "declined" not in ctx.state.step_data("totp")
    services.factors.sms_numbers[alice.id] = "+33612345678"
    assert submit_attempt(TotpStep(), ctx, {"action": "use_sms"}) == Skip()
    assert ctx.state.step_data("totp") == {"declined": True}
    assert services.throttle.calls == [] and services.factors.totp_verified == []


def test_a_right_code_after_the_password_proves_totp_with_mfa_amr(services: FakeServices, alice: FakeUser) -> None:
    _with_totp(services, alice, "246810")
    ctx = step_context(services, binding="totp", user=alice, proofs=("identified", "password"))
    assert submit_attempt(TotpStep(), ctx, {"code": "246810"}) == Success(proofs=("totp",), amr=("otp", "mfa"), audited=True)
    assert services.throttle.calls == [("check", alice.id, "totp"), ("record_success", alice.id, "totp")]
    assert services.factors.totp_verified[0]["ok_event"] == "login.second_factor_ok"
    assert services.factors.totp_verified[0]["ok_details"] == {"flow": "browser-login", "factor": "totp"}
    assert services.audit.types() == ["login.second_factor_ok"]
    assert services.factors.notices == []


def test_without_a_proved_password_the_amr_is_otp_alone(services: FakeServices, alice: FakeUser) -> None:
    _with_totp(services, alice, "246810")
    ctx = step_context(services, binding="totp", user=alice, proofs=("email_link",), config=TotpStep.Config())
    assert submit_attempt(TotpStep(), ctx, {"code": "246810"}) == Success(proofs=("totp",), amr=("otp",), audited=True)


def test_a_wrong_code_fails_counts_audits_and_notifies_the_user_once_per_run(services: FakeServices, alice: FakeUser) -> None:
    _with_totp(services, alice, "246810")
    ctx = step_context(services, binding="totp", user=alice, proofs=("identified", "password"))
    assert submit_attempt(TotpStep(), ctx, {"code": "000000"}) == Failure("invalid_code", reason="invalid")
    assert submit_attempt(TotpStep(), ctx, {"code": "111111"}) == Failure("invalid_code", reason="invalid")
    assert services.throttle.methods() == ["check", "record_failure", "check", "record_failure"]
    failed = [e for e in services.audit.events if e["type"] == "login.second_factor_failed"]
    assert len(failed) == 2 and failed[0]["factor"] == "totp" and failed[0]["reason"] == "invalid" and failed[0]["user_id"] == alice.id
    assert services.factors.notices == [(alice.id, "failed_second_factor_notice", {"factor": "totp"})]  # once


def test_no_notice_when_the_password_was_not_proved(services: FakeServices, alice: FakeUser) -> None:
    _with_totp(services, alice)
    ctx = step_context(services, binding="totp", user=alice, proofs=("email_link",), config=TotpStep.Config())
    assert submit_attempt(TotpStep(), ctx, {"code": "000000"}) == Failure("invalid_code", reason="invalid")
    assert services.factors.notices == []


def test_a_replayed_code_is_refused_as_such(services: FakeServices, alice: FakeUser) -> None:
    _with_totp(services, alice, "246810")
    first = step_context(services, binding="totp", user=alice, proofs=("password",))
    assert isinstance(submit_attempt(TotpStep(), first, {"code": "246810"}), Success)
    again = step_context(services, binding="totp", user=alice, proofs=("password",))
    assert submit_attempt(TotpStep(), again, {"code": "246810"}) == Failure("code_replayed", reason="replay")
    assert services.audit.events[-1]["reason"] == "replay"


def test_a_throttled_account_gets_429_with_retry_after_and_no_check(services: FakeServices, alice: FakeUser) -> None:
    _with_totp(services, alice, "246810")
    services.throttle.wait = 42
    ctx = step_context(services, binding="totp", user=alice, proofs=("password",))
    assert submit_attempt(TotpStep(), ctx, {"code": "246810"}) == Failure("too_many_attempts", {"retry_after": 42}, status=429)
    assert services.factors.totp_verified == [] and services.throttle.methods() == ["check"] and services.audit.events == []
