"""Who may call the admin API: bearer access tokens of this IdP, checked as a resource server would.

The convention (README "Administration"):

- The admin API is the resource server ``idp-admin`` (:data:`idp.oidc.tokens.ADMIN_AUDIENCE`).
  A client asks for the scope ``admin`` (granted only to clients registered with it);
  access tokens carrying it have ``aud: "idp-admin"``.
- A token is accepted when its issuer is a tenant of this IdP, its signature verifies
  against that tenant's published keys, ``typ`` is ``at+jwt``, ``aud`` is ``idp-admin``,
  ``scope`` holds ``admin``, it has not expired, and it has not been revoked (its grant
  is still live: disabling a user or revoking their sessions ends their admin access at once).
- Roles are read from the account at each request, not from the token, so a role
  taken away or an account disabled takes effect immediately:
  ``platform-admin`` on a user of the ``master`` tenant, or a ``master`` service
  account (client credentials with ``admin``), manages every tenant;
  ``tenant-admin`` on a user of tenant T, or a service account of T, manages T only.

Failures: no, malformed, expired, foreign or wrong-audience token → 401
(``WWW-Authenticate: Bearer error="invalid_token"``); a valid token without the
right → 403 (R-44), on every endpoint, the tenant list included: a user with the
``admin`` scope but neither role gets 403, as Keycloak answers a token without realm-management roles.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from joserfc.util import urlsafe_b64decode

from idp.oidc.clients import ADMIN_SCOPE
from idp.oidc.tokens import ADMIN_AUDIENCE

if TYPE_CHECKING:  # pragma: no cover
    from idp.services import Services
    from idp.tenants.service import TenantView

MASTER = "master"
PLATFORM_ADMIN = "platform-admin"
TENANT_ADMIN = "tenant-admin"
#: Roles an admin may hand out; ``platform-admin`` only by a platform admin, and only in ``master``.
ROLES = (TENANT_ADMIN, PLATFORM_ADMIN)


class AdminAuthError(Exception):
    """The request may not go on: 401 (not authenticated) or 403 (not allowed)."""

    def __init__(self, status: int, message: str, field: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.field = field


@dataclass(frozen=True)
class Admin:
    """The authenticated caller: where its token comes from and what it may manage."""

    tenant: str
    #: Username of a user, or client id of a service account.
    name: str
    platform: bool
    tenant_admin: bool
    user_sub: str = ""

    @property
    def actor(self) -> str:
        """How audit events name this admin: ``admin:<tenant>/<username or client>``."""
        return f"admin:{self.tenant}/{self.name}"

    def may_manage(self, slug: str) -> bool:
        return self.platform or (self.tenant_admin and self.tenant == slug)


def _issuer_slug(services: Services, token: str) -> str:
    """The tenant slug named by the token's (still unverified) ``iss``; "" when it is not one of ours."""
    try:
        payload = json.loads(urlsafe_b64decode(token.split(".")[1].encode()))
    except (ValueError, IndexError, UnicodeDecodeError):
        return ""
    iss = payload.get("iss") if isinstance(payload, dict) else None
    prefix = f"{services.settings.public_url}/realms/"
    if not isinstance(iss, str) or not iss.startswith(prefix):
        return ""
    return iss[len(prefix) :]


def bearer_token(header: str | None) -> str:
    if not header or not header[:7].lower() == "bearer ":
        raise AdminAuthError(401, "a bearer access token is required")
    return header[7:].strip()


def authenticate(services: Services, token: str) -> Admin:
    """The admin behind ``token``, or :class:`AdminAuthError` (401: bad token, 403: no admin right)."""
    if not token or token.count(".") != 2 or len(token) > 8192:
        raise AdminAuthError(401, "the access token is malformed")
    tenant = services.tenants.get(_issuer_slug(services, token))
    if tenant is None:
        raise AdminAuthError(401, "the access token was not issued by this server")
    tokens = services.tokens
    claims = tokens.decode_jwt(tenant, token)  # signature against the tenant's keys, iss, typ, exp
    if claims is None:
        raise AdminAuthError(401, "the access token is invalid or expired")
    aud = claims.get("aud")
    if ADMIN_AUDIENCE not in (aud if isinstance(aud, list) else [aud]):
        raise AdminAuthError(401, f"the access token is not meant for {ADMIN_AUDIENCE}")
    if ADMIN_SCOPE not in str(claims.get("scope", "")).split():
        raise AdminAuthError(401, f"the access token lacks the {ADMIN_SCOPE} scope")
    record = tokens.verify_access_token(tenant, token)  # not revoked, client and grant still live
    if record is None:
        raise AdminAuthError(401, "the access token has been revoked")
    if record.user is None:
        return _service_account(tenant, str(claims["client_id"]))
    return _user(services, tenant, record.user.sub)


def _service_account(tenant: TenantView, client_id: str) -> Admin:
    return Admin(tenant=tenant.slug, name=client_id, platform=tenant.slug == MASTER, tenant_admin=True)


def _user(services: Services, tenant: TenantView, sub: str) -> Admin:
    user = services.users.by_sub(tenant, sub)
    if user is None or user.status != "active":
        raise AdminAuthError(401, "the account behind the access token is disabled")
    roles = set(user.roles or ())
    admin = Admin(
        tenant=tenant.slug,
        name=user.username,
        platform=tenant.slug == MASTER and PLATFORM_ADMIN in roles,
        tenant_admin=TENANT_ADMIN in roles or (tenant.slug == MASTER and PLATFORM_ADMIN in roles),
        user_sub=user.sub,
    )
    if not (admin.platform or admin.tenant_admin):
        # the admin scope is only a client's permission to ask; the account itself holds no admin role
        raise AdminAuthError(403, "the account behind the access token has no admin role")
    return admin


def require_tenant(admin: Admin, slug: str) -> None:
    """403 unless ``admin`` may manage tenant ``slug`` (R-44); the same answer whether or not it exists."""
    if not admin.may_manage(slug):
        raise AdminAuthError(403, "this access token may not manage this tenant")


def require_platform(admin: Admin) -> None:
    if not admin.platform:
        raise AdminAuthError(403, "only platform administrators may do this")


def check_roles(admin: Admin, slug: str, roles: Any) -> list[str]:
    """Roles an admin may set on a user of ``slug``: known ones; ``platform-admin`` by platform admins in master only."""
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise AdminAuthError(422, "roles must be a list of strings", field="roles")
    for role in roles:
        if role not in ROLES:
            raise AdminAuthError(422, f"unknown role {role!r}: use {', '.join(ROLES)}", field="roles")
    if PLATFORM_ADMIN in roles and (slug != MASTER or not admin.platform):
        raise AdminAuthError(403, "only platform administrators may grant platform-admin, in the master tenant", field="roles")
    return list(dict.fromkeys(roles))
