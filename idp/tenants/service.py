"""Tenants: read through a short cache (the token endpoint must not query for them), change through here.

Every rule about what a tenant may enable lives in this service, so the CLI, the
admin API and the console enforce it once.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from idp.storage.models import Tenant
from idp.tenants.config import ConfigError, TenantConfig

if TYPE_CHECKING:  # pragma: no cover
    from idp.flowengine.contract import Flow
    from idp.services import Services

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

#: Seconds a worker trusts its cached copy of a tenant (changes made elsewhere show within this time).
CACHE_TTL = 5.0


class TenantError(ValueError):
    """A tenant operation was refused; the message is one plain line for the CLI and the API."""

    def __init__(self, message: str, status: int = 400, field: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.field = field


@dataclass(frozen=True)
class TenantView:
    """An immutable snapshot of a tenant, safe to cache and share between threads."""

    id: int
    slug: str
    display_name: str
    experience: str
    config: TenantConfig
    revision: int
    public_url: str

    @property
    def issuer(self) -> str:
        return f"{self.public_url}/realms/{self.slug}"

    @property
    def brand_name(self) -> str:
        return self.config.branding.display_name or self.display_name

    def flow_live(self, name: str, now: datetime | None = None) -> bool:
        return self.config.flow(name).is_live(now or datetime.now(UTC))

    def flow_settings(self, flow: "Flow") -> Any:
        """The flow's ``Config`` built from this tenant's ``flows.<name>.settings`` (validated)."""
        from idp.flowengine.settings import build_flow_config

        return build_flow_config(flow, self.config.flow(flow.name).settings, f"flows.{flow.name}.settings")


class TenantService:
    """Read and change tenants."""

    def __init__(self, services: "Services") -> None:
        self.services = services
        self._cache: dict[str, tuple[float, TenantView | None]] = {}
        self._lock = threading.Lock()

    # -- reading --------------------------------------------------------------

    def _view(self, row: Tenant) -> TenantView:
        return TenantView(
            id=row.id,
            slug=row.slug,
            display_name=row.display_name,
            experience=row.experience,
            config=TenantConfig.load(row.config),
            revision=row.revision,
            public_url=self.services.settings.public_url,
        )

    def get(self, slug: str) -> TenantView | None:
        """The tenant ``slug`` (cached for :data:`CACHE_TTL` seconds), or None."""
        now = time.monotonic()
        hit = self._cache.get(slug)
        if hit is not None and hit[0] > now:
            return hit[1]
        if not SLUG.match(slug):
            return None
        with self.services.db.session() as s:
            row = s.scalar(select(Tenant).where(Tenant.slug == slug))
            view = self._view(row) if row is not None else None
        with self._lock:
            self._cache[slug] = (now + CACHE_TTL, view)
        return view

    def cached(self, slug: str) -> TenantView | None:
        """The tenant ``slug`` if this process holds a fresh copy (the same :data:`CACHE_TTL` as :meth:`get`), else None.

        Never queries: the protocol fast lane (:mod:`idp.oidc.fastlane`) serves from caches only and hands
        everything else (a miss, an unknown tenant) to Flask, whose :meth:`get` loads it.
        """
        hit = self._cache.get(slug)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return None

    def require(self, slug: str) -> TenantView:
        view = self.get(slug)
        if view is None:
            raise TenantError(f"unknown tenant {slug!r}", status=404)
        return view

    def list(self) -> list[TenantView]:
        with self.services.db.session() as s:
            return [self._view(r) for r in s.scalars(select(Tenant).order_by(Tenant.slug))]

    def invalidate(self, slug: str) -> None:
        with self._lock:
            self._cache.pop(slug, None)

    # -- changing -------------------------------------------------------------

    def check_new(self, slug: str, experience: str = "v2") -> None:
        """Raise the :class:`TenantError` that :meth:`create` would for this name and experience, if any."""
        if not SLUG.match(slug):
            raise TenantError(f"invalid tenant name {slug!r}: use lower-case letters, digits and dashes", field="slug")
        if experience not in ("v2", "legacy"):
            raise TenantError("experience must be 'v2' or 'legacy'", field="experience")
        with self.services.db.session() as s:
            if s.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
                raise TenantError(f"tenant {slug!r} already exists", status=409, field="slug")

    def create(
        self,
        slug: str,
        display_name: str = "",
        experience: str = "v2",
        config: dict[str, Any] | None = None,
        enable_flows: tuple[str, ...] = (),
        actor: str = "",
    ) -> TenantView:
        """Create a tenant with its first signing key, and ``enable_flows`` on (each must be compatible).

        Nothing is written if any part fails: an incompatible flow is refused (409) before the tenant exists.
        """
        self.check_new(slug, experience)
        try:
            cfg = TenantConfig.load(config or {})
            if enable_flows:
                cfg = cfg.merged({"flows": {name: {"enabled": True} for name in enable_flows}})
        except ConfigError as exc:
            raise TenantError(str(exc), status=422, field=exc.path) from None
        provisional = TenantView(0, slug, display_name or slug, experience, cfg, 0, self.services.settings.public_url)
        for name in enable_flows:
            reasons = self.compatibility(provisional, name)
            if reasons:
                raise TenantError(f"cannot enable {name} for tenant {slug!r}: " + "; ".join(reasons), status=409, field="flow")
        with self.services.db.session() as s:
            if s.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
                raise TenantError(f"tenant {slug!r} already exists", status=409, field="slug")
            row = Tenant(slug=slug, display_name=display_name or slug, experience=experience, config=cfg.dump())
            s.add(row)
            s.flush()
            self.services.keys.create_initial(s, row.id, cfg.tokens.signing_alg)
            self.services.audit.record(row.id, "tenant.created", actor=actor, session=s, experience=experience, flows=list(enable_flows))
            view = self._view(row)
        self.invalidate(slug)
        return view

    def update_config(self, slug: str, patch: dict[str, Any], actor: str = "") -> TenantView:
        """Deep-merge ``patch`` into the configuration; a bad value raises naming the field (422)."""
        return self._change_config(slug, patch, actor, "tenant.config_updated", fields=sorted(_paths(patch))[:50])

    def _change_config(self, slug: str, patch: dict[str, Any], actor: str, event: str, **details: Any) -> TenantView:
        """Validate and save a configuration change with its audit event, in one transaction."""
        with self.services.db.session() as s:
            row = s.scalar(select(Tenant).where(Tenant.slug == slug).with_for_update())
            if row is None:
                raise TenantError(f"unknown tenant {slug!r}", status=404)
            try:
                cfg = TenantConfig.load(row.config).merged(patch)
                for name, binding in cfg.flows.items():
                    flow = self.services.registry.get(name)
                    if flow is None:
                        raise ConfigError(f"flows.{name}", "is not a registered flow")
                    from idp.flowengine.settings import build_flow_config

                    build_flow_config(flow, binding.settings, f"flows.{name}.settings")
            except ConfigError as exc:
                raise TenantError(str(exc), status=422, field=exc.path) from None
            row.config = cfg.dump()
            row.revision += 1
            self.services.audit.record(row.id, event, actor=actor, session=s, **details)
            view = self._view(row)
        self.invalidate(slug)
        return view

    # -- experience and flows (the rules of the seed, enforced here once) -----

    def migrate_experience(self, slug: str, experience: str = "v2", actor: str = "") -> TenantView:
        """Move a tenant to another login experience (``legacy`` → ``v2``: the new login experience)."""
        if experience not in ("v2", "legacy"):
            raise TenantError("experience must be 'v2' or 'legacy'", field="experience")
        with self.services.db.session() as s:
            row = s.scalar(select(Tenant).where(Tenant.slug == slug).with_for_update())
            if row is None:
                raise TenantError(f"unknown tenant {slug!r}", status=404)
            if experience == "legacy":
                live = [n for n, b in TenantConfig.load(row.config).flows.items() if b.enabled and self._needs_v2(n)]
                if live:
                    raise TenantError(
                        f"tenant {slug!r} has flows that need the new login experience enabled ({', '.join(live)}): disable them first",
                        status=409,
                    )
            before = row.experience
            row.experience = experience
            row.revision += 1
            self.services.audit.record(row.id, "tenant.experience_migrated", actor=actor, session=s, before=before, after=experience)
            view = self._view(row)
        self.invalidate(slug)
        return view

    def _needs_v2(self, flow_name: str) -> bool:
        flow = self.services.registry.get(flow_name)
        return bool(flow is not None and getattr(flow, "requires_experience", "") == "v2")

    def flow_status(self, tenant: TenantView) -> list[dict[str, Any]]:
        """Every registered flow with its state for ``tenant`` and every reason it is not compatible."""
        now = datetime.now(UTC)
        out = []
        for flow in sorted(self.services.registry, key=lambda f: f.name):
            binding = tenant.config.flow(flow.name)
            reasons = flow.compatibility(tenant, self.services)
            out.append(
                {
                    "name": flow.name,
                    "enabled": binding.enabled,
                    "enabled_from": binding.enabled_from or None,
                    "live": binding.is_live(now),
                    "compatible": not reasons,
                    "reasons": reasons,
                }
            )
        return out

    def compatibility_for_new(self, slug: str, experience: str, flow_name: str) -> list[str]:
        """Why ``flow_name`` could not be enabled on a new tenant with these settings (empty: it could)."""
        provisional = TenantView(0, slug, slug, experience, TenantConfig(), 0, self.services.settings.public_url)
        return self.compatibility(provisional, flow_name)

    def compatibility(self, tenant: TenantView, flow_name: str) -> list[str]:
        flow = self.services.registry.get(flow_name)
        if flow is None:
            raise TenantError(f"unknown flow {flow_name!r}", status=404, field="flow")
        return flow.compatibility(tenant, self.services)

    def enable_flow(self, slug: str, flow_name: str, enabled_from: datetime | None = None, actor: str = "") -> TenantView:
        """Enable ``flow_name`` now or from ``enabled_from``; refused (409) with every reason when incompatible."""
        tenant = self.require(slug)
        reasons = self.compatibility(tenant, flow_name)
        if reasons:
            raise TenantError(f"cannot enable {flow_name} for tenant {slug!r}: " + "; ".join(reasons), status=409, field="flow")
        if enabled_from is not None and enabled_from.tzinfo is None:
            raise TenantError("the activation date needs a time zone (e.g. 2026-12-01T08:00:00+00:00)", field="enabled_from")
        binding = {"enabled": True, "enabled_from": enabled_from.isoformat() if enabled_from else ""}
        return self._change_config(
            slug, {"flows": {flow_name: binding}}, actor, "tenant.flow_enabled", flow=flow_name, enabled_from=binding["enabled_from"] or None
        )

    def disable_flow(self, slug: str, flow_name: str, actor: str = "") -> TenantView:
        tenant = self.require(slug)
        if self.services.registry.get(flow_name) is None:
            raise TenantError(f"unknown flow {flow_name!r}", status=404, field="flow")
        if flow_name == "browser-login":
            raise TenantError("the browser-login flow cannot be disabled: users would have no way to sign in", status=409, field="flow")
        return self._change_config(tenant.slug, {"flows": {flow_name: {"enabled": False, "enabled_from": ""}}}, actor, "tenant.flow_disabled", flow=flow_name)



def _paths(patch: Any, prefix: str = "") -> list[str]:
    """The dotted names of the settings a patch touches (for the audit: names, never values)."""
    out: list[str] = []
    for key, value in (patch or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.extend(_paths(value, name + "."))
        else:
            out.append(name)
    return out
