"""The plan of a flow for a tenant: its bindings resolved to step classes and typed settings, checked.

:func:`build_plan` turns a flow's bindings (the tenant's ``flows.<name>.bindings``, else the flow's
defaults under its settings) into :class:`Planned` nodes: the step class from the flow's step catalog,
the step's ``Config`` built from the binding's ``config``, the proofs the binding needs. It refuses, with
a :class:`ConfigError` naming the binding, an unknown step or condition, a duplicate id, a bad setting,
and any binding some path of the flow reaches without the proofs it needs (:func:`check_proofs`): the
static check that, for instance, no path replaces a second factor before the emailed link, the
password and an SMS code are proved. The tenant service runs it on every configuration change; the
engine runs the plan it builds (:mod:`idp.flowengine.engine`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from idp.flowengine.bindings import ALTERNATIVE, CONDITIONAL, DISABLED, REQUIRED, Binding, Requirement, bindings_from_json
from idp.flowengine.contract import Flow, Step
from idp.tenants.config import ConfigError, _coerce  # the same coercion rules as the tenant file

#: Installed step classes by name, as a flow may bind them.
StepCatalog = Mapping[str, type[Step]]


@dataclass(frozen=True)
class Planned:
    """A binding resolved: its step class and typed settings (none for a sub-flow), and its children."""

    binding: Binding
    step: type[Step] | None = None
    config: Any = None
    children: tuple["Planned", ...] = ()
    #: Every proof the run must hold before the binding runs: the binding's (or the step's own) plus what
    #: the step needs under these settings whatever the binding says (:meth:`Step.needs`).
    requires: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.binding.id

    @property
    def requirement(self) -> Requirement:
        return self.binding.requirement


@dataclass(frozen=True)
class Plan:
    flow: Flow
    nodes: tuple[Planned, ...]
    #: The flow's settings (its ``Config`` instance) the plan was built under.
    config: Any = None

    def steps(self) -> list[Planned]:
        """Every step node of the plan, depth first."""
        found: list[Planned] = []

        def visit(nodes: Sequence[Planned]) -> None:
            for node in nodes:
                if node.step is not None:
                    found.append(node)
                visit(node.children)

        visit(self.nodes)
        return found

    def to_json(self) -> list[dict[str, Any]]:
        return [node.binding.to_json() for node in self.nodes]


def flow_bindings(flow: Flow, flow_config: Any, catalog: StepCatalog, custom: Any, path: str) -> tuple[Binding, ...]:
    """The tenant's own bindings (``custom``, JSON) when it set some, else the flow's defaults."""
    if custom:
        return bindings_from_json(custom, path)
    return tuple(flow.bindings(flow_config, catalog))


def build_plan(flow: Flow, bindings: Sequence[Binding], catalog: StepCatalog, path: str, stored: bool = False, config: Any = None) -> Plan:
    """Resolve and check ``bindings`` of ``flow`` (``path`` names them in errors: ``flows.x.bindings``)."""
    seen: set[str] = set()
    nodes = tuple(_resolve(flow, binding, catalog, f"{path}[{binding.id}]", seen, stored) for binding in bindings)
    _check_levels(nodes, path)
    plan = Plan(flow, nodes, config)
    check_proofs(plan, path)
    return plan


def _resolve(flow: Flow, binding: Binding, catalog: StepCatalog, path: str, seen: set[str], stored: bool) -> Planned:
    if binding.id in seen:
        raise ConfigError(f"{path}.id", f"two bindings are named {binding.id!r}")
    seen.add(binding.id)
    if binding.requirement is CONDITIONAL and not binding.condition:
        raise ConfigError(f"{path}.condition", "a CONDITIONAL binding names the condition that decides it")
    if binding.condition and binding.condition not in flow.conditions:
        known = ", ".join(sorted(flow.conditions)) or "none"
        raise ConfigError(f"{path}.condition", f"unknown condition {binding.condition!r} (known: {known})")
    if binding.is_sub_flow:
        if binding.config or binding.requires:
            raise ConfigError(path, "a sub-flow has bindings, not settings or proofs of its own")
        children = tuple(_resolve(flow, child, catalog, f"{path}.bindings[{child.id}]", seen, stored) for child in binding.bindings)
        return Planned(binding, children=children)
    if binding.requirement is CONDITIONAL:
        raise ConfigError(f"{path}.requirement", "only a sub-flow can be CONDITIONAL")
    step_cls = catalog.get(binding.step)
    if step_cls is None:
        raise ConfigError(f"{path}.step", f"unknown step {binding.step!r} (known: {', '.join(sorted(catalog))})")
    config = step_config(step_cls, binding.config, f"{path}.config", stored)
    requires = tuple(dict.fromkeys((*(binding.requires or step_cls.requires), *step_cls.needs(config))))
    return Planned(binding, step_cls, config, requires=requires)


def _check_levels(nodes: Sequence[Planned], path: str) -> None:
    """Refuse alternatives beside required or conditional bindings (Keycloak ignores them there, which
    surprises): alternatives go in a sub-flow of their own."""
    sequential = any(n.requirement in (REQUIRED, CONDITIONAL) for n in nodes)
    for node in nodes:
        if sequential and node.requirement is ALTERNATIVE:
            raise ConfigError(f"{path}[{node.id}].requirement", "ALTERNATIVE bindings beside REQUIRED or CONDITIONAL ones would never run: put the alternatives in a sub-flow of their own")
        _check_levels(node.children, path)


def step_config(step_cls: type[Step], settings: Mapping[str, Any], path: str, stored: bool = False) -> Any:
    """``step_cls.Config`` from a binding's settings, types checked, then its ``check()`` when it has one."""
    cls = step_cls.Config
    if not dataclasses.is_dataclass(cls) or not dataclasses.fields(cls):
        if settings:
            raise ConfigError(path, f"the step {step_cls.name!r} has no settings")
        return cls()
    config = _coerce(cls, dict(settings), path, check_bounds=not stored)
    check = getattr(config, "check", None)
    if callable(check):
        check(path)
    return config


def check_proofs(plan: Plan, path: str) -> None:
    """Refuse a plan where some path reaches a step without a proof it needs (named in the error).

    Walked as the engine runs it: required bindings in order (what they can prove holds after them);
    a conditional sub-flow's proofs hold inside it, not after it (it may not run); each alternative is
    its own path, and after them only what every alternative proves holds.
    """
    _check_level(plan.nodes, frozenset(plan.flow.entry_proofs), path)


def _check_level(nodes: Sequence[Planned], have: frozenset[str], path: str) -> frozenset[str]:
    active = [n for n in nodes if n.requirement is not DISABLED]
    sequential = [n for n in active if n.requirement in (REQUIRED, CONDITIONAL)]
    if sequential:
        for node in sequential:
            after = _check_node(node, have, path)
            if node.requirement is REQUIRED:
                have = after
        return have
    branches = [_check_node(n, have, path) for n in active if n.requirement is ALTERNATIVE]
    return frozenset.intersection(*branches) if branches else have


def _check_node(node: Planned, have: frozenset[str], path: str) -> frozenset[str]:
    if node.step is None:
        return _check_level(node.children, have, path)
    missing = [p for p in node.requires if p not in have]
    if missing:
        raise ConfigError(f"{path}[{node.id}]", f"reaches {node.id!r} without proving: {', '.join(missing)}")
    return have | set(node.step.provides)


__all__ = ["Plan", "Planned", "StepCatalog", "build_plan", "check_proofs", "flow_bindings", "step_config"]
