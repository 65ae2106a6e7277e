"""The flow engine: runs a flow's steps in order over a :class:`FlowState`. Plain Python.

No Flask and no HTTP: the web layer (:mod:`idp.web.flows`) turns requests into
calls here and :class:`EngineResult` values into responses. State is read from
and written to the ephemeral store, so any worker continues any flow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from idp.flowengine.attempts import submit_attempt
from idp.flowengine.contract import (
    Abort,
    Challenge,
    Failure,
    Flow,
    FlowState,
    RequestInfo,
    RunReads,
    Skip,
    Step,
    StepContext,
    StepServices,
    Success,
)
from idp.flowengine.registry import FlowRegistry
from idp.flowengine.settings import flow_settings
from idp.security.secrets import random_token
from idp.store import user_flows_label

if TYPE_CHECKING:  # pragma: no cover
    from idp.storage.models import User
    from idp.store import EphemeralStore
    from idp.tenants.service import TenantView

#: Lifetime of an unfinished flow in the store (seconds).
FLOW_TTL = 1800


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

    def _context(self, tenant: "TenantView", flow: Flow, state: FlowState, step: type[Step] | None, request: RequestInfo, reads: RunReads) -> StepContext:
        """A step's context; every context of one request shares ``reads`` (the user is read once, not per step)."""
        flow_config = self.flow_config(tenant, flow)
        return StepContext(
            tenant=tenant,
            state=state,
            services=self.services,
            request=request,
            config=flow.step_config(step, flow_config) if step is not None else None,
            flow_config=flow_config,
            reads=reads,
        )

    def flow_config(self, tenant: "TenantView", flow: Flow) -> Any:
        return flow_settings(tenant, flow)

    def _next(self, tenant: "TenantView", flow: Flow, state: FlowState, request: RequestInfo, reads: RunReads) -> tuple[Step, StepContext] | None:
        """The first step that has not run; steps that do not apply are skipped on the way."""
        for step_cls in flow.steps:
            if step_cls.name in state.done:
                continue
            step = step_cls()
            ctx = self._context(tenant, flow, state, step_cls, request, reads)
            if not step.applies(ctx):
                state.done.append(step_cls.name)
                continue
            return step, ctx
        return None

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
            nxt = self._next(tenant, flow, state, request, reads)
            if nxt is None:
                return self._complete(tenant, flow, state, request, reads)
            step, ctx = nxt
            missing = [p for p in step.requires if p not in state.proofs]
            if missing:  # a step never runs on proofs the state does not hold
                self.discard(state)
                return Ended("steps_out_of_order", 400, {"missing": missing})
            if form is not None and step_name == step.name:
                outcome = submit_attempt(step, ctx, form)  # throttled, counted, audited and noticed there
                form = None
                reads.factors = None  # a submission may have bound or removed a factor: read them afresh
            else:
                outcome = step.challenge(ctx)
            if isinstance(outcome, Challenge):
                self.save(state)
                return Render(outcome.template, outcome.context, outcome.status, step=step.name)
            if isinstance(outcome, Failure):
                self.save(state)
                outcome_ctx = dict(outcome.context)
                page = step.challenge(ctx)
                if isinstance(page, Challenge):
                    return Render(page.template, {**page.context, **outcome_ctx}, outcome.status, step=step.name, error=outcome.error)
                return Render("error.html", outcome_ctx, outcome.status, step=step.name, error=outcome.error)
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
                        raise RuntimeError(f"step {step.name!r} proved {p!r} but does not declare it in provides")
                    if p not in state.proofs:
                        state.proofs.append(p)
                for a in outcome.amr:
                    if a not in state.amr:
                        state.amr.append(a)
            elif not isinstance(outcome, Skip):  # pragma: no cover - defensive
                raise TypeError(f"step {step.name!r} returned {outcome!r}")
            state.done.append(step.name)
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
