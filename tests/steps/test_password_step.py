"""PasswordStep on fakes: outcomes, error ids, throttle and audit (R-06, R-28)."""

from __future__ import annotations

from support.fakes import AGENT, IP, FakeServices, FakeUser, step_context

from flows.steps.password import MAX_LOGIN, MAX_PASSWORD, PasswordStep
from idp.flowengine.attempts import submit_attempt
from idp.flowengine.contract import Challenge, Failure, Success
from steps.conftest import PASSWORD


def test_the_page_asks_for_the_username_with_the_login_hint_when_nobody_is_identified(services: FakeServices) -> None:
    ctx = step_context(services, binding="password", auth_request={"login_hint": "bob@example.org"})
    page = PasswordStep().challenge(ctx)
    assert isinstance(page, Challenge) and page.template == "login/password.html"
    assert page.context == {"ask_username": True, "username": "bob@example.org", "passkey_options": '{"challenge": "AAAA", "rpId": "localhost"}'}
    assert ctx.state.step_data("password")["passkey_ceremony"] == "fake-ceremony"  # the challenge stays server-side


def test_the_page_asks_for_the_password_only_for_an_identified_user(services: FakeServices, alice: FakeUser) -> None:
    ctx = step_context(services, binding="password", user=alice, auth_request={"login_hint": "someone-else"})
    page = PasswordStep().challenge(ctx)
    assert isinstance(page, Challenge) and page.context == {"ask_username": False, "username": ""}


def test_right_password_succeeds_with_proofs_amr_user_audit_and_throttle(services: FakeServices, alice: FakeUser) -> None:
    ctx = step_context(services, binding="password")
    outcome = submit_attempt(PasswordStep(), ctx, {"username": " Alice@Example.org ", "password": PASSWORD})
    assert outcome == Success(proofs=("identified", "password"), amr=("pwd",), user_id=alice.id)
    assert ctx.reads.user is alice  # handed on to the next steps of the request
    assert services.throttle.calls == [("check", alice.id, "password"), ("record_success", alice.id, "password")]
    assert services.audit.events == [
        {"tenant_id": 1, "type": "login.password_ok", "user_id": alice.id, "client_ip": IP, "user_agent": AGENT, "flow": "browser-login", "factor": "password"}
    ]


def test_wrong_password_fails_and_counts_against_the_account(services: FakeServices, alice: FakeUser) -> None:
    outcome = submit_attempt(PasswordStep(), step_context(services, binding="password"), {"username": "alice", "password": "wrong"})
    assert outcome == Failure("invalid_credentials", {"username": "alice"})
    assert services.throttle.calls == [("check", alice.id, "password"), ("record_failure", alice.id, "password")]
    assert services.audit.types() == ["login.password_failed"] and services.audit.events[0]["user_id"] == alice.id


def test_an_unknown_login_fails_the_same_way_and_is_throttled_under_what_was_typed(services: FakeServices) -> None:
    outcome = submit_attempt(PasswordStep(), step_context(services, binding="password"), {"username": "nobody", "password": "whatever"})
    assert outcome == Failure("invalid_credentials", {"username": "nobody"})
    assert services.users.verified == [(None, "whatever")]  # the hashing time is spent for unknown users too
    assert services.throttle.calls == [("check", "nobody", "password"), ("record_failure", "nobody", "password")]
    assert services.audit.types() == ["login.password_failed"] and services.audit.events[0]["user_id"] is None


def test_a_disabled_account_fails_like_a_wrong_password(services: FakeServices) -> None:
    services.users.add("carol", PASSWORD, status="disabled")
    outcome = submit_attempt(PasswordStep(), step_context(services, binding="password"), {"username": "carol", "password": PASSWORD})
    assert outcome == Failure("invalid_credentials", {"username": "carol"})


def test_a_throttled_login_is_refused_with_429_and_the_wait_before_the_password_is_checked(services: FakeServices, alice: FakeUser) -> None:
    services.throttle.wait = 30
    outcome = submit_attempt(PasswordStep(), step_context(services, binding="password"), {"username": "alice", "password": PASSWORD})
    assert outcome == Failure("too_many_attempts", {"username": "alice", "retry_after": 30}, status=429)
    assert services.users.verified == [] and services.throttle.methods() == ["check"] and services.audit.events == []


def test_missing_fields_ask_again_without_checking_anything(services: FakeServices, alice: FakeUser) -> None:
    step = PasswordStep()
    assert submit_attempt(step, step_context(services, binding="password"), {"username": "alice"}) == Failure("missing_credentials", {"username": "alice"}, counted=False)
    assert submit_attempt(step, step_context(services, binding="password"), {"username": "  ", "password": "x"}) == Failure("missing_credentials", {"username": ""}, counted=False)
    assert submit_attempt(step, step_context(services, binding="password", user=alice), {}) == Failure("missing_password", {"username": "alice"}, counted=False)
    assert services.users.verified == [] and services.throttle.calls == [] and services.audit.events == []


def test_overlong_input_is_refused_counted_and_audited_like_a_wrong_password_after_spending_the_hashing_time(services: FakeServices, alice: FakeUser) -> None:
    step = PasswordStep()
    long_login = "a" * (MAX_LOGIN + 1)
    assert submit_attempt(step, step_context(services, binding="password"), {"username": long_login, "password": "pw"}) == Failure(
        "invalid_credentials", {"username": long_login[:MAX_LOGIN]}
    )
    long_password = "p" * (MAX_PASSWORD + 5)
    assert submit_attempt(step, step_context(services, binding="password"), {"username": "alice", "password": long_password}) == Failure(
        "invalid_credentials", {"username": "alice"}
    )
    assert services.users.verified == [(None, "pw"), (None, "p" * MAX_PASSWORD)]
    # counted like any wrong password: under what was typed, and against the account it names
    assert services.throttle.calls == [
        ("check", long_login[:MAX_LOGIN], "password"),
        ("record_failure", long_login[:MAX_LOGIN], "password"),
        ("check", alice.id, "password"),
        ("record_failure", alice.id, "password"),
    ]
    assert services.audit.types() == ["login.password_failed"] * 2 and [e["user_id"] for e in services.audit.events] == [None, alice.id]


def test_an_identified_user_is_checked_whatever_username_the_form_carries(services: FakeServices, alice: FakeUser) -> None:
    services.users.add("mallory", "mallory's password")
    ctx = step_context(services, binding="password", user=alice)
    outcome = submit_attempt(PasswordStep(), ctx, {"username": "mallory", "password": "mallory's password"})
    assert outcome == Failure("invalid_credentials", {"username": "alice"})
    assert services.users.verified == [(alice.id, "mallory's password")]
    assert submit_attempt(PasswordStep(), ctx, {"username": "mallory", "password": PASSWORD}) == Success(
        proofs=("identified", "password"), amr=("pwd",), user_id=alice.id
    )


def test_the_fakes_stand_for_exactly_the_step_port() -> None:
    """The fakes offer what :class:`StepServices` offers, no more (a step tested here could not reach further in production)."""
    import dataclasses

    from support.fakes import FakeServices

    from idp.flowengine.contract import StepServices

    assert {f.name for f in dataclasses.fields(FakeServices)} == {f.name for f in dataclasses.fields(StepServices)}
