"""The flow registry: plugins from the ``idp.flows`` and ``idp.steps`` entry-point groups, validated, then frozen.

A flow plugin registers a :class:`Flow` (with the steps it binds); a step plugin registers a lone
:class:`Step` that every flow's bindings may name, e.g. a new second factor (``designation =
SECOND_FACTOR``): the login flow offers it as an alternative with no change to the core or to the flow.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points
from pathlib import Path

from idp.flowengine.contract import DESIGNATIONS, Flow, Step


class RegistryError(RuntimeError):
    """A plugin is malformed, or the registry was changed after start-up."""


class FlowRegistry:
    """Registered flows by name; frozen once the app is built (like Flask's ``setupmethod``)."""

    GROUP = "idp.flows"
    STEP_GROUP = "idp.steps"

    def __init__(self) -> None:
        self._flows: dict[str, Flow] = {}
        #: Lone step plugins (``idp.steps``), in registration order.
        self._steps: dict[str, type[Step]] = {}
        self._errors: dict[str, str] = {}
        self._frozen = False

    def register(self, flow_cls: type[Flow]) -> None:
        if self._frozen:
            raise RegistryError(f"cannot register {flow_cls.__name__}: the flow registry is frozen after start-up")
        validate_flow(flow_cls)
        if flow_cls.name in self._flows:
            raise RegistryError(f"two flows are named {flow_cls.name!r}")
        clash = [s.name for s in flow_cls.steps if s.name in self._steps and self._steps[s.name] is not s]
        if clash:
            raise RegistryError(f"flow {flow_cls.name!r}: its step {clash[0]!r} has the name of an installed step plugin")
        self._take_errors(flow_cls.name, (flow_cls, *flow_cls.steps))
        self._flows[flow_cls.name] = flow_cls()

    def register_step(self, step_cls: type[Step]) -> None:
        """A lone step plugin: every flow's bindings may name it (the ``idp.steps`` entry point calls this)."""
        if self._frozen:
            raise RegistryError(f"cannot register {step_cls.__name__}: the flow registry is frozen after start-up")
        if not (isinstance(step_cls, type) and issubclass(step_cls, Step)) or not step_cls.name:
            raise RegistryError(f"{step_cls!r} is not a named Step")
        taken = step_cls.name in self._steps or any(s.name == step_cls.name and s is not step_cls for f in self._flows.values() for s in f.steps)
        if taken:
            raise RegistryError(f"two steps are named {step_cls.name!r}")
        self._take_errors(step_cls.name, (step_cls,))
        self._steps[step_cls.name] = step_cls

    def _take_errors(self, owner_name: str, owners: Iterable[type]) -> None:
        errors = dict(self._errors)
        for owner in owners:
            for error, text in getattr(owner, "errors", {}).items():
                if errors.get(error, text) != text:
                    raise RegistryError(f"{owner_name!r}: error {error!r} already has another text")
                errors[error] = text
        self._errors = errors

    def load_entry_points(self, names: Iterable[str] | None = None) -> None:
        """Register every step plugin, then every flow of the entry-point groups (or only the flows ``names``)."""
        for ep in entry_points(group=self.STEP_GROUP):
            step_cls = ep.load()
            if getattr(step_cls, "name", None) != ep.name:
                raise RegistryError(f"entry point {ep.name!r} loads a step named {getattr(step_cls, 'name', None)!r}")
            self.register_step(step_cls)
        for ep in entry_points(group=self.GROUP):
            if names is not None and ep.name not in names:
                continue
            flow_cls = ep.load()
            if getattr(flow_cls, "name", None) != ep.name:
                raise RegistryError(f"entry point {ep.name!r} loads a flow named {getattr(flow_cls, 'name', None)!r}")
            self.register(flow_cls)

    def freeze(self) -> None:
        self._frozen = True

    def get(self, name: str) -> Flow | None:
        return self._flows.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._flows

    def __iter__(self) -> Iterator[Flow]:
        return iter(self._flows.values())

    def steps_for(self, flow: Flow) -> dict[str, type[Step]]:
        """The steps ``flow``'s bindings may name: its own, then the installed step plugins."""
        own = {s.name: s for s in flow.steps}
        return {**own, **{name: s for name, s in self._steps.items() if name not in own}}

    def designated(self, designation: str) -> list[Flow]:
        """The installed flows carrying ``designation`` (``login``, ``recovery``), by name."""
        return sorted((f for f in self._flows.values() if f.designation == designation), key=lambda f: f.name)

    def error_texts(self) -> dict[str, str]:
        """Every error id the installed flows and their steps declare, with its English text (``Step.errors``)."""
        return dict(self._errors)

    def resource_dirs(self, kind: str) -> list[Path]:
        """The ``kind`` folders (``templates``: hosted pages; ``translations``: gettext catalogs) that the
        installed flows and step plugins ship beside their code: each flow's package, then the packages of
        its steps (shared steps ship their own pages), then the step plugins', each folder once. A plugin adds
        pages and messages by putting them there; nothing in the core lists them."""
        dirs: list[Path] = []
        owners: list[type] = [cls for flow in self._flows.values() for cls in (type(flow), *flow.steps)]
        for cls in (*owners, *self._steps.values()):
            found = package_dir(cls) / kind
            if found.is_dir() and found not in dirs:
                dirs.append(found)
        return dirs

    def designated_name(self, designation: str) -> str:
        """The name of the first installed flow carrying ``designation``, or "" when none does."""
        flows = self.designated(designation)
        return flows[0].name if flows else ""


def package_dir(cls: type) -> Path:
    """The folder of the package that defines ``cls`` (a flow's or a step's)."""
    module = sys.modules[cls.__module__]
    return Path(module.__file__ or "").resolve().parent


def validate_flow(flow_cls: type[Flow]) -> None:
    """Check a flow class when it is loaded: names, unique steps, and that proofs can be met."""
    if not flow_cls.name or not flow_cls.name.replace("-", "").isalnum():
        raise RegistryError(f"{flow_cls.__name__}: a flow needs a name of letters, digits and dashes")
    if flow_cls.designation and flow_cls.designation not in DESIGNATIONS:
        raise RegistryError(f"flow {flow_cls.name!r}: designation {flow_cls.designation!r} is not one of {', '.join(DESIGNATIONS)}")
    if not flow_cls.steps:
        raise RegistryError(f"flow {flow_cls.name!r} has no steps")
    seen: set[str] = set()
    for step in flow_cls.steps:
        if not (isinstance(step, type) and issubclass(step, Step)) or not step.name:
            raise RegistryError(f"flow {flow_cls.name!r}: {step!r} is not a named Step")
        if step.name in seen:
            raise RegistryError(f"flow {flow_cls.name!r}: two steps are named {step.name!r}")
        seen.add(step.name)
    missing = [p for p in missing_proofs(flow_cls.steps, flow_cls.completion_requires) if p not in flow_cls.entry_proofs]
    if missing:
        raise RegistryError(f"flow {flow_cls.name!r} can complete without proving: {', '.join(missing)}")


def missing_proofs(steps: Iterable[type[Step]], required: Iterable[str]) -> list[str]:
    """The proofs in ``required`` that no step of ``steps`` provides."""
    provided = {p for s in steps for p in s.provides}
    return [p for p in required if p not in provided]
