"""Recovery codes on fakes: the sign-in alternative and the page that shows a set once (issue 14, item 3)."""

from __future__ import annotations

from support.fakes import FakeServices, FakeUser, step_context

from flows.steps.recovery_code import RecoveryCodesStep, RecoveryCodeStep
from idp.flowengine.attempts import submit_attempt
from idp.flowengine.contract import Abort, Challenge, Failure, Success


def _ctx(services: FakeServices, user: FakeUser, binding: str, proofs: tuple[str, ...] = ("identified", "password")) -> object:
    return step_context(services, user=user, proofs=proofs, binding=binding)


def test_configured_only_for_a_user_with_a_set(services: FakeServices, alice: FakeUser) -> None:
    step = RecoveryCodeStep()
    assert not step.configured_for(_ctx(services, alice, "recovery-code"))
    assert step.challenge(_ctx(services, alice, "recovery-code")) == Abort("no_method_available", 403)
    services.factors.generate_recovery_codes(None, alice)
    assert step.configured_for(_ctx(services, alice, "recovery-code"))
    assert step.challenge(_ctx(services, alice, "recovery-code")) == Challenge("steps/recovery_code.html", {})


def test_a_code_passes_once_notifies_with_the_count_left_and_a_wrong_one_is_counted(services: FakeServices, alice: FakeUser) -> None:
    codes = services.factors.generate_recovery_codes(None, alice)
    ctx = _ctx(services, alice, "recovery-code")
    assert submit_attempt(RecoveryCodeStep(), ctx, {"code": codes[3]}) == Success(proofs=("recovery_code",), amr=("otp", "mfa"))
    assert services.factors.notices[-1][1] == "recovery_code_used_notice" and services.factors.notices[-1][2]["remaining"] == 9
    assert submit_attempt(RecoveryCodeStep(), ctx, {"code": codes[3]}) == Failure("invalid_code")  # single use
    assert services.throttle.methods() == ["check", "record_success", "check", "record_failure"]
    failed = [e for e in services.audit.events if e["type"] == "login.second_factor_failed"]
    assert failed and failed[0]["factor"] == "recovery_code"


def test_after_an_enrolment_a_new_set_is_shown_once_and_leaves_the_state_when_saved(services: FakeServices, alice: FakeUser) -> None:
    ctx = _ctx(services, alice, "recovery-codes", proofs=("identified", "password", "totp", "factor_enrolled"))
    page = RecoveryCodesStep().challenge(ctx)
    assert isinstance(page, Challenge) and len(page.context["codes"]) == 10
    assert RecoveryCodesStep().challenge(ctx) == page  # a reload shows the same set, not a new one
    assert "code-" not in str(ctx.step_data)  # kept sealed in the run's state
    assert RecoveryCodesStep().submit(ctx, {}) == Success()
    assert ctx.step_data == {}


def test_after_a_code_was_used_the_page_says_how_many_remain_and_offers_a_new_set_when_few(services: FakeServices, alice: FakeUser) -> None:
    services.factors.recovery_codes[alice.id] = {"a", "b"}
    ctx = _ctx(services, alice, "recovery-codes", proofs=("identified", "password", "recovery_code"))
    assert RecoveryCodesStep().challenge(ctx) == Challenge("steps/recovery_codes.html", {"codes": [], "left": 2, "few": True})
    fresh = RecoveryCodesStep().submit(ctx, {"action": "generate"})
    assert isinstance(fresh, Challenge) and len(fresh.context["codes"]) == 10
    assert services.factors.recovery_codes_left(None, alice) == 10
