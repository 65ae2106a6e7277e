"""Rendering hosted pages: the one helper every blueprint uses, and the layout's template globals.

Template context contract (every page):

- ``tenant``: a :class:`~idp.tenants.service.TenantView` or None. Filled from the
  URL's ``<tenant>`` when the view does not pass it; the layout shows its
  branding (display name, logo, primary colour).
- globals: ``_``/``gettext`` (Flask-Babel), ``current_language()``,
  ``csrf_token()``, ``csp_nonce()``, ``csp_script_nonce()`` (form_post.html only),
  ``error_message(id)``,
  ``recovery_url(tenant)`` (empty unless self-recovery is live for the tenant),
  ``support_url(tenant)`` (empty unless the tenant set one), ``login_url(tenant)``,
  ``logo_src(tenant)`` (the uploaded logo's address, else the logo URL, else empty).

Pages of their own:

- ``error.html``: ``error`` (a message id of :mod:`idp.web.messages`), optional
  ``description`` (extra plain text in English, such as a protocol detail: shown on
  English pages only, issue 16), optional ``retry_url``
  (a same-site path to start again).
- ``form_post.html``: ``action`` (the validated redirect URI), ``fields`` (the
  authorization response's (name, value) pairs): OAuth 2.0 Form Post Response Mode.
- ``logged_out.html``: ``tenant``, ``frames`` (front-channel logout URLs to frame), ``continue_to`` (the post-logout redirect).
- ``signed_in.html``: ``tenant``, optional ``username``.
- ``404.html``, ``400.html``, ``503.html``: ``error`` optional (defaults per page).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, make_response, render_template, url_for

from idp.flowengine.contract import LOGIN, RECOVERY
from idp.web.i18n import current_tenant, set_current_tenant
from idp.web.messages import message_for


def render_page(template: str, status: int = 200, tenant: Any = None, **context: Any) -> Response:
    """Render a hosted page with ``status``; ``tenant`` (when given) sets the branding and default language."""
    if tenant is not None:
        set_current_tenant(tenant)
    response = make_response(render_template(template, **context), status)
    return response


def recovery_url(tenant: Any) -> str:
    """Where « Moyens d'identification perdus ? » points, or "" when self-recovery is not live (issue 4)."""
    flow = current_app.extensions["idp"].engine.designated(tenant, RECOVERY) if tenant is not None else None
    if flow is None:
        return ""
    return url_for("flows.flow_page", tenant=tenant.slug, flow_name=flow.name)


def logo_src(tenant: Any) -> str:
    """Where the layout's logo comes from: the logo uploaded to this server, else ``branding.logo_url``, else ""."""
    if tenant is None:
        return ""
    branding = tenant.config.branding
    if branding.uploaded_logo:
        return url_for("branding.logo", tenant=tenant.slug, digest=branding.uploaded_logo)
    return str(branding.logo_url)


def support_url(tenant: Any) -> str:
    """The tenant's « Contacter le support » URL, or ""."""
    return str(tenant.config.branding.support_url) if tenant is not None else ""


def login_url(tenant: Any) -> str:
    """The tenant's own sign-in page, or "" without a tenant."""
    if tenant is None or current_app.extensions["idp"].engine.designated(tenant, LOGIN) is None:
        return ""
    return url_for("flows.login", tenant=tenant.slug)


def _context() -> dict[str, Any]:
    return {"tenant": current_tenant()}


def init_app(app: Flask) -> None:
    app.context_processor(_context)
    app.jinja_env.globals.update(
        error_message=message_for,
        recovery_url=recovery_url,
        support_url=support_url,
        logo_src=logo_src,
        login_url=login_url,
    )
