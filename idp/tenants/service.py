"""Tenants: read through a short cache (the token endpoint must not query for them), change through here.

Every rule about what a tenant may enable lives in this service, so the CLI, the
admin API and the console enforce it once.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select

from idp.storage.models import Tenant
from idp.tenants.config import ConfigError, TenantConfig

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Mapping

    from sqlalchemy.orm import Session

    from idp.audit import AuditLog
    from idp.storage.database import Database
    from idp.tenants.revision import AdminRevision

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

#: Seconds a worker trusts its cached copy of a tenant. Admin writes reach every worker at once through
#: :mod:`idp.tenants.revision`; this lifetime is the backstop for changes made outside the services.
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



class FlowCatalog(Protocol):
    """What the tenant rules need of the flows this deployment installs (:class:`idp.flowengine.catalog.InstalledFlows`)."""

    def names(self) -> list[str]:
        """The installed flows' names, sorted."""
        ...

    def __contains__(self, name: object) -> bool: ...

    def compatibility(self, tenant: TenantView, name: str) -> list[str]:
        """Every reason the installed flow ``name`` cannot be enabled for ``tenant`` (empty: compatible)."""
        ...

    def designation(self, name: str) -> str:
        """The installed flow's designation (``login``, ``recovery``, or "")."""
        ...

    def bindings(self, tenant: TenantView, name: str) -> list[dict[str, Any]]:
        """The bindings flow ``name`` runs for ``tenant`` (its own, else the flow's defaults), as JSON."""
        ...

    def check_settings(self, name: str, settings: "Mapping[str, Any]", bindings: Any = ()) -> None:
        """Raise :class:`ConfigError` naming the field when ``settings`` or the tenant's own ``bindings`` of
        flow ``name`` are not valid (an unknown step, a path that skips a proof...)."""
        ...


class SigningKeys(Protocol):
    """The one call a new tenant needs of the key service: its first signing key, in the creating transaction."""

    def create_initial(self, session: "Session", tenant_id: int, alg: str) -> Any: ...


class TenantService:
    """Read and change tenants."""

    def __init__(
        self,
        db: "Database",
        public_url: str,
        revision: "AdminRevision",
        audit: "AuditLog",
        keys: SigningKeys,
        flows: FlowCatalog,
    ) -> None:
        self.db = db
        self.public_url = public_url
        self.revision = revision
        self.audit = audit
        self.keys = keys
        self.flows = flows
        revision.watch(self.clear)
        self._cache: dict[str, tuple[float, TenantView | None]] = {}
        self._lock = threading.Lock()

    # -- reading --------------------------------------------------------------

    def _view(self, row: Tenant, config: TenantConfig | None = None) -> TenantView:
        return TenantView(
            id=row.id,
            slug=row.slug,
            display_name=row.display_name,
            experience=row.experience,
            config=config if config is not None else TenantConfig.load(row.config, stored=True),
            revision=row.revision,
            public_url=self.public_url,
        )

    def get(self, slug: str) -> TenantView | None:
        """The tenant ``slug`` (cached for :data:`CACHE_TTL` seconds), or None."""
        now = time.monotonic()
        hit = self._cache.get(slug)
        if hit is not None and hit[0] > now:
            return hit[1]
        if not SLUG.match(slug):
            return None
        generation = self.revision.generation
        with self.db.session() as s:
            row = s.scalar(select(Tenant).where(Tenant.slug == slug))
            view = self._view(row) if row is not None else None
        with self._lock:
            if generation == self.revision.generation:  # else an admin write may have come in between
                self._cache[slug] = (now + CACHE_TTL, view)
        return view

    def cached(self, slug: str) -> TenantView | None:
        """The tenant ``slug`` if this process holds a fresh copy (the same :data:`CACHE_TTL` as :meth:`get`), else None.

        Never queries: the protocol fast lane (:mod:`idp.web.fastlane`) serves from caches only and hands
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
        with self.db.session() as s:
            return [self._view(r) for r in s.scalars(select(Tenant).order_by(Tenant.slug))]

    def invalidate(self, slug: str) -> None:
        with self._lock:
            self._cache.pop(slug, None)

    def clear(self) -> None:
        """Forget every cached tenant (:class:`~idp.tenants.revision.AdminRevision` calls it when the revision moves)."""
        with self._lock:
            self._cache.clear()

    # -- changing -------------------------------------------------------------

    def check_new(self, slug: str, experience: str = "v2") -> None:
        """Raise the :class:`TenantError` that :meth:`create` would for this name and experience, if any."""
        if not SLUG.match(slug):
            raise TenantError(f"invalid tenant name {slug!r}: use lower-case letters, digits and dashes", field="slug")
        if experience not in ("v2", "legacy"):
            raise TenantError("experience must be 'v2' or 'legacy'", field="experience")
        with self.db.session() as s:
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
        if config is not None and not isinstance(config, dict):
            raise TenantError("config: must be an object", status=422, field="config")
        try:
            cfg = TenantConfig.load(config or {})
            if enable_flows:
                cfg = cfg.merged({"flows": {name: {"enabled": True} for name in enable_flows}})
            self._check_flow_settings(cfg, [*_named_flows(config), *enable_flows])
        except ConfigError as exc:
            raise TenantError(str(exc), status=422, field=exc.path) from None
        provisional = TenantView(0, slug, display_name or slug, experience, cfg, 0, self.public_url)
        try:
            self.check_flows(None, provisional, strict=enable_flows)
        except TenantError as exc:
            if exc.field in {f"flows.{name}.enabled" for name in enable_flows}:
                exc.field = "flow"  # a flow the caller asked for by name
            raise
        self.revision.bump()  # a worker may hold "no such tenant" for this name
        with self.db.session() as s:
            if s.scalar(select(Tenant.id).where(Tenant.slug == slug)) is not None:
                raise TenantError(f"tenant {slug!r} already exists", status=409, field="slug")
            row = Tenant(slug=slug, display_name=display_name or slug, experience=experience, config=cfg.dump())
            s.add(row)
            s.flush()
            self.keys.create_initial(s, row.id, cfg.tokens.signing_alg)
            self.audit.record(row.id, "tenant.created", actor=actor, session=s, experience=experience, flows=list(enable_flows))
            view = self._view(row)
        self._changed(slug)
        return view

    def update_config(self, slug: str, patch: dict[str, Any], actor: str = "") -> TenantView:
        """Deep-merge ``patch`` into the configuration; a bad value raises naming the field (422)."""
        return self._change_config(slug, patch, actor, "tenant.config_updated", fields=sorted(_paths(patch))[:50])

    def _change_config(
        self, slug: str, patch: dict[str, Any], actor: str, event: str, strict: tuple[str, ...] = (), **details: Any
    ) -> TenantView:
        """Validate and save a configuration change with its audit event, in one transaction.

        The values are checked (422 naming the field), then the flow rule (:meth:`check_flows`, 409) on the
        locked row, so two concurrent changes cannot pass it one by one.
        """
        self.revision.bump()
        with self.db.session() as s:
            row = s.scalar(select(Tenant).where(Tenant.slug == slug).with_for_update())
            if row is None:
                raise TenantError(f"unknown tenant {slug!r}", status=404)
            before = self._view(row)
            try:  # every value of the result is checked, stored ones included: a change brings them all within bounds
                cfg = TenantConfig.patched(row.config, patch)
                self._check_flow_settings(cfg, _named_flows(patch))
            except ConfigError as exc:
                raise TenantError(str(exc), status=422, field=exc.path) from None
            self.check_flows(before, self._view(row, cfg), strict=strict)
            row.config = cfg.dump()
            row.revision += 1
            self.audit.record(row.id, event, actor=actor, session=s, **details)
            view = self._view(row)
        self._changed(slug)
        return view

    def _check_flow_settings(self, cfg: TenantConfig, named: Iterable[str] = ()) -> None:
        """The settings and bindings of every registered flow are valid, and every flow the caller ``named`` is registered
        (:class:`ConfigError`). A flow of the defaults or of a stored configuration whose plugin this
        deployment does not install is left alone: it simply does not run here."""
        named = set(named)
        for name, binding in cfg.flows.items():
            if name not in self.flows:
                if name in named:
                    raise ConfigError(f"flows.{name}", "is not a registered flow")
                continue
            self.flows.check_settings(name, binding.settings, binding.bindings)

    def _changed(self, slug: str) -> None:
        """After a committed change: drop this process's copy and tell every other worker (the second bump)."""
        self.invalidate(slug)
        self.revision.bump()

    # -- experience and flows (the rules of the seed, enforced here once) -----

    def migrate_experience(self, slug: str, experience: str = "v2", actor: str = "") -> TenantView:
        """Move a tenant to another login experience (``legacy`` → ``v2``: the new login experience)."""
        if experience not in ("v2", "legacy"):
            raise TenantError("experience must be 'v2' or 'legacy'", field="experience")
        self.revision.bump()
        with self.db.session() as s:
            row = s.scalar(select(Tenant).where(Tenant.slug == slug).with_for_update())
            if row is None:
                raise TenantError(f"unknown tenant {slug!r}", status=404)
            before = self._view(row)
            broken = self.incompatible(before, dataclasses.replace(before, experience=experience))
            if broken:
                raise TenantError(
                    f"tenant {slug!r} has flows enabled that the {experience} login experience cannot run "
                    f"({', '.join(broken)}): disable them first",
                    status=409,
                    field="experience",
                )
            row.experience = experience
            row.revision += 1
            self.audit.record(
                row.id, "tenant.experience_migrated", actor=actor, session=s, before=before.experience, after=experience
            )
            view = self._view(row)
        self._changed(slug)
        return view

    # -- the flow rule: every change of a tenant's flow state goes through it -------------

    def incompatible(self, before: TenantView | None, after: TenantView, strict: tuple[str, ...] = ()) -> dict[str, list[str]]:
        """The flows a change from ``before`` to ``after`` would leave enabled but not compatible, with their reasons.

        A flow enabled in ``after`` must be compatible with ``after``. The one exception: a flow that was
        already enabled and already incompatible in ``before`` (the server's environment changed, e.g. its
        mail backend; ``flow_status`` shows it), so that an unrelated change is not held hostage. Flows in
        ``strict`` (the ones the caller is enabling) get no exception. ``before`` is None for a new tenant.
        """
        out: dict[str, list[str]] = {}
        for name, binding in after.config.flows.items():
            if not binding.enabled or name not in self.flows:
                continue  # a flow this deployment does not install never runs (a named one was refused already)
            reasons = self.compatibility(after, name)
            if not reasons:
                continue
            if name not in strict and before is not None and before.config.flow(name).enabled and self.compatibility(before, name):
                continue
            out[name] = reasons
        return out

    def check_flows(self, before: TenantView | None, after: TenantView, strict: tuple[str, ...] = ()) -> None:
        """Refuse (409, every reason) a change that :meth:`incompatible` finds fault with.

        Every path that changes a tenant's flow state applies it: creation (and import), configuration
        changes (admin API ``PATCH``, CLI, console), enabling a flow, and migrating the login experience.
        """
        broken = self.incompatible(before, after, strict)
        if broken:
            name, reasons = next(iter(broken.items()))
            raise TenantError(
                f"cannot enable {name} for tenant {after.slug!r}: " + "; ".join(reasons), status=409, field=f"flows.{name}.enabled"
            )

    def flow_status(self, tenant: TenantView) -> list[dict[str, Any]]:
        """Every registered flow with its state for ``tenant``, every reason it is not compatible, and the
        bindings it runs (``own_bindings``: the tenant's own list rather than the flow's defaults)."""
        now = datetime.now(UTC)
        out = []
        for name in self.flows.names():
            binding = tenant.config.flow(name)
            reasons = self.flows.compatibility(tenant, name)
            out.append(
                {
                    "name": name,
                    "enabled": binding.enabled,
                    "enabled_from": binding.enabled_from or None,
                    "live": binding.is_live(now),
                    "compatible": not reasons,
                    "reasons": reasons,
                    "bindings": self.flows.bindings(tenant, name),
                    "own_bindings": bool(binding.bindings),
                }
            )
        return out

    def compatibility_for_new(self, slug: str, experience: str, flow_name: str) -> list[str]:
        """Why ``flow_name`` could not be enabled on a new tenant with these settings (empty: it could)."""
        provisional = TenantView(0, slug, slug, experience, TenantConfig(), 0, self.public_url)
        return self.compatibility(provisional, flow_name)

    def compatibility(self, tenant: TenantView, flow_name: str) -> list[str]:
        if flow_name not in self.flows:
            raise TenantError(f"unknown flow {flow_name!r}", status=404, field="flow")
        return self.flows.compatibility(tenant, flow_name)

    def enable_flow(self, slug: str, flow_name: str, enabled_from: datetime | None = None, actor: str = "") -> TenantView:
        """Enable ``flow_name`` now or from ``enabled_from``; refused (409) with every reason when incompatible."""
        self.require(slug)
        if flow_name not in self.flows:
            raise TenantError(f"unknown flow {flow_name!r}", status=404, field="flow")
        if enabled_from is not None and enabled_from.tzinfo is None:
            raise TenantError("the activation date needs a time zone (e.g. 2026-12-01T08:00:00+00:00)", field="enabled_from")
        binding = {"enabled": True, "enabled_from": enabled_from.isoformat() if enabled_from else ""}
        try:
            return self._change_config(
                slug,
                {"flows": {flow_name: binding}},
                actor,
                "tenant.flow_enabled",
                strict=(flow_name,),
                flow=flow_name,
                enabled_from=binding["enabled_from"] or None,
            )
        except TenantError as exc:
            if exc.field == f"flows.{flow_name}.enabled":
                exc.field = "flow"  # the flow named in the request
            raise

    def disable_flow(self, slug: str, flow_name: str, actor: str = "") -> TenantView:
        tenant = self.require(slug)
        if flow_name not in self.flows:
            raise TenantError(f"unknown flow {flow_name!r}", status=404, field="flow")
        if self.flows.designation(flow_name) == "login":
            raise TenantError(f"the {flow_name} flow cannot be disabled: users would have no way to sign in", status=409, field="flow")
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


def _named_flows(config: dict[str, Any] | None) -> list[str]:
    """The flows a configuration document (or patch) names under ``flows``."""
    flows = (config or {}).get("flows")
    return list(flows) if isinstance(flows, dict) else []
