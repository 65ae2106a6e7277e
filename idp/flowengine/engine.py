"""The flow engine: runs a flow's plan (its bindings, :mod:`idp.flowengine.planner`) over a :class:`FlowState`.

Plain Python.

No Flask and no HTTP: the web layer (:mod:`idp.web.flows`) turns requests into
calls here and :class:`EngineResult` values into responses. State is read from
and written to the ephemeral store, so any worker continues any flow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from idp.flowengine.attempts import submit_attempt
from idp.flowengine.bindings import ALTERNATIVE, CONDITIONAL, DISABLED, REQUIRED
from idp.flowengine.contract import (
    Abort,
    Branch,
    Challenge,
    Failure,
    Flow,
    FlowState,
    RequestInfo,
    RunReads,
    Skip,
    StepContext,
    StepServices,
    Success,
)
from idp.flowengine.planner import Plan, Planned
from idp.flowengine.registry import FlowRegistry
from idp.flowengine.settings import flow_plan
from idp.security.secrets import random_token
from idp.store import user_flows_label

if TYPE_CHECKING:  # pragma: no cover
    from idp.storage.models import User
    from idp.store import EphemeralStore
    from idp.tenants.service import TenantView

#: Lifetime of an unfinished flow in the store (seconds).
FLOW_TTL = 1800
#: Plans kept per (tenant, configuration revision, flow); a new revision builds a new plan.
PLAN_CACHE = 512
#: The ``action`` of a "Try another way" button (with ``way``: the alternative's binding id).
ANOTHER_WAY = "another_way"


class NoWayThrough:
    """Every alternative of a level was passed over or stepped aside: the run cannot go on."""


@dataclass(frozen=True)
class Render:
    """Show a page."""

    template: str
    context: Mapping[str, Any] = field(default_factory=dict)
    status: int = 200
    step: str = ""
    error: str = ""


@dataclass(frozen=True)
class Completed:
    """Every step has run; the web layer signs the user in or shows the end page."""

    state: FlowState
    page: Render | None = None


@dataclass(frozen=True)
class Ended:
    """The flow was aborted; show ``error``; the state is gone."""

    error: str
    status: int = 400
    context: Mapping[str, Any] = field(default_factory=dict)


EngineResult = Render | Completed | Ended


class FlowNotAvailable(LookupError):
    """The flow is not registered or not live for the tenant (the web layer answers 404)."""


class FlowEngine:
    """Starts, loads, renders and advances flows."""

    def __init__(self, registry: FlowRegistry, store: "EphemeralStore", services: StepServices) -> None:
        self.registry = registry
        self.store = store
        #: The steps' port (the engine itself reads only the run's user through it).
        self.services = services
        self.users = services.users
        self._plans: dict[tuple[str, int, str], Plan] = {}

    # -- lifecycle ------------------------------------------------------------

    def flow_for(self, tenant: "TenantView", name: str) -> Flow:
        flow = self.registry.get(name)
        if flow is None or not tenant.flow_live(name):
            raise FlowNotAvailable(name)
        return flow

    def designated(self, tenant: "TenantView", designation: str) -> Flow | None:
        """The tenant's flow for ``designation`` (``login``, ``recovery``): the first installed flow carrying it
        that is live for the tenant, or None."""
        return next((f for f in self.registry.designated(designation) if tenant.flow_live(f.name)), None)

    def offers_step(self, tenant: "TenantView", designation: str, step_name: str) -> bool:
        """Whether the tenant's flow for ``designation`` binds the step ``step_name`` where it can run (the
        binding and every sub-flow above it not DISABLED): e.g. the account console offers to add a passkey
        only where the sign-in can use one."""
        flow = self.designated(tenant, designation)
        if flow is None:
            return False

        def bound(nodes: tuple[Planned, ...]) -> bool:
            return any(
                n.requirement != DISABLED and ((n.step is not None and n.step.name == step_name) or bound(n.children)) for n in nodes
            )

        return bound(self.plan(tenant, flow).nodes)

    def start(
        self,
        tenant: "TenantView",
        name: str,
        browser: str,
        auth_request: dict[str, str] | None = None,
        **data: dict[str, Any],
    ) -> FlowState:
        """A new run of flow ``name`` for ``tenant``, bound to ``browser``; saved."""
        self.flow_for(tenant, name)
        state = FlowState(id=random_token(24), tenant=tenant.slug, flow=name, browser=browser, auth_request=auth_request)
        state.data.update(data)
        self.save(state)
        return state

    def enter(
        self,
        tenant: "TenantView",
        name: str,
        browser: str,
        params: Mapping[str, str],
        request: RequestInfo,
        auth_request: dict[str, str] | None = None,
    ) -> FlowState | Ended:
        """Start a run from an out-of-band link: the flow checks ``params`` (e.g. swaps a token) first."""
        flow = self.flow_for(tenant, name)
        entry = flow.enter(tenant, self.services, params, request)
        if entry is None:
            raise FlowNotAvailable(name)
        if isinstance(entry, Abort):
            return Ended(entry.error, entry.status, entry.context)
        undeclared = [p for p in entry.proofs if p not in flow.entry_proofs]
        if undeclared:
            raise RuntimeError(f"flow {name!r} entry granted {undeclared} but declares entry_proofs={flow.entry_proofs}")
        state = FlowState(id=random_token(24), tenant=tenant.slug, flow=name, browser=browser, auth_request=auth_request)
        state.user_id = entry.user_id
        state.proofs.extend(entry.proofs)
        state.done.extend(entry.done)
        state.locale = entry.locale if flow.one_language else ""
        self.save(state)
        return state

    def _key(self, tenant: str, flow_id: str) -> str:
        return f"{tenant}:flow:{flow_id}"

    def load(self, tenant: "TenantView", flow_id: str, browser: str, name: str | None = None) -> FlowState | None:
        """The state of flow ``flow_id`` if it exists, belongs to this tenant and this browser (R-99)."""
        raw = self.store.find(self._key(tenant.slug, flow_id))
        if raw is None:
            return None
        state = FlowState.from_json(raw)
        if state.tenant != tenant.slug or state.browser != browser or (name and state.flow != name):
            return None
        return state

    def save(self, state: FlowState) -> None:
        """Keep the state; once it names a user, it is filed under the user's flows so revoking them, or changing
        their email or phone, ends it too."""
        label = user_flows_label(state.tenant, state.user_id) if state.user_id is not None else None
        self.store.upsert(self._key(state.tenant, state.id), state.to_json(), FLOW_TTL, grant_id=label)

    def discard(self, state: FlowState) -> None:
        self.store.destroy(self._key(state.tenant, state.id))

    # -- running --------------------------------------------------------------

    def user(self, tenant: "TenantView", state: FlowState, reads: RunReads) -> "User | None":
        """The run's user, read at most once per request (``reads`` is the request's)."""
        if state.user_id is None:
            return None
        if reads.user is None or reads.user.id != state.user_id:
            reads.user = self.users.get(tenant, state.user_id)
            reads.factors = None
        return reads.user

    def _context(self, tenant: "TenantView", flow: Flow, state: FlowState, node: Planned | None, request: RequestInfo, reads: RunReads) -> StepContext:
        """A binding's context; every context of one request shares ``reads`` (the user is read once, not per step)."""
        return StepContext(
            tenant=tenant,
            state=state,
            services=self.services,
            request=request,
            config=node.config if node is not None else None,
            flow_config=self.plan(tenant, flow).config,
            reads=reads,
            binding=node.id if node is not None and node.step is not None else "",
        )

    def plan(self, tenant: "TenantView", flow: Flow) -> Plan:
        """The flow's plan for ``tenant`` at its configuration revision (built once per revision)."""
        key = (tenant.slug, tenant.revision, flow.name)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= PLAN_CACHE:
                self._plans.clear()
            plan = self._plans[key] = flow_plan(tenant, flow, self.registry.steps_for(flow))
        return plan

    def _next(self, tenant: "TenantView", flow: Flow, state: FlowState, request: RequestInfo, reads: RunReads) -> Planned | NoWayThrough | None:
        """The binding to run now: the first required one not yet done, a conditional sub-flow's when its
        condition holds, the first alternative configured for the user; None when the flow is through."""
        return self._next_in(self.plan(tenant, flow).nodes, tenant, flow, state, request, reads)

    def _next_in(self, nodes: tuple[Planned, ...], tenant: "TenantView", flow: Flow, state: FlowState, request: RequestInfo, reads: RunReads) -> Planned | NoWayThrough | None:
        active = [n for n in nodes if n.requirement is not DISABLED]
        sequential = [n for n in active if n.requirement in (REQUIRED, CONDITIONAL)]
        if sequential:
            for node in sequential:
                if node.id in state.done:
                    continue
                if node.requirement is CONDITIONAL and node.id not in state.entered:
                    if not self._holds(node, tenant, flow, state, request, reads):
                        state.done.append(node.id)
                        continue
                    state.entered.append(node.id)
                if node.step is not None:
                    return node
                found = self._next_in(node.children, tenant, flow, state, request, reads)
                if found is not None:
                    return found
                state.done.append(node.id)
                state.passed.append(node.id)
            return None
        alternatives = [n for n in active if n.requirement is ALTERNATIVE]
        if not alternatives or any(n.id in state.passed for n in alternatives):
            return None
        for node in alternatives:
            if node.id in state.done:
                continue
            if node.step is None:
                if node.binding.condition and not self._holds(node, tenant, flow, state, request, reads):
                    state.done.append(node.id)
                    continue
                found = self._next_in(node.children, tenant, flow, state, request, reads)
                if isinstance(found, NoWayThrough):  # this way is closed: the next alternative may be open
                    state.done.append(node.id)
                    continue
                if found is not None:
                    return found
                state.done.append(node.id)
                state.passed.append(node.id)
                return None
            if not node.step().configured_for(self._context(tenant, flow, state, node, request, reads)):
                state.done.append(node.id)
                continue
            return node
        return NoWayThrough()

    def other_ways(self, tenant: "TenantView", flow: Flow, state: FlowState, node: Planned, request: RequestInfo, reads: RunReads) -> list[Planned]:
        """The other alternatives of ``node``'s level the user could take instead ("Try another way"):
        not yet declined, configured for the user, with a button text, and not offered by ``node``'s own page."""
        if node.requirement is not ALTERNATIVE or node.step is None:
            return []
        level = _level_of(self.plan(tenant, flow).nodes, node)
        own = node.step.hands_over
        return [
            n
            for n in level
            if n is not node and n.requirement is ALTERNATIVE and n.step is not None and n.id not in state.done
            and n.step.another_way and n.step.name not in own
            and n.step().configured_for(self._context(tenant, flow, state, n, request, reads))
        ]

    def _ways(self, tenant: "TenantView", flow: Flow, state: FlowState, node: Planned, request: RequestInfo, reads: RunReads) -> dict[str, Any]:
        ways = self.other_ways(tenant, flow, state, node, request, reads)
        return {"other_ways": [{"id": n.id, "label": n.step.another_way} for n in ways if n.step is not None]} if ways else {}

    def _take_another_way(self, tenant: "TenantView", flow: Flow, state: FlowState, node: Planned, request: RequestInfo, reads: RunReads, way: str) -> bool:
        """Decline ``node`` for the alternative ``way``: every alternative of the level before ``way`` is passed over."""
        if way not in {n.id for n in self.other_ways(tenant, flow, state, node, request, reads)}:
            return False
        for n in _level_of(self.plan(tenant, flow).nodes, node):
            if n.id == way:
                break
            if n.id not in state.done:
                state.done.append(n.id)
        if node.id not in state.done:
            state.done.append(node.id)
        return True

    def _holds(self, node: Planned, tenant: "TenantView", flow: Flow, state: FlowState, request: RequestInfo, reads: RunReads) -> bool:
        """Whether the condition of sub-flow ``node`` holds for this run."""

        def configured(designation: str) -> bool:
            return any(
                n.step.designation == designation and n.step().configured_for(self._context(tenant, flow, state, n, request, reads))
                for n in _enabled_steps(node.children)
                if n.step is not None
            )

        return bool(flow.conditions[node.binding.condition](self._context(tenant, flow, state, None, request, reads), Branch(configured)))

    def next_binding(self, tenant: "TenantView", state: FlowState, request: RequestInfo, reads: RunReads | None = None) -> str | None:
        """The id of the binding the run would show next ("" when no alternative is left; None when the
        flow is through). Passed-over bindings are marked done in ``state``, as a page view would."""
        node = self._next(tenant, self.flow_for(tenant, state.flow), state, request, reads or RunReads())
        if isinstance(node, NoWayThrough):
            return ""
        return node.id if node is not None else None

    def render(self, tenant: "TenantView", state: FlowState, request: RequestInfo, reads: RunReads | None = None) -> EngineResult:
        """The page of the current step (GET). ``reads``: what this request already read of the run's user."""
        flow = self.flow_for(tenant, state.flow)
        return self._advance(tenant, flow, state, request, None, reads or RunReads())

    def submit(
        self,
        tenant: "TenantView",
        state: FlowState,
        step_name: str,
        form: Mapping[str, str],
        request: RequestInfo,
        reads: RunReads | None = None,
    ) -> EngineResult:
        """Handle the form of step ``step_name``; a post for any other step re-renders the current one (R-43)."""
        flow = self.flow_for(tenant, state.flow)
        return self._advance(tenant, flow, state, request, form, reads or RunReads(), step_name=step_name)

    def _advance(
        self,
        tenant: "TenantView",
        flow: Flow,
        state: FlowState,
        request: RequestInfo,
        form: Mapping[str, str] | None,
        reads: RunReads,
        step_name: str = "",
    ) -> EngineResult:
        user = self.user(tenant, state, reads)
        if state.user_id is not None and (user is None or user.status != "active"):
            # the account was disabled or locked since this run identified it: nothing more happens in its name
            self.discard(state)
            return Ended("account_unavailable", 403)
        while True:
            node = self._next(tenant, flow, state, request, reads)
            if node is None:
                return self._complete(tenant, flow, state, request, reads)
            if isinstance(node, NoWayThrough):
                self.discard(state)
                return Ended(flow.no_way_through, 403)
            assert node.step is not None
            step, ctx = node.step(), self._context(tenant, flow, state, node, request, reads)
            if form is not None and step_name == node.id and form.get("action") == ANOTHER_WAY:
                if self._take_another_way(tenant, flow, state, node, request, reads, form.get("way", "")):
                    form = None
                    continue  # the walk now lands on the way the user chose
                form = None  # not a way offered here: show the page again
            missing = [p for p in node.requires if p not in state.proofs]
            if missing:  # a step never runs on proofs the state does not hold
                self.discard(state)
                return Ended("steps_out_of_order", 400, {"missing": missing})
            if form is not None and step_name == node.id:
                outcome = submit_attempt(step, ctx, form)  # throttled, counted, audited and noticed there
                form = None
                reads.factors = None  # a submission may have bound or removed a factor: read them afresh
                if isinstance(outcome, Failure) and outcome.counted and node.binding.max_failures:
                    failures = state.failures[node.id] = state.failures.get(node.id, 0) + 1
                    if failures >= node.binding.max_failures:  # the binding's cap for one run
                        self.discard(state)
                        return Ended("too_many_attempts", 429)
            else:
                outcome = step.challenge(ctx)
            if isinstance(outcome, Challenge):
                self.save(state)
                ways = self._ways(tenant, flow, state, node, request, reads)
                return Render(outcome.template, {**outcome.context, **ways}, outcome.status, step=node.id)
            if isinstance(outcome, Failure):
                self.save(state)
                outcome_ctx = dict(outcome.context)
                page = step.challenge(ctx)
                if isinstance(page, Challenge):
                    ways = self._ways(tenant, flow, state, node, request, reads)
                    return Render(page.template, {**page.context, **ways, **outcome_ctx}, outcome.status, step=node.id, error=outcome.error)
                return Render("error.html", outcome_ctx, outcome.status, step=node.id, error=outcome.error)
            if isinstance(outcome, Abort):
                self.discard(state)
                return Ended(outcome.error, outcome.status, outcome.context)
            if isinstance(outcome, Success):
                if outcome.user_id is not None:
                    if state.user_id is not None and state.user_id != outcome.user_id:
                        self.discard(state)
                        return Ended("steps_out_of_order", 400)
                    state.user_id = outcome.user_id
                for p in outcome.proofs:
                    if p not in step.provides:
                        raise RuntimeError(f"step {step.name!r} (binding {node.id!r}) proved {p!r} but does not declare it in provides")
                    if p not in state.proofs:
                        state.proofs.append(p)
                for a in outcome.amr:
                    if a not in state.amr:
                        state.amr.append(a)
                state.passed.append(node.id)
            elif not isinstance(outcome, Skip):  # pragma: no cover - defensive
                raise TypeError(f"step {step.name!r} returned {outcome!r}")
            state.done.append(node.id)
            # no save here: the run goes on to the next step in this request, and is saved once where it stops
            # (a page, a failure, the end); a request that fails half-way keeps the state it started from

    def _complete(self, tenant: "TenantView", flow: Flow, state: FlowState, request: RequestInfo, reads: RunReads) -> EngineResult:
        missing = [p for p in flow.completion_requires if p not in state.proofs]
        if missing:
            self.discard(state)
            return Ended("steps_out_of_order", 400, {"missing": missing})
        state.completed = True
        ctx = self._context(tenant, flow, state, None, request, reads)
        page = flow.finish(ctx)
        self.save(state)
        if isinstance(page, Challenge):
            return Completed(state, Render(page.template, page.context, page.status, step="finish"))
        if isinstance(page, Abort):
            self.discard(state)
            return Ended(page.error, page.status, page.context)
        return Completed(state)


def _enabled_steps(nodes: tuple[Planned, ...]) -> list[Planned]:
    """The step nodes under ``nodes`` that are not disabled (nor under a disabled sub-flow), depth first."""
    found: list[Planned] = []
    for node in nodes:
        if node.requirement is DISABLED:
            continue
        found.extend([node] if node.step is not None else _enabled_steps(node.children))
    return found


def _level_of(nodes: tuple[Planned, ...], node: Planned) -> tuple[Planned, ...]:
    """The bindings beside ``node`` (its parent's children, or the top level)."""
    if any(n is node for n in nodes):
        return nodes
    for n in nodes:
        found = _level_of(n.children, node)
        if found:
            return found
    return ()
