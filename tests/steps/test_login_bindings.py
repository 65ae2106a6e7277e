"""The login flow's bindings on fakes of the step port: which binding runs for whom (R-30, R-43).

The engine walks the plan: ``password`` REQUIRED, then the ``second-factor`` sub-flow CONDITIONAL on the
policy, whose ALTERNATIVE bindings run the first factor configured for the user; declining hands over to
the next; none left ends the run. Also: the static proof check, and a binding's cap on failed attempts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from support.fakes import FakeServices, FakeUser, tenant_view

from flows.browser_login import BrowserLoginFlow
from idp.flowengine.bindings import ALTERNATIVE, DISABLED, bind, sub_flow
from idp.flowengine.contract import SECOND_FACTOR, Failure, FlowState, Outcome, RequestInfo, Step, StepContext, Success
from idp.flowengine.engine import Ended, FlowEngine, Render
from idp.flowengine.planner import build_plan
from idp.flowengine.registry import FlowRegistry
from idp.tenants.config import ConfigError

FLOW = "browser-login"
REQUEST = RequestInfo(client_ip="203.0.113.7", user_agent="pytest", locale="en")


class KeyStep(Step):
    """A made-up second factor plugin: configured for users in ``holders``; a post with ``key=ok`` passes."""

    name = "key"
    designation = SECOND_FACTOR
    requires = ("password",)
    provides = ("key",)
    holders: set[int] = set()

    def configured_for(self, ctx: StepContext) -> bool:
        return ctx.user is not None and ctx.user.id in self.holders

    def challenge(self, ctx: StepContext) -> Outcome:
        from idp.flowengine.contract import Challenge

        return Challenge("steps/key.html")

    def submit(self, ctx: StepContext, form: Mapping[str, str]) -> Outcome:
        return Success(proofs=("key",)) if form.get("key") == "ok" else Failure("invalid_code")


def _engine(services: FakeServices, *plugins: type[Step]) -> FlowEngine:
    registry = FlowRegistry()
    for plugin in plugins:
        registry.register_step(plugin)
    registry.register(BrowserLoginFlow)
    return FlowEngine(registry, services.store, services)  # type: ignore[arg-type]


def _state(user: FakeUser, proofs: tuple[str, ...] = ("identified", "password"), auth_request: dict[str, str] | None = None) -> FlowState:
    return FlowState(id="run-1", tenant="acme", flow=FLOW, browser="b" * 64, user_id=user.id, proofs=list(proofs), done=["password"], auth_request=auth_request)


def _next(engine: FlowEngine, user: FakeUser, policy: str = "optional", state: FlowState | None = None, bindings: list[Any] | None = None, **kw: Any) -> str | None:
    tenant = tenant_view({"mfa": {"policy": policy}, "flows": {FLOW: {"enabled": True, "bindings": bindings or []}}})
    return engine.next_binding(tenant, state or _state(user, **kw), REQUEST)


@pytest.mark.parametrize(
    "policy,factors,acr,expected",
    [
        ("optional", (), False, None),  # nothing to prove: the password alone signs in
        ("optional", ("totp",), False, "totp"),
        ("optional", ("sms",), False, "sms"),
        ("optional", ("totp", "sms"), False, "totp"),  # TOTP first
        ("off", ("totp",), False, None),
        ("off", ("totp",), True, "totp"),  # the relying party's acr_values wins
        ("required", (), False, "totp-setup"),  # enrol before the sign-in completes
        ("required", ("sms",), False, "sms"),
        ("optional", (), True, "totp-setup"),
    ],
)
def test_the_first_factor_the_user_has_runs_when_the_policy_asks(services: FakeServices, alice: FakeUser, policy: str, factors: tuple[str, ...], acr: bool, expected: str | None) -> None:
    if "totp" in factors:
        services.factors.totp_codes[alice.id] = {"123456"}
    if "sms" in factors:
        services.factors.sms_numbers[alice.id] = "+33612345678"
    auth_request = {"acr_values": "urn:idp:acr:mfa"} if acr else None
    assert _next(_engine(services), alice, policy, auth_request=auth_request) == expected


def test_declining_hands_over_to_the_next_alternative_and_none_left_ends_the_run(services: FakeServices, alice: FakeUser) -> None:
    services.factors.totp_codes[alice.id] = {"123456"}
    engine = _engine(services)
    state = _state(alice)
    assert _next(engine, alice, state=state) == "totp"
    state.done.append("totp")  # the user chose "use an SMS code instead" (TotpStep answered Skip)
    assert _next(engine, alice, state=state) == ""  # no SMS factor: no way through (the run ends, 403)
    services.factors.sms_numbers[alice.id] = "+33612345678"
    state = _state(alice)
    state.done.append("totp")
    assert _next(engine, alice, state=state) == "sms"


def test_one_passed_alternative_settles_the_sub_flow(services: FakeServices, alice: FakeUser) -> None:
    services.factors.totp_codes[alice.id] = {"123456"}
    services.factors.sms_numbers[alice.id] = "+33612345678"
    state = _state(alice)
    state.entered.append("second-factor")
    state.done.append("totp")
    state.passed.append("totp")
    assert _next(_engine(services), alice, state=state) is None


def test_a_second_factor_plugin_joins_the_alternatives_after_the_shipped_ones(services: FakeServices, alice: FakeUser) -> None:
    KeyStep.holders = {alice.id}
    engine = _engine(services, KeyStep)
    assert _next(engine, alice) == "key"  # optional policy: having the plugin's factor makes it asked
    services.factors.totp_codes[alice.id] = {"123456"}
    assert _next(engine, alice) == "totp"
    bound = engine.plan(tenant_view(), engine.registry.get(FLOW))  # type: ignore[arg-type]
    assert [n.id for n in bound.steps()] == ["password", "passkey", "totp", "sms", "recovery-code", "key", "totp-setup", "passkey-setup", "recovery-codes"]


def test_a_tenant_binding_disables_a_factor(services: FakeServices, alice: FakeUser) -> None:
    services.factors.sms_numbers[alice.id] = "+33612345678"
    bindings = [
        {"step": "password"},
        {"id": "second-factor", "condition": "second-factor-needed", "bindings": [
            {"step": "totp", "requirement": "ALTERNATIVE"},
            {"step": "sms", "requirement": "DISABLED"},
        ]},
    ]
    assert _next(_engine(services), alice, "required", bindings=bindings) == ""  # SMS off, no authenticator, no enrolment bound


def test_a_binding_caps_the_failed_attempts_of_one_run(services: FakeServices, alice: FakeUser) -> None:
    KeyStep.holders = {alice.id}
    engine = _engine(services, KeyStep)
    tenant = tenant_view({"flows": {FLOW: {"enabled": True, "bindings": [
        {"step": "password"},
        {"id": "second-factor", "condition": "second-factor-needed", "bindings": [{"step": "key", "requirement": "ALTERNATIVE", "max_failures": 2}]},
    ]}}})
    state = _state(alice)
    first = engine.submit(tenant, state, "key", {"key": "no"}, REQUEST)
    assert isinstance(first, Render) and first.error == "invalid_code"
    second = engine.submit(tenant, state, "key", {"key": "no"}, REQUEST)
    assert second == Ended("too_many_attempts", 429)


def test_the_static_check_follows_every_path(services: FakeServices) -> None:
    flow = BrowserLoginFlow()
    catalog = FlowRegistry().steps_for(flow) | {"key": KeyStep}
    build_plan(flow, flow.bindings(None, catalog), catalog, "b")  # the defaults hold
    with pytest.raises(ConfigError, match="reaches 'totp' without proving: password"):
        build_plan(flow, (sub_flow("second-factor", bind("totp", ALTERNATIVE), condition="second-factor-needed"), bind("password")), catalog, "b")
    with pytest.raises(ConfigError, match="reaches 'totp-setup' without proving: password"):  # a disabled binding proves nothing
        build_plan(flow, (bind("password", DISABLED), bind("totp-setup")), catalog, "b")
    with pytest.raises(ConfigError, match="two bindings are named 'totp'"):
        build_plan(flow, (bind("password"), bind("totp"), bind("totp")), catalog, "b")
    with pytest.raises(ConfigError, match="has no settings"):
        build_plan(flow, (bind("password"), bind("recovery-code", colour="red")), catalog, "b")
    with pytest.raises(ConfigError, match="would never run"):
        build_plan(flow, (bind("password"), bind("totp", ALTERNATIVE), bind("sms", ALTERNATIVE)), catalog, "b")
    with pytest.raises(ConfigError, match="is not a known setting"):
        build_plan(flow, (bind("password"), bind("totp", verbose=True)), catalog, "b")


def test_replacing_every_factor_needs_link_password_and_sms_whatever_the_binding_says() -> None:
    """``TotpSetupStep.needs``: a binding's own ``requires`` cannot drop R-17's three proofs."""
    flow = BrowserLoginFlow()
    catalog = FlowRegistry().steps_for(flow)
    with pytest.raises(ConfigError, match="without proving: email_link, sms"):
        build_plan(flow, (bind("password"), bind("totp-setup", requires=("password",), replace_existing=True)), catalog, "b")


def test_an_alternatives_only_level_gives_what_every_branch_proves() -> None:
    flow = BrowserLoginFlow()
    catalog = FlowRegistry().steps_for(flow)
    # after TOTP | SMS, neither "totp" nor "sms" is certain: a step needing "totp" is refused
    alternatives = sub_flow("second-factor", bind("totp", ALTERNATIVE), bind("sms", ALTERNATIVE))
    needs_totp = bind("totp", id="again", requires=("totp",))
    with pytest.raises(ConfigError, match="reaches 'again' without proving: totp"):
        build_plan(flow, (bind("password"), alternatives, needs_totp), catalog, "b")


def test_a_closed_alternative_sub_flow_hands_over_to_the_next_alternative(services: FakeServices, alice: FakeUser) -> None:
    services.factors.totp_codes[alice.id] = {"123456"}
    bindings = [
        {"step": "password"},
        {"id": "second-factor", "condition": "second-factor-needed", "bindings": [
            {"id": "by-phone", "requirement": "ALTERNATIVE", "bindings": [{"step": "sms", "requirement": "ALTERNATIVE"}]},
            {"step": "totp", "requirement": "ALTERNATIVE"},
        ]},
    ]
    assert _next(_engine(services), alice, bindings=bindings) == "totp"  # no phone: the by-phone way is closed
    services.factors.sms_numbers[alice.id] = "+33612345678"
    assert _next(_engine(services), alice, bindings=bindings) == "sms"
