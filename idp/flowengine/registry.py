"""The flow registry: plugins from the ``idp.flows`` entry-point group, validated, then frozen."""

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

    def __init__(self) -> None:
        self._flows: dict[str, Flow] = {}
        self._errors: dict[str, str] = {}
        self._frozen = False

    def register(self, flow_cls: type[Flow]) -> None:
        if self._frozen:
            raise RegistryError(f"cannot register {flow_cls.__name__}: the flow registry is frozen after start-up")
        validate_flow(flow_cls)
        if flow_cls.name in self._flows:
            raise RegistryError(f"two flows are named {flow_cls.name!r}")
        errors = dict(self._errors)
        for owner in (flow_cls, *flow_cls.steps):
            for error, text in owner.errors.items():
                if errors.get(error, text) != text:
                    raise RegistryError(f"flow {flow_cls.name!r}: error {error!r} already has another text")
                errors[error] = text
        self._errors = errors
        self._flows[flow_cls.name] = flow_cls()

    def load_entry_points(self, names: Iterable[str] | None = None) -> None:
        """Register every flow of the entry-point group (or only ``names``)."""
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

    def designated(self, designation: str) -> list[Flow]:
        """The installed flows carrying ``designation`` (``login``, ``recovery``), by name."""
        return sorted((f for f in self._flows.values() if f.designation == designation), key=lambda f: f.name)

    def error_texts(self) -> dict[str, str]:
        """Every error id the installed flows and their steps declare, with its English text (``Step.errors``)."""
        return dict(self._errors)

    def resource_dirs(self, kind: str) -> list[Path]:
        """The ``kind`` folders (``templates``: hosted pages; ``translations``: gettext catalogs) that the
        installed flows ship beside their code: each flow's package, then the packages of its steps
        (shared steps ship their own pages), each folder once, in registration order. A plugin adds
        pages and messages by putting them there; nothing in the core lists them."""
        dirs: list[Path] = []
        for flow in self._flows.values():
            for cls in (type(flow), *flow.steps):
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
