"""Build a flow's typed ``Config`` from a tenant's plain settings, naming the field on error."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from idp.flowengine.contract import Flow
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
