"""The SSO cookie: the browser's side of :mod:`idp.oidc.sessions` (HttpOnly, SameSite=Lax, per-tenant path)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Response, request

from idp.oidc.sessions import COOKIE, SsoSession, cookie_path

if TYPE_CHECKING:  # pragma: no cover
    from idp.oidc.sessions import SessionService
    from idp.tenants.service import TenantView


def _secure(tenant: "TenantView") -> bool:
    return tenant.public_url.startswith("https://")


def current_sso(sessions: "SessionService", tenant: "TenantView") -> SsoSession | None:
    """The SSO session of this request's browser at ``tenant``, or None."""
    token = request.cookies.get(COOKIE, "")
    return sessions.find(tenant, token) if token else None


def set_sso_cookie(response: Response, sessions: "SessionService", tenant: "TenantView", sso: SsoSession) -> None:
    """Put the new session in the browser (HttpOnly, SameSite=Lax, Secure on https, per-tenant path).

    The session this browser held before, if any, ends now (R-39: the old
    session is terminated when a new one is issued).
    """
    previous = request.cookies.get(COOKIE, "")
    if previous and previous != sso.token:
        sessions.end(tenant, previous)
    response.set_cookie(
        COOKIE,
        sso.token,
        path=cookie_path(tenant.slug),
        httponly=True,
        samesite="Lax",
        secure=_secure(tenant),
        max_age=tenant.config.tokens.sso_max_ttl,
    )


def clear_sso_cookie(response: Response, tenant: "TenantView") -> None:
    """Remove the session cookie from the browser."""
    response.delete_cookie(COOKIE, path=cookie_path(tenant.slug), httponly=True, samesite="Lax", secure=_secure(tenant))
