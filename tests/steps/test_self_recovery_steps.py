"""The self-recovery flow's own steps on fakes (request, choose, new password) and which shared step runs on which path."""

from __future__ import annotations

from support.fakes import FakeServices, FakeUser, step_context
from support.messages import link_in

from flows.self_recovery import (
    RecoveryNewPasswordStep,
    RecoveryPasswordStep,
    RecoverySmsStep,
    RecoveryTotpSetupStep,
    SelfRecoveryFlow,
    VerifySmsStep,
    VerifyTotpStep,
)
from flows.self_recovery import requests as recovery_requests
from flows.self_recovery.config import SelfRecoveryConfig
from flows.self_recovery.steps import ChooseStep, NewPasswordStep, RequestStep
from idp.flowengine.contract import Abort, Challenge, Failure, Success

FLOW = "self-recovery"


def _ctx(services: FakeServices, user: FakeUser | None = None, proofs: tuple[str, ...] = ("email_link", "identified"), path: str = "", config: SelfRecoveryConfig | None = None, step: type | None = None) -> object:
    flow_config = config or SelfRecoveryConfig()
    step_config = SelfRecoveryFlow().step_config(step, flow_config) if step is not None else None
    ctx = step_context(services, user=user, proofs=proofs, flow=FLOW, config=step_config, flow_config=flow_config)
    if path:
        ctx.state.step_data("choose")["path"] = path
    return ctx


def test_the_request_page_answers_the_same_for_a_known_and_an_unknown_login_and_mails_only_the_account(services: FakeServices, alice: FakeUser) -> None:
    step = RequestStep()
    assert step.challenge(_ctx(services, proofs=())) == Challenge("recovery/request.html", {"sent": False})
    known, unknown = _ctx(services, proofs=()), _ctx(services, proofs=())
    assert step.submit(known, {"login": " alice@example.org "}) == Challenge("recovery/request.html", {"sent": True})
    assert step.submit(unknown, {"login": "nobody"}) == Challenge("recovery/request.html", {"sent": True})
    recovery_requests.drain()
    assert known.state.step_data("request") == {"sent": True} and step.challenge(known) == Challenge("recovery/request.html", {"sent": True})
    assert [m.to for m in services.mailer.sent] == ["alice@example.org"]
    assert link_in(services.mailer.sent[0].text).startswith("https://idp.example.org/realms/acme/flow/self-recovery/enter?token=")
    assert services.audit.types() == ["recovery.requested", "recovery.email_sent"]


def test_the_request_needs_a_login_and_is_skipped_once_the_link_is_proved(services: FakeServices) -> None:
    assert RequestStep().submit(_ctx(services, proofs=()), {"login": "   "}) == Failure("login_missing")
    assert not RequestStep().applies(_ctx(services))
    assert RequestStep().applies(_ctx(services, proofs=()))


def test_the_choice_offers_the_configured_paths_and_records_the_one_taken(services: FakeServices, alice: FakeUser) -> None:
    both = _ctx(services, alice)
    assert ChooseStep().challenge(both) == Challenge("recovery/choose.html", {"offered": ["password", "second-factor"]})
    only = _ctx(services, alice, config=SelfRecoveryConfig(offer_password_reset=False))
    assert ChooseStep().challenge(only) == Challenge("recovery/choose.html", {"offered": ["second-factor"]})
    assert ChooseStep().submit(only, {"path": "password"}) == Failure("choose_a_path", status=400)
    assert ChooseStep().submit(both, {"path": "elsewhere"}) == Failure("choose_a_path", status=400)
    assert ChooseStep().submit(both, {"path": "second-factor"}) == Success()
    assert both.state.step_data("choose") == {"path": "second-factor"}


def test_the_new_password_needs_a_proved_second_factor_when_the_account_has_one(services: FakeServices, alice: FakeUser) -> None:
    services.factors.active_rows[alice.id] = ["totp"]
    assert NewPasswordStep().challenge(_ctx(services, alice, path="password")) == Abort("second_factor_required")
    assert NewPasswordStep().submit(_ctx(services, alice, path="password"), {"password": "x" * 20, "password_confirm": "x" * 20}) == Abort("second_factor_required")
    proved = _ctx(services, alice, proofs=("email_link", "identified", "totp"), path="password")
    assert NewPasswordStep().challenge(proved) == Challenge("recovery/new_password.html", {"min_length": 12, "max_length": 1024})
    assert NewPasswordStep().challenge(_ctx(services, None, path="password")) == Abort("steps_out_of_order")
    assert services.users.passwords_set == []


def test_the_new_password_is_typed_twice_checked_by_the_policy_and_saved(services: FakeServices, alice: FakeUser) -> None:
    ctx = _ctx(services, alice, proofs=("email_link", "identified", "sms"), path="password")
    assert NewPasswordStep().submit(ctx, {"password": "a brand new secret", "password_confirm": "a brand new secrex"}) == Failure("passwords_differ")
    assert NewPasswordStep().submit(ctx, {"password": "short", "password_confirm": "short"}) == Failure("password_too_short")
    assert services.users.passwords_set == []
    assert NewPasswordStep().submit(ctx, {"password": "a brand new secret", "password_confirm": "a brand new secret"}) == Success(proofs=("password_replaced",))
    assert services.users.passwords_set == [(alice.id, "a brand new secret")]


def test_each_path_runs_its_own_steps(services: FakeServices, alice: FakeUser) -> None:
    services.factors.totp_codes[alice.id] = {"123456"}
    services.factors.sms_numbers[alice.id] = "+33612345678"
    second = {s: s().applies(_ctx(services, alice, path="second-factor", step=s)) for s in SelfRecoveryFlow.steps[2:]}
    assert second == {
        RecoveryPasswordStep: True, RecoverySmsStep: True, RecoveryTotpSetupStep: True,
        VerifyTotpStep: False, VerifySmsStep: False, RecoveryNewPasswordStep: False,
    }
    password = {s: s().applies(_ctx(services, alice, path="password", step=s)) for s in SelfRecoveryFlow.steps[2:]}
    assert password == {
        RecoveryPasswordStep: False, RecoverySmsStep: False, RecoveryTotpSetupStep: False,
        VerifyTotpStep: True, VerifySmsStep: True, RecoveryNewPasswordStep: True,
    }
    proved = _ctx(services, alice, proofs=("email_link", "identified", "totp"), path="password", step=VerifySmsStep)
    assert not VerifySmsStep().applies(proved) and not VerifyTotpStep().applies(proved)
    assert not any(s().applies(_ctx(services, alice, step=s)) for s in SelfRecoveryFlow.steps[2:])  # nothing before the choice


def test_a_path_without_a_step_does_not_run_it(services: FakeServices, alice: FakeUser) -> None:
    services.factors.totp_codes[alice.id] = {"123456"}
    config = SelfRecoveryConfig(password_path=("verify-totp", "new-password"))
    assert not VerifySmsStep().applies(_ctx(services, alice, path="password", config=config))
    assert VerifyTotpStep().applies(_ctx(services, alice, path="password", config=config))
