"""Bindings: how a flow uses its steps (Keycloak's execution requirement, authentik's FlowStageBinding).

A flow is a list of bindings. Each binds one step, or a sub-flow of further bindings, with a
:class:`Requirement`:

- ``REQUIRED``: runs, in order.
- ``ALTERNATIVE``: at a level with no required or conditional binding, the first alternative that is
  *configured for* the user runs (:meth:`Step.configured_for`: the user has that factor); a step that
  steps aside (``Skip``, "use an SMS code instead") hands over to the next; one success settles the level.
  At a level that has required or conditional bindings, alternatives are ignored, as in Keycloak.
- ``CONDITIONAL``: a sub-flow that runs when its condition (a name the flow declares in
  :attr:`Flow.conditions`) holds for the run, judged once when the run reaches it.
- ``DISABLED``: never runs.

A binding carries the step's settings (``config``, the fields of the step's ``Config``), the proofs it
needs before it runs (``requires``; empty: the step's own) and an optional cap on the failed attempts
of one run (``max_failures``). Plugins ship default bindings (:meth:`Flow.bindings`); a tenant may
replace them with its own list (``flows.<name>.bindings``), checked by :mod:`idp.flowengine.planner`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from idp.tenants.config import ConfigError


class Requirement(StrEnum):
    REQUIRED = "REQUIRED"
    ALTERNATIVE = "ALTERNATIVE"
    CONDITIONAL = "CONDITIONAL"
    DISABLED = "DISABLED"


REQUIRED, ALTERNATIVE, CONDITIONAL, DISABLED = Requirement.REQUIRED, Requirement.ALTERNATIVE, Requirement.CONDITIONAL, Requirement.DISABLED


@dataclass(frozen=True)
class Binding:
    """One execution of a flow: a step, or a sub-flow, with its requirement and settings."""

    #: Unique within the flow: the key of the binding's data in the run's state, and of its form posts.
    id: str
    #: The bound step's name; empty for a sub-flow.
    step: str = ""
    requirement: Requirement = REQUIRED
    #: The step's settings (fields of its ``Config``); checked against it when the flow's plan is built.
    config: Mapping[str, Any] = field(default_factory=dict)
    #: Proofs the run must hold before this binding runs; empty: the step's own ``requires``.
    requires: tuple[str, ...] = ()
    #: For a ``CONDITIONAL`` sub-flow: the name of the flow's condition that decides whether it runs.
    condition: str = ""
    #: A sub-flow's bindings.
    bindings: tuple["Binding", ...] = ()
    #: Failed attempts one run may make at this binding before it ends (0: only the throttle limits them).
    max_failures: int = 0

    @property
    def is_sub_flow(self) -> bool:
        return not self.step

    def walk(self) -> "list[Binding]":
        """This binding and every binding under it, depth first."""
        found = [self]
        for child in self.bindings:
            found.extend(child.walk())
        return found

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "requirement": self.requirement.value}
        if self.step:
            data["step"] = self.step
        if self.config:
            data["config"] = dict(self.config)
        if self.requires:
            data["requires"] = list(self.requires)
        if self.condition:
            data["condition"] = self.condition
        if self.bindings:
            data["bindings"] = [b.to_json() for b in self.bindings]
        if self.max_failures:
            data["max_failures"] = self.max_failures
        return data


def bind(name: str, requirement: Requirement = REQUIRED, *, id: str = "", requires: Sequence[str] = (), max_failures: int = 0, **config: Any) -> Binding:
    """Bind step ``name`` (as ``id``, default its name) with ``requirement`` and its ``config`` fields."""
    return Binding(id=id or name, step=name, requirement=requirement, config=config, requires=tuple(requires), max_failures=max_failures)


def sub_flow(id: str, *bindings: Binding, requirement: Requirement = REQUIRED, condition: str = "") -> Binding:
    """A sub-flow ``id`` of ``bindings``; ``CONDITIONAL`` when a ``condition`` is named."""
    if condition and requirement is REQUIRED:
        requirement = CONDITIONAL
    return Binding(id=id, requirement=requirement, condition=condition, bindings=tuple(bindings))


FIELDS = {"id", "step", "requirement", "config", "requires", "condition", "bindings", "max_failures"}


def bindings_from_json(data: Any, path: str) -> tuple[Binding, ...]:
    """Bindings from a tenant's ``flows.<name>.bindings`` (a JSON list); a malformed entry raises
    :class:`~idp.tenants.config.ConfigError` naming its place (``flows.browser-login.bindings[1].requirement``)."""
    if not isinstance(data, list) or not data:
        raise ConfigError(path, "must be a non-empty list of bindings")
    return tuple(_binding_from_json(item, f"{path}[{i}]") for i, item in enumerate(data))


def _binding_from_json(item: Any, path: str) -> Binding:
    if not isinstance(item, Mapping):
        raise ConfigError(path, "must be an object with 'step' or 'bindings'")
    unknown = sorted(set(item) - FIELDS)
    if unknown:
        raise ConfigError(f"{path}.{unknown[0]}", f"is not a binding field (known: {', '.join(sorted(FIELDS))})")
    name, children = item.get("step", ""), item.get("bindings")
    if not isinstance(name, str) or bool(name) == (children is not None):
        raise ConfigError(path, "names either a 'step' or a sub-flow's 'bindings', not both")
    try:
        requirement = Requirement(str(item.get("requirement", "REQUIRED")).upper())
    except ValueError:
        raise ConfigError(f"{path}.requirement", "must be REQUIRED, ALTERNATIVE, CONDITIONAL or DISABLED") from None
    binding_id = item.get("id") or name
    if not isinstance(binding_id, str) or not binding_id or not binding_id.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"{path}.id", "must be a name of letters, digits and dashes (a sub-flow needs one)")
    config = item.get("config", {})
    if not isinstance(config, Mapping):
        raise ConfigError(f"{path}.config", "must be an object of the step's settings")
    requires = item.get("requires", [])
    if not isinstance(requires, list) or not all(isinstance(p, str) for p in requires):
        raise ConfigError(f"{path}.requires", "must be a list of proof names")
    condition = item.get("condition", "")
    if not isinstance(condition, str):
        raise ConfigError(f"{path}.condition", "must be the name of a condition")
    max_failures = item.get("max_failures", 0)
    if not isinstance(max_failures, int) or isinstance(max_failures, bool) or not 0 <= max_failures <= 100:
        raise ConfigError(f"{path}.max_failures", "must be a whole number from 0 to 100")
    sub = ()
    if children is not None:
        if not isinstance(children, list) or not children:
            raise ConfigError(f"{path}.bindings", "must be a non-empty list of bindings")
        sub = tuple(_binding_from_json(child, f"{path}.bindings[{i}]") for i, child in enumerate(children))
    return Binding(
        id=binding_id,
        step=name,
        requirement=requirement,
        config=dict(config),
        requires=tuple(requires),
        condition=condition,
        bindings=sub,
        max_failures=max_failures,
    )
