"""The self-recovery flow's own steps on fakes (request, choose, new password) and which shared step runs on which path."""

from __future__ import annotations

from support.fakes import FakeServices, FakeUser, step_context, tenant_view
from support.messages import link_in

from flows.self_recovery import SelfRecoveryFlow
from flows.self_recovery import requests as recovery_requests
from flows.self_recovery.config import SelfRecoveryConfig
from flows.self_recovery.steps import ChooseStep, NewPasswordStep, RequestStep
from idp.flowengine.contract import Abort, Challenge, Failure, FlowState, RequestInfo, Success
from idp.flowengine.engine import FlowEngine
from idp.flowengine.registry import FlowRegistry

FLOW = "self-recovery"


def _ctx(services: FakeServices, user: FakeUser | None = None, proofs: tuple[str, ...] = ("email_link", "identified"), path: str = "", config: SelfRecoveryConfig | None = None, binding: str = "") -> object:
    flow_config = config or SelfRecoveryConfig()
    ctx = step_context(services, user=user, proofs=proofs, flow=FLOW, flow_config=flow_config, binding=binding)
    if path:
        ctx.state.step_data("choose")["path"] = path
    return ctx


def test_the_request_page_answers_the_same_for_a_known_and_an_unknown_login_and_mails_only_the_account(services: FakeServices, alice: FakeUser) -> None:
    step = RequestStep()
    assert step.challenge(_ctx(services, proofs=(), binding="request")) == Challenge("recovery/request.html", {"sent": False})
    known, unknown = _ctx(services, proofs=(), binding="request"), _ctx(services, proofs=(), binding="request")
    assert step.submit(known, {"login": " alice@example.org "}) == Challenge("recovery/request.html", {"sent": True})
    assert step.submit(unknown, {"login": "nobody"}) == Challenge("recovery/request.html", {"sent": True})
    recovery_requests.drain()
    assert known.state.step_data("request") == {"sent": True} and step.challenge(known) == Challenge("recovery/request.html", {"sent": True})
    assert [m.to for m in services.mailer.sent] == ["alice@example.org"]
    assert link_in(services.mailer.sent[0].text).startswith("https://idp.example.org/realms/acme/flow/self-recovery/enter?token=")
    assert services.audit.types() == ["recovery.requested", "recovery.email_sent"]


def test_the_request_needs_a_login(services: FakeServices) -> None:
    assert RequestStep().submit(_ctx(services, proofs=(), binding="request"), {"login": "   "}) == Failure("login_missing")


def test_the_choice_offers_the_configured_paths_and_records_the_one_taken(services: FakeServices, alice: FakeUser) -> None:
    both = _ctx(services, alice, binding="choose")
    assert ChooseStep().challenge(both) == Challenge("recovery/choose.html", {"offered": ["password", "second-factor"]})
    only = _ctx(services, alice, config=SelfRecoveryConfig(offer_password_reset=False), binding="choose")
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


def _next(services: FakeServices, user: FakeUser, path: str, proofs: tuple[str, ...] = ("email_link", "identified"), settings: dict | None = None) -> str | None:
    """The binding the engine runs next on ``path`` (the choice made), on fakes of the step port."""
    registry = FlowRegistry()
    registry.register(SelfRecoveryFlow)
    engine = FlowEngine(registry, services.store, services)  # type: ignore[arg-type]
    tenant = tenant_view({"flows": {FLOW: {"enabled": True, "settings": settings or {}}}})
    state = FlowState(id="run-1", tenant=tenant.slug, flow=FLOW, browser="b" * 64, user_id=user.id, proofs=list(proofs), done=["request", "choose"])
    state.step_data("choose")["path"] = path
    return engine.next_binding(tenant, state, RequestInfo(client_ip="203.0.113.7", user_agent="pytest", locale="en"))


def test_each_path_runs_its_own_bindings(services: FakeServices, alice: FakeUser) -> None:
    """The choice decides the sub-flow: the second-factor path starts with the password, the password path
    with the authenticator the user has (TOTP before SMS), and nothing runs before the choice."""
    services.factors.totp_codes[alice.id] = {"123456"}
    services.factors.sms_numbers[alice.id] = "+33612345678"
    assert _next(services, alice, "second-factor") == "password"
    assert _next(services, alice, "second-factor", proofs=("email_link", "identified", "password")) == "password"  # REQUIRED: runs once, in order
    assert _next(services, alice, "password") == "verify-totp"
    assert _next(services, alice, "password", proofs=("email_link", "identified", "totp")) == "new-password"  # a factor already proved


def test_the_password_path_proves_the_factor_the_user_has_or_none(services: FakeServices, alice: FakeUser) -> None:
    """Alternatives: the one configured for the user runs; with no second factor the password comes at once."""
    services.factors.sms_numbers[alice.id] = "+33612345678"
    assert _next(services, alice, "password") == "verify-sms"
    del services.factors.sms_numbers[alice.id]
    assert _next(services, alice, "password") == "new-password"


def test_a_path_without_a_binding_does_not_run_it(services: FakeServices, alice: FakeUser) -> None:
    """A step left out of the path's setting is DISABLED: for an account whose only factor it proves, the new
    password comes next and refuses (second_factor_required, tested above); the other alternative still runs."""
    services.factors.sms_numbers[alice.id] = "+33612345678"
    assert _next(services, alice, "password", settings={"password_path": ["verify-totp", "new-password"]}) == "new-password"
    services.factors.totp_codes[alice.id] = {"123456"}
    assert _next(services, alice, "password", settings={"password_path": ["verify-totp", "new-password"]}) == "verify-totp"


def test_a_recovery_code_proves_the_second_factor_on_the_password_path(services: FakeServices, alice: FakeUser) -> None:
    """Issue 14 item 3: with no authenticator or phone at hand, a saved code is the proof; the new password follows."""
    services.factors.totp_codes[alice.id] = {"123456"}
    services.factors.recovery_codes[alice.id] = {"one-code"}
    state_after_choice = _next(services, alice, "password")
    assert state_after_choice == "verify-totp"  # the authenticator first, a code one "other way" away
    del services.factors.totp_codes[alice.id]
    assert _next(services, alice, "password") == "verify-recovery-code"
    services.factors.active_rows[alice.id] = ["recovery_code"]
    proved = _ctx(services, alice, proofs=("email_link", "identified", "recovery_code"), path="password")
    assert NewPasswordStep().challenge(proved) == Challenge("recovery/new_password.html", {"min_length": 12, "max_length": 1024})


def test_a_passkey_proves_the_second_factor_on_the_password_path(services: FakeServices, alice: FakeUser) -> None:
    """Issue 14 (R-18, R-32): a user whose only second factor is a passkey proves it (``verify-passkey``, after the
    link alone) before the new password; left out of the path, nothing proves it and the new password refuses."""
    services.factors.passkey_users.add(alice.id)
    services.factors.active_rows[alice.id] = ["passkey"]
    assert _next(services, alice, "password") == "verify-passkey"
    assert _next(services, alice, "password", settings={"password_path": ["verify-passkey", "new-password"]}) == "verify-passkey"
    assert _next(services, alice, "password", proofs=("email_link", "identified", "passkey")) == "new-password"
    unproved = _ctx(services, alice, path="password")
    assert NewPasswordStep().challenge(unproved) == Abort("second_factor_required")
    assert NewPasswordStep().submit(unproved, {"password": "a brand new secret", "password_confirm": "a brand new secret"}) == Abort("second_factor_required")
    assert services.users.passwords_set == []
    # verify-totp alone cannot prove a passkey: the walk reaches the new password, which refuses
    assert _next(services, alice, "password", settings={"password_path": ["verify-totp", "new-password"]}) == "new-password"
    proved = _ctx(services, alice, proofs=("email_link", "identified", "passkey"), path="password")
    assert NewPasswordStep().challenge(proved) == Challenge("recovery/new_password.html", {"min_length": 12, "max_length": 1024})


def test_the_passkey_comes_first_on_the_password_path_as_at_sign_in(services: FakeServices, alice: FakeUser) -> None:
    """With a passkey and an authenticator, the passkey runs first (the sign-in's order); the app is one other way away."""
    services.factors.passkey_users.add(alice.id)
    services.factors.totp_codes[alice.id] = {"123456"}
    assert _next(services, alice, "password") == "verify-passkey"
    assert _next(services, alice, "password", settings={"password_path": ["verify-totp", "verify-sms", "verify-recovery-code", "new-password"]}) == "verify-totp"


def test_the_password_path_settings_accept_a_passkey_as_the_proof() -> None:
    """Issue 14: the default path validates and names ``verify-passkey``; a path of ``verify-passkey`` alone is a proof
    of a second factor; a path with none is refused naming every proof that would do (R-18)."""
    import pytest

    from idp.flowengine.contract import ConfigError

    default = SelfRecoveryConfig()
    default.check("flows.self-recovery.settings")
    assert default.password_path == ("verify-passkey", "verify-totp", "verify-sms", "verify-recovery-code", "new-password")
    SelfRecoveryConfig(password_path=("verify-passkey", "new-password")).check("flows.self-recovery.settings")
    with pytest.raises(ConfigError, match="without proving: passkey or totp or sms or recovery_code"):
        SelfRecoveryConfig(password_path=("new-password",)).check("flows.self-recovery.settings")
    with pytest.raises(ConfigError, match="must end with the 'new-password' step"):
        SelfRecoveryConfig(password_path=("new-password", "verify-passkey")).check("flows.self-recovery.settings")
