"""What an administrator can do, shared by the admin API and the console.

Each method calls the service that enforces the rule (tenants, users, factors,
clients, keys, sessions, throttle) and writes the audit event naming the acting
admin (``admin:<tenant>/<name>``). Services that audit their own changes
(flows, experience, factor removal) get the actor passed down instead, so every
write is recorded exactly once. Nothing here knows HTTP.

Errors are the services' own (:class:`TenantError`, :class:`UserError`,
:class:`ClientError`, :class:`FactorError`) or :class:`AdminAuthError`; each
carries a status and, when one field is at fault, its name. What they give back is shown
through the models of :mod:`idp.admin.shapes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from idp.accounts.users import UserError
from idp.admin import auth, shapes
from idp.admin.auth import Admin
from idp.flowengine.contract import LOGIN, RECOVERY
from idp.oidc.clients import ADMIN_SCOPE, LOGOUT_FIELDS, SECURITY_FLAGS
from idp.tenants.service import TenantError, TenantView

if TYPE_CHECKING:  # pragma: no cover
    from idp.services import Services
    from idp.storage.models import Factor, User

#: Profile fields an admin may change with a user update (status goes through disable/enable).
USER_FIELDS = ("email", "phone", "locale", "given_name", "family_name", "email_verified", "address", "roles")


def recovery_flow(services: Services) -> str:
    """The name of the installed flow designated ``recovery`` (the onboarding question is about it), or ""."""
    return services.registry.designated_name(RECOVERY)


@dataclass
class AdminActions:
    """The acting admin, where the request came from, and the services."""

    services: Services
    admin: Admin
    client_ip: str = ""
    user_agent: str = ""

    # -- helpers -------------------------------------------------------------------

    def recovery_flow(self) -> str:
        return recovery_flow(self.services)

    def login_flows(self) -> set[str]:
        """The installed flows designated ``login``: the tenant service refuses to disable them."""
        return {f.name for f in self.services.registry.designated(LOGIN)}

    def tenant(self, slug: str) -> TenantView:
        """The tenant ``slug`` if this admin may manage it: 403 first, so nothing tells whether it exists (R-44)."""
        auth.require_tenant(self.admin, slug)
        return self.services.tenants.require(slug)

    def user(self, tenant: TenantView, user_id: str) -> User:
        user = self.services.users.by_sub(tenant, user_id) if isinstance(user_id, str) and len(user_id) <= 64 else None
        if user is None:
            raise UserError(f"unknown user {user_id!r}", status=404, field="user")
        return user

    def managed_user(self, tenant: TenantView, user_id: str) -> User:
        """A user this admin may change: a platform administrator's account only a platform administrator may touch."""
        user = self.user(tenant, user_id)
        if auth.PLATFORM_ADMIN in (user.roles or []) and not self.admin.platform:
            raise auth.AdminAuthError(403, "only platform administrators may change a platform administrator's account", field="user")
        return user

    def _guard_client(self, tenant: TenantView, client_id: str, new_scope: Any = None) -> None:
        """In ``master``, an admin-scoped client is a platform service account: only platform administrators
        may register one, give a client that scope, or change, re-key or remove such a client (R-44)."""
        if tenant.slug != auth.MASTER or self.admin.platform:
            return
        existing = self.services.clients.get(tenant, client_id)
        scopes = set(str(new_scope or "").split()) | set(str(getattr(existing, "scope", "") or "").split())
        if ADMIN_SCOPE in scopes:
            raise auth.AdminAuthError(403, "only platform administrators may manage admin service accounts of master", field="scope")

    def _audit(self, tenant: TenantView, type: str, user: User | None = None, **details: Any) -> None:
        self.services.audit.record(
            tenant.id,
            type,
            user_id=user.id if user is not None else None,
            actor=self.admin.actor,
            client_ip=self.client_ip,
            user_agent=self.user_agent,
            **details,
        )

    # -- tenants -------------------------------------------------------------------

    def list_tenants(self) -> list[TenantView]:
        """Every tenant for a platform admin; only its own for a tenant admin (R-44).

        An account with neither role never gets here: :func:`idp.admin.auth.authenticate` answers 403.
        """
        if self.admin.platform:
            return self.services.tenants.list()
        auth.require_tenant(self.admin, self.admin.tenant)
        own = self.services.tenants.get(self.admin.tenant)
        return [own] if own is not None else []

    def create_tenant(
        self, slug: str, display_name: str = "", experience: str = "v2", self_recovery: bool = False, config: dict[str, Any] | None = None
    ) -> TenantView:
        """Platform admins only. With ``self_recovery``, the flow's compatibility is checked first: refused, nothing is written."""
        auth.require_platform(self.admin)
        recovery = self.recovery_flow()
        if self_recovery and not recovery:
            raise TenantError("no self-recovery flow is installed on this server", status=422, field="self_recovery")
        try:
            return self.services.tenants.create(
                slug,
                display_name=display_name,
                experience=experience,
                config=config,
                enable_flows=(recovery,) if self_recovery else (),
                actor=self.admin.actor,
            )
        except TenantError as exc:
            if exc.field == "flow":  # the body names it self_recovery
                exc.field = "self_recovery"
            raise

    def update_config(self, slug: str, patch: Any) -> TenantView:
        if not isinstance(patch, dict):
            raise TenantError("the configuration patch must be a JSON object", status=422, field="(root)")
        self.tenant(slug)
        view = self.services.tenants.update_config(slug, patch, actor=self.admin.actor)
        if isinstance(patch.get("branding"), dict) and "uploaded_logo" in patch["branding"]:
            self.services.logos.prune(view)  # the logo it no longer names
        return view

    def upload_logo(self, slug: str, data: bytes, patch: dict[str, Any] | None = None) -> TenantView:
        """Check and keep an uploaded logo, then point the branding at it, with ``patch``'s other changes, in one change.

        A refused file (:class:`~idp.tenants.logos.LogoError`, 422 naming ``branding.logo_file``) changes nothing.
        """
        tenant = self.tenant(slug)
        digest = self.services.logos.store(tenant, data)
        patch = dict(patch or {})
        patch["branding"] = {**patch.get("branding", {}), "uploaded_logo": digest, "logo_url": ""}
        try:
            return self.update_config(slug, patch)
        except Exception:
            self.services.logos.prune(self.services.tenants.require(slug))  # the stored file is named by nothing
            raise

    def migrate(self, slug: str, experience: str) -> TenantView:
        """Moving a tenant to another login experience is the platform's decision (issue 5)."""
        self.tenant(slug)
        auth.require_platform(self.admin)
        return self.services.tenants.migrate_experience(slug, experience, actor=self.admin.actor)

    def enable_flow(self, slug: str, flow: str, enabled_from: datetime | None) -> TenantView:
        self.tenant(slug)
        return self.services.tenants.enable_flow(slug, flow, enabled_from=enabled_from, actor=self.admin.actor)

    def disable_flow(self, slug: str, flow: str) -> TenantView:
        self.tenant(slug)
        return self.services.tenants.disable_flow(slug, flow, actor=self.admin.actor)

    # -- users ---------------------------------------------------------------------

    def create_user(self, slug: str, data: dict[str, Any]) -> User:
        tenant = self.tenant(slug)
        roles = auth.check_roles(self.admin, slug, data.get("roles", []))
        user = self.services.users.create(
            tenant,
            data["username"],
            data.get("password"),
            email=data.get("email"),
            phone=data.get("phone"),
            locale=data.get("locale"),
            roles=roles,
            given_name=data.get("given_name", ""),
            family_name=data.get("family_name", ""),
            email_verified=bool(data.get("email_verified", False)),
            address=data.get("address"),
        )
        self._audit(tenant, "admin.user_created", user, roles=roles)
        return user

    def update_user(self, slug: str, user_id: str, changes: dict[str, Any]) -> User:
        tenant = self.tenant(slug)
        user = self.managed_user(tenant, user_id)
        unknown = sorted(set(changes) - set(USER_FIELDS))
        if unknown:
            raise UserError(f"unknown field {unknown[0]!r}", status=422, field=unknown[0])
        if "roles" in changes:
            changes["roles"] = auth.check_roles(self.admin, slug, changes["roles"])
        user = self.services.users.update(tenant, user, **changes)
        self._audit(tenant, "admin.user_updated", user, fields=sorted(changes))
        return user

    def set_enabled(self, slug: str, user_id: str, enabled: bool) -> User:
        """Disabling also ends every session and revokes every token of the user."""
        tenant = self.tenant(slug)
        user = self.managed_user(tenant, user_id)
        user = self.services.users.update(tenant, user, status="active" if enabled else "disabled")
        if not enabled:
            self.services.sessions.revoke_user(tenant, user.id)
        self._audit(tenant, "admin.user_enabled" if enabled else "admin.user_disabled", user)
        return user

    def set_password(self, slug: str, user_id: str, password: Any) -> None:
        tenant = self.tenant(slug)
        user = self.managed_user(tenant, user_id)
        if not isinstance(password, str):
            raise UserError("password must be a string", status=422, field="password")
        self.services.users.set_password(tenant, user, password)
        self._audit(tenant, "admin.password_set", user)

    def remove_factor(self, slug: str, user_id: str, factor_id: str) -> Factor:
        tenant = self.tenant(slug)
        user = self.managed_user(tenant, user_id)
        return self.services.factors.remove_factor(tenant, user, factor_id, actor=self.admin.actor)

    def reset_factors(self, slug: str, user_id: str) -> list[Factor]:
        """Remove every active second factor, then end the user's sessions (they were proved with those factors)."""
        tenant = self.tenant(slug)
        user = self.managed_user(tenant, user_id)
        removed = [
            self.services.factors.remove_factor(tenant, user, f.id, actor=self.admin.actor) for f in self.services.factors.active(tenant, user)
        ]
        self.services.sessions.revoke_user(tenant, user.id)
        self._audit(tenant, "admin.factors_reset", user, removed=len(removed))
        return removed

    def unlock(self, slug: str, user_id: str) -> None:
        tenant = self.tenant(slug)
        user = self.managed_user(tenant, user_id)
        self.services.throttle.reset(tenant, user.id)
        self._audit(tenant, "admin.user_unlocked", user)

    def revoke_sessions(self, slug: str, user_id: str) -> int:
        tenant = self.tenant(slug)
        user = self.managed_user(tenant, user_id)
        count = self.services.sessions.revoke_user(tenant, user.id)
        self._audit(tenant, "admin.sessions_revoked", user, revoked=count)
        return count

    # -- consents ------------------------------------------------------------------

    def consents(self, slug: str, user_id: str) -> list[Any]:
        tenant = self.tenant(slug)
        return self.services.consents.list_for_user(tenant, self.user(tenant, user_id).id)

    def revoke_consent(self, slug: str, user_id: str, client_id: str) -> int:
        """Forget the consent and revoke what the client got for the user (audited by the service as ``consent.revoked``)."""
        tenant = self.tenant(slug)
        user = self.managed_user(tenant, user_id)
        return self.services.consents.revoke(
            tenant, user.id, client_id, actor=self.admin.actor, client_ip=self.client_ip, user_agent=self.user_agent
        )

    # -- clients -------------------------------------------------------------------

    def create_client(self, slug: str, data: dict[str, Any]) -> tuple[Any, str | None]:
        tenant = self.tenant(slug)
        self._guard_client(tenant, str(data.get("client_id", "")), data.get("scope"))
        view, secret = self.services.clients.create(
            tenant,
            data["client_id"],
            data.get("redirect_uris", []),
            post_logout_redirect_uris=data.get("post_logout_redirect_uris", []),
            public=bool(data.get("public", False)),
            grant_types=data.get("grant_types"),
            auth_method=data.get("token_endpoint_auth_method"),
            require_pkce=bool(data.get("require_pkce", True)),
            name=data.get("name", ""),
            scope=data.get("scope"),
            consent_required=bool(data.get("consent_required", False)),
            response_modes=data.get("response_modes"),
            **{k: data[k] for k in (*LOGOUT_FIELDS, *SECURITY_FLAGS) if k in data},
        )
        self._audit(tenant, "admin.client_created", client_id=view.client_id)
        return view, secret

    def update_client(self, slug: str, client_id: str, changes: dict[str, Any]) -> Any:
        tenant = self.tenant(slug)
        self._guard_client(tenant, client_id, changes.get("scope"))
        if "token_endpoint_auth_method" in changes:
            changes["auth_method"] = changes.pop("token_endpoint_auth_method")
        view = self.services.clients.update(tenant, client_id, **changes)
        self._audit(tenant, "admin.client_updated", client_id=client_id, fields=sorted(changes))
        return view

    def delete_client(self, slug: str, client_id: str) -> None:
        tenant = self.tenant(slug)
        self._guard_client(tenant, client_id)
        self.services.clients.delete(tenant, client_id)
        self._audit(tenant, "admin.client_deleted", client_id=client_id)

    def rotate_secret(self, slug: str, client_id: str) -> str:
        tenant = self.tenant(slug)
        self._guard_client(tenant, client_id)
        secret = self.services.clients.rotate_secret(tenant, client_id)
        self._audit(tenant, "admin.client_secret_rotated", client_id=client_id)
        return secret

    # -- keys ----------------------------------------------------------------------

    def rotate_key(self, slug: str, publish_delay: int | None) -> Any:
        tenant = self.tenant(slug)
        info = self.services.keys.rotate(tenant, publish_delay)
        self._audit(tenant, "admin.key_rotated", kid=info.kid)
        return info

    # -- audit ---------------------------------------------------------------------

    def events(
        self, slug: str, type: str | None, user_id: str | None, since: datetime | None, until: datetime | None, offset: int, limit: int
    ) -> list[dict[str, Any]]:
        tenant = self.tenant(slug)
        uid = None
        if user_id:
            user = self.services.users.by_sub(tenant, user_id)
            if user is None:
                return []
            uid = user.id
        rows = self.services.audit.query(tenant.id, type=type, user_id=uid, since=since, until=until, offset=offset, limit=limit)
        subs = self._subs(tenant, {e.user_id for e in rows if e.user_id is not None})
        return [shapes.Event.of(e, subs).dump() for e in rows]

    def _subs(self, tenant: TenantView, ids: set[int]) -> dict[int, str]:
        from sqlalchemy import select

        from idp.storage.models import User

        if not ids:
            return {}
        with self.services.db.session() as s:
            rows = s.execute(select(User.id, User.sub).where(User.tenant_id == tenant.id, User.id.in_(ids)))
            return {i: sub for i, sub in rows}
