"""Plain-data views of records for ``--json`` and text output; never a secret or a hash."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from idp.oidc.clients import ClientView
    from idp.oidc.keys import KeyInfo
    from idp.storage.models import User
    from idp.tenants.service import TenantView


def discovery_url(tenant: TenantView) -> str:
    return f"{tenant.issuer}/.well-known/openid-configuration"


def tenant_view(tenant: TenantView, config: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": tenant.slug,
        "display_name": tenant.display_name,
        "experience": tenant.experience,
        "issuer": tenant.issuer,
        "discovery_url": discovery_url(tenant),
        "revision": tenant.revision,
    }
    if config:
        data["config"] = tenant.config.dump()
    return data


def client_view(tenant: TenantView, client: ClientView) -> dict[str, Any]:
    """A registered client, never its secret or the secret's hash."""
    return {"tenant": tenant.slug, **client.to_dict()}


def user_view(tenant: TenantView, user: User) -> dict[str, Any]:
    return {
        "tenant": tenant.slug,
        "username": user.username,
        "sub": user.sub,
        "email": user.email,
        "email_verified": user.email_verified,
        "phone": user.phone,
        "phone_verified": user.phone_verified,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "locale": user.locale,
        "address": dict(user.address) if user.address else None,
        "status": user.status,
        "roles": list(user.roles or ()),
        "has_password": bool(user.password_hash),
        "created_at": user.created_at,
    }


def key_view(tenant: TenantView, key: KeyInfo) -> dict[str, Any]:
    """A signing key: public facts and its status (``pending``, ``active``, ``retired`` or ``expired``)."""
    return {"tenant": tenant.slug, **key.to_dict()}
