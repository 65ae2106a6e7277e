"""The installed flows as the tenant rules see them (:class:`idp.tenants.service.FlowCatalog`).

The tenant service checks flow settings and compatibility on every change of a tenant's flow state, but
sits below the flow engine: it is handed this catalog by the composition root instead of importing flows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from idp.flowengine.registry import FlowRegistry
from idp.flowengine.settings import check_flow, flow_plan

if TYPE_CHECKING:  # pragma: no cover
    from idp.flowengine.contract import StepServices
    from idp.tenants.service import TenantView


class InstalledFlows:
    """The registry's flows, with the step port their compatibility checks may call (built on first use)."""

    def __init__(self, registry: FlowRegistry, services: Callable[[], "StepServices"]) -> None:
        self.registry = registry
        self._services = services

    def names(self) -> list[str]:
        return sorted(flow.name for flow in self.registry)

    def __contains__(self, name: object) -> bool:
        return name in self.registry

    def compatibility(self, tenant: "TenantView", name: str) -> list[str]:
        flow = self.registry.get(name)
        if flow is None:
            raise LookupError(name)
        return flow.compatibility(tenant, self._services())

    def designation(self, name: str) -> str:
        flow = self.registry.get(name)
        return flow.designation if flow is not None else ""

    def bindings(self, tenant: "TenantView", name: str) -> list[dict[str, Any]]:
        flow = self.registry.get(name)
        if flow is None:
            raise LookupError(name)
        return flow_plan(tenant, flow, self.registry.steps_for(flow)).to_json()

    def check_settings(self, name: str, settings: Mapping[str, Any], bindings: Any = ()) -> None:
        """The flow's settings and bindings (the tenant's own, else the defaults) build a sound plan."""
        flow = self.registry.get(name)
        if flow is None:
            raise LookupError(name)
        check_flow(flow, settings, bindings, self.registry.steps_for(flow), name)
