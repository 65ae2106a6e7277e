"""Build a flow's typed ``Config`` and its plan from a tenant's plain settings, naming the field on error."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from idp.flowengine.contract import Flow
from idp.flowengine.planner import Plan, StepCatalog, build_plan, flow_bindings
from idp.tenants.config import _coerce  # the same coercion rules as the tenant file

if TYPE_CHECKING:  # pragma: no cover
    from idp.tenants.service import TenantView


def build_flow_config(flow: Flow, settings: Mapping[str, Any], path: str, stored: bool = False) -> Any:
    """``flow.Config(**settings)`` with types checked; then ``check()`` when the Config defines it.

    ``stored``: settings read back from the database, loaded even if a value lies outside bounds added
    since they were saved (see :meth:`idp.tenants.config.TenantConfig.load`).
    """
    cls = flow.Config
    if not dataclasses.is_dataclass(cls):
        return cls()
    config = _coerce(cls, dict(settings), path, check_bounds=not stored)
    check = getattr(config, "check", None)
    if callable(check):
        check(path)
    return config


def flow_settings(tenant: "TenantView", flow: Flow) -> Any:
    """The flow's ``Config`` built from ``tenant``'s ``flows.<name>.settings`` as stored (validated)."""
    return build_flow_config(flow, tenant.config.flow(flow.name).settings, f"flows.{flow.name}.settings", stored=True)


def flow_plan(tenant: "TenantView", flow: Flow, catalog: StepCatalog) -> Plan:
    """The flow's plan for ``tenant``: its own bindings, else the flow's defaults under its settings."""
    binding = tenant.config.flow(flow.name)
    config = flow_settings(tenant, flow)
    path = f"flows.{flow.name}.bindings"
    return build_plan(flow, flow_bindings(flow, config, catalog, binding.bindings, path), catalog, path, stored=True, config=config)


def check_flow(flow: Flow, settings: Mapping[str, Any], bindings: Any, catalog: StepCatalog, name: str) -> None:
    """Refuse (:class:`ConfigError` naming the field) settings or bindings of ``flow`` that do not build a
    sound plan: run on every change of a tenant's configuration."""
    config = build_flow_config(flow, settings, f"flows.{name}.settings")
    path = f"flows.{name}.bindings"
    build_plan(flow, flow_bindings(flow, config, catalog, bindings, path), catalog, path)
