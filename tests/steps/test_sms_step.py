"""SmsStep on fakes: login and recovery (only_path) uses, sending, resending, checks, throttle, audit (R-30, R-35, R-43, R-53)."""

from __future__ import annotations

from support.fakes import FakeServices, FakeUser, step_context

from flows.steps.sms import SmsStep
from idp.accounts.factor_results import SmsCheck
from idp.flowengine.attempts import submit_attempt
from idp.flowengine.contract import Abort, Challenge, Failure, Success

PHONE = "+33612345678"
RECOVERY = SmsStep.Config(only_path=True, sender_id="ACME", support_url="https://help.example.org")


def _ctx(services: FakeServices, user: FakeUser, config: object = None, proofs: tuple[str, ...] = ("identified", "password")) -> object:
    return step_context(services, binding="sms", user=user, proofs=proofs, config=config)


def test_configured_at_login_only_for_a_user_with_an_sms_factor(services: FakeServices, alice: FakeUser) -> None:
    step = SmsStep()
    assert not step.configured_for(_ctx(services, alice))
    services.factors.sms_numbers[alice.id] = PHONE
    assert step.configured_for(_ctx(services, alice))
    assert not step.configured_for(step_context(services, binding="sms"))


def test_recovery_use_sends_to_the_number_on_file(services: FakeServices, alice: FakeUser) -> None:
    services.factors.phones_on_file[alice.id] = PHONE
    assert SmsStep().configured_for(_ctx(services, alice, RECOVERY, ("email_link", "password")))
    assert not SmsStep().configured_for(_ctx(services, alice, None, ("email_link", "password")))  # no SMS factor: not at sign-in


def test_the_first_page_sends_one_code_for_this_run_and_shows_the_masked_number(services: FakeServices, alice: FakeUser) -> None:
    services.factors.sms_numbers[alice.id] = PHONE
    ctx = _ctx(services, alice)
    page = SmsStep().challenge(ctx)
    assert isinstance(page, Challenge) and page.template == "steps/sms.html"
    assert page.context["masked_number"] == "+33*******78" and page.context["only_path"] is False
    assert services.factors.sms_sent == [{"user_id": alice.id, "flow_id": "run-1", "to": PHONE, "locale": "en", "sender_id": ""}]
    SmsStep().challenge(ctx)  # shown again (a reload): no second code
    assert len(services.factors.sms_sent) == 1


def test_recovery_sends_to_the_number_on_file_with_its_sender_and_support_link(services: FakeServices, alice: FakeUser) -> None:
    services.factors.phones_on_file[alice.id] = "+33700000001"
    services.factors.sms_numbers[alice.id] = PHONE
    page = SmsStep().challenge(_ctx(services, alice, RECOVERY))
    assert isinstance(page, Challenge) and page.context["only_path"] is True and page.context["support_url"] == "https://help.example.org"
    assert services.factors.sms_sent[0]["to"] == "+33700000001" and services.factors.sms_sent[0]["sender_id"] == "ACME"


def test_no_number_ends_the_run_with_the_support_link_and_an_audit_event(services: FakeServices, alice: FakeUser) -> None:
    outcome = SmsStep().challenge(_ctx(services, alice, RECOVERY))
    assert outcome == Abort("no_phone", 400, {"support_url": "https://help.example.org"})
    assert services.audit.types() == ["login.second_factor_unavailable"]
    assert services.audit.events[0]["reason"] == "no_phone" and services.audit.events[0]["factor"] == "sms"


def test_provider_refusals_map_to_the_page_messages(services: FakeServices, alice: FakeUser) -> None:
    services.factors.sms_numbers[alice.id] = PHONE
    for code, message in [("sms_country_not_allowed", "sms_unavailable"), ("sms_opted_out", "sms_opted_out"), ("sms_cap_reached", "sms_cap_reached"), ("something_new", "sms_unavailable")]:
        services.factors.send_error = code
        outcome = SmsStep().challenge(_ctx(services, alice))
        assert isinstance(outcome, Abort) and outcome.error == message, code


def test_a_cooldown_on_the_first_page_shows_the_page_with_the_wait(services: FakeServices, alice: FakeUser) -> None:
    services.factors.sms_numbers[alice.id] = PHONE
    services.factors.send_error, services.factors.send_error_params = "sms_cooldown", {"retry_after": 17}
    page = SmsStep().challenge(_ctx(services, alice))
    assert isinstance(page, Challenge) and page.context["notice"] == "sms_cooldown" and page.context["retry_after"] == 17
    assert services.audit.events == []


def test_resend_sends_a_new_code_or_says_to_wait(services: FakeServices, alice: FakeUser) -> None:
    services.factors.sms_numbers[alice.id] = PHONE
    ctx = _ctx(services, alice)
    SmsStep().challenge(ctx)
    page = submit_attempt(SmsStep(), ctx, {"action": "resend"})
    assert isinstance(page, Challenge) and page.context["notice"] == "sms_resent" and len(services.factors.sms_sent) == 2
    services.factors.send_error, services.factors.send_error_params = "sms_cooldown", {"retry_after": 9}
    assert submit_attempt(SmsStep(), ctx, {"action": "resend"}) == Failure("sms_cooldown", {"retry_after": 9}, status=429)
    services.factors.send_error = "sms_opted_out"
    assert submit_attempt(SmsStep(), ctx, {"action": "resend"}) == Failure("sms_opted_out", {"support_url": ""})
    assert services.throttle.calls == []


def test_a_right_code_proves_sms_with_mfa_amr_and_is_audited(services: FakeServices, alice: FakeUser) -> None:
    services.factors.sms_numbers[alice.id] = PHONE
    services.factors.sms_checks = [SmsCheck(ok=True, reason="ok")]
    ctx = _ctx(services, alice)
    assert submit_attempt(SmsStep(), ctx, {"code": "123456"}) == Success(proofs=("sms",), amr=("sms", "mfa"))
    assert services.factors.sms_verified == [(alice.id, "run-1", "123456")]
    assert services.throttle.calls == [("check", alice.id, "sms"), ("record_success", alice.id, "sms")]
    assert services.audit.types() == ["login.second_factor_ok"] and services.audit.events[0]["factor"] == "sms"


def test_wrong_codes_say_how_many_tries_are_left_then_that_the_code_is_void(services: FakeServices, alice: FakeUser) -> None:
    services.factors.sms_numbers[alice.id] = PHONE
    services.factors.sms_checks = [SmsCheck(ok=False, reason="invalid", attempts_left=2), SmsCheck(ok=False, reason="exhausted")]
    ctx = _ctx(services, alice)
    SmsStep().challenge(ctx)
    assert submit_attempt(SmsStep(), ctx, {"code": "000000"}) == Failure("invalid_code", {"attempts_left": 2}, reason="invalid")
    assert submit_attempt(SmsStep(), ctx, {"code": "000001"}) == Failure("code_exhausted", reason="exhausted")
    assert services.throttle.methods() == ["check", "record_failure", "check", "record_failure"]
    assert [e["reason"] for e in services.audit.events] == ["invalid", "exhausted"]
    assert services.factors.notices == [(alice.id, "failed_second_factor_notice", {"factor": "sms"})]


def test_an_expired_code_counts_as_an_attempt_only_when_one_was_sent(services: FakeServices, alice: FakeUser) -> None:
    services.factors.sms_numbers[alice.id] = PHONE
    never_sent = _ctx(services, alice)
    assert submit_attempt(SmsStep(), never_sent, {"code": "123456"}) == Failure("code_expired", counted=False)
    assert services.throttle.methods() == ["check", "release"] and services.audit.events == []
    services.throttle.calls.clear()
    sent = _ctx(services, alice)
    SmsStep().challenge(sent)
    assert submit_attempt(SmsStep(), sent, {"code": "123456"}) == Failure("code_expired", reason="expired")
    assert services.throttle.methods() == ["check", "record_failure"] and services.audit.types() == ["login.second_factor_failed"]


def test_a_throttled_account_gets_429_without_a_check(services: FakeServices, alice: FakeUser) -> None:
    services.factors.sms_numbers[alice.id] = PHONE
    services.throttle.wait = 60
    assert submit_attempt(SmsStep(), _ctx(services, alice), {"code": "123456"}) == Failure("too_many_attempts", {"retry_after": 60}, status=429)
    assert services.factors.sms_verified == []
