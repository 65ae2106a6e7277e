"""The admin console: server-rendered pages at ``/admin/console/realms/<tenant>/...`` (no JavaScript).

Signing in: the console is an OIDC client of the tenant (public client
``admin-console``, scope ``openid admin``, code flow with PKCE S256), registered on
first use with the redirect URI ``{IDP_PUBLIC_URL}/admin/console/realms/<tenant>/callback``.
The admin signs in on the tenant's own hosted pages (its MFA policy applies); the
callback redeems the code at the tenant's token endpoint over HTTP, like any RP,
checks the ID token's signature, audience and nonce, and keeps the access token
server-side (ephemeral store) behind a random HttpOnly cookie. Every page then
authenticates that token exactly like the API does (:func:`idp.admin.auth.authenticate`),
so roles and revocation apply at once; when it has expired the browser goes through
the sign-in again (silently while the tenant's SSO session lives).

Every form posts ``csrf_token`` (R-42); every change goes through
:class:`~idp.admin.actions.AdminActions`, like the API.

This module holds the blueprint, the console's sign-in and session, the page helpers, the clients
list and the statistics; the other pages register on the same blueprint from their own modules:
``console_flows`` (flows, self-recovery onboarding), ``console_settings`` (settings forms, logo),
``console_users``, ``console_clients`` (client page, signing keys), ``console_events`` (audit log)
and ``console_tenants`` (platform administrators).
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import Blueprint, Response, current_app, redirect, request, url_for
from flask_babel import lazy_gettext as _l

from idp.accounts.factors import FactorError
from idp.accounts.users import UserError
from idp.admin import stats
from idp.admin.actions import AdminActions
from idp.admin.auth import AdminAuthError, authenticate
from idp.oidc.clients import ClientError
from idp.security.secrets import random_token
from idp.tenants.service import TenantError
from idp.web import csrf
from idp.web.browser import browser_binding
from idp.web.context import current_services as _services
from idp.web.i18n import current_language
from idp.web.own_clients import redeem_code
from idp.web.pages import render_page

bp = Blueprint("admin_console", __name__, url_prefix="/admin/console")

CLIENT_ID = "admin-console"
SCOPE = "openid admin"
COOKIE = "idp_admin_console"
#: A sign-in started here must come back within this time (seconds).
AUTH_TTL = 600
#: Rows per page of the user search and the audit log.
PAGE = 25
#: Days shown by the statistics chart.
STATS_DAYS = 30

DONE = {
    "saved": _l("Saved."),
    "factors_reset": _l("The user's second factors were removed and their sessions ended."),
    "unlocked": _l("The account was unlocked."),
    "sessions_revoked": _l("The user's sessions were ended."),
    "disabled": _l("The account was disabled and its sessions ended."),
    "enabled": _l("The account was enabled."),
    "deleted": _l("The client was removed."),
}


class SignIn(Exception):
    """No usable console session for this tenant: go through the sign-in."""

    def __init__(self, slug: str) -> None:
        self.slug = slug


class Refused(Exception):
    """The signed-in admin may not manage this tenant."""


# -- sessions ---------------------------------------------------------------------------


def _secure() -> bool:
    return bool(current_app.config.get("SESSION_COOKIE_SECURE", False))


def _session_key(sid: str) -> str:
    return f"admin-console:session:{_services().secrets.digest(sid, 'admin-console')}"


def _actions(slug: str) -> AdminActions:
    """The signed-in admin of this browser, allowed to manage ``slug``; else :class:`SignIn` or :class:`Refused`."""
    sid = request.cookies.get(COOKIE, "")
    record = _services().store.find(_session_key(sid)) if 20 <= len(sid) <= 64 else None
    if record is None:
        raise SignIn(slug)
    try:
        admin = authenticate(_services(), record["access_token"])
    except AdminAuthError as exc:
        if exc.status == 401:
            raise SignIn(slug) from None
        raise Refused() from None
    if not admin.may_manage(slug):
        if admin.tenant != slug and not admin.platform:
            raise SignIn(slug)  # signed in elsewhere: sign in at this tenant
        raise Refused()
    return AdminActions(_services(), admin, client_ip=request.remote_addr or "", user_agent=request.user_agent.string or "")


@bp.errorhandler(SignIn)
def _sign_in(exc: SignIn) -> Response:
    return redirect(url_for("admin_console.login", tenant=exc.slug), 303)  # type: ignore[return-value]


@bp.errorhandler(Refused)
def _refused(exc: Refused) -> Response:
    return render_page("admin/refused.html", status=403)


def _callback_url(slug: str) -> str:
    return f"{_services().settings.public_url}/admin/console/realms/{slug}/callback"


def _console_client(tenant: Any) -> None:
    """Register (or repair) the tenant's console client; audited as the console's own doing."""
    services = _services()
    wanted = _callback_url(tenant.slug)
    client = services.clients.get(tenant, CLIENT_ID)
    if client is None:
        services.clients.create(
            tenant, CLIENT_ID, [wanted], public=True, grant_types=["authorization_code"], name="Admin console", scope=SCOPE,
            response_modes=["query"],  # its callback takes a GET
        )
        services.audit.record(tenant.id, "admin.console_client_registered", actor="admin-console", client_id=CLIENT_ID)
    elif client.redirect_uris != (wanted,) or client.scope != SCOPE or client.response_modes != ("query",):
        services.clients.update(tenant, CLIENT_ID, redirect_uris=[wanted], scope=SCOPE, response_modes=["query"])
        services.audit.record(tenant.id, "admin.console_client_updated", actor="admin-console", client_id=CLIENT_ID)


def _tenant_or_404(slug: str) -> Any:
    tenant = _services().tenants.get(slug)
    if tenant is None:
        return None
    return tenant


# -- sign-in ----------------------------------------------------------------------------


@bp.get("/realms/<tenant>/login")
def login(tenant: str) -> Response:
    view = _tenant_or_404(tenant)
    if view is None:
        return render_page("404.html", status=404)
    _console_client(view)
    state, nonce, verifier = random_token(24), random_token(24), random_token(48)
    _services().store.upsert(
        f"admin-console:auth:{state}", {"tenant": tenant, "verifier": verifier, "nonce": nonce, "browser": browser_binding()}, AUTH_TTL
    )
    params = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "scope": SCOPE,
        "redirect_uri": _callback_url(tenant),
        "state": state,
        "nonce": nonce,
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
        "ui_locales": current_language(),
    }
    return redirect(f"/realms/{tenant}/protocol/openid-connect/auth?{urllib.parse.urlencode(params)}", 303)  # type: ignore[return-value]


def _redeem(tenant: Any, code: str, verifier: str) -> dict[str, Any]:
    return redeem_code(tenant, CLIENT_ID, _callback_url(tenant.slug), code, verifier)


@bp.get("/realms/<tenant>/callback")
def callback(tenant: str) -> Response:
    view = _tenant_or_404(tenant)
    record = _services().store.take(f"admin-console:auth:{request.args.get('state', '')[:64]}")
    if view is None or record is None or record["tenant"] != tenant or record["browser"] != browser_binding() or "code" not in request.args:
        return render_page("error.html", status=400, tenant=view, error="session_expired", retry_url=url_for(".login", tenant=tenant))
    token = _redeem(view, request.args["code"], record["verifier"])
    claims = _services().tokens.decode_jwt(view, str(token.get("id_token", "")), typ=None)
    if claims is None or claims.get("aud") != CLIENT_ID or claims.get("nonce") != record["nonce"]:
        return render_page("error.html", status=400, tenant=view, error="access_denied", retry_url=url_for(".login", tenant=tenant))
    try:
        admin = authenticate(_services(), str(token.get("access_token", "")))
    except AdminAuthError:
        return render_page("admin/refused.html", status=403, tenant=view)
    if not admin.may_manage(tenant):
        return render_page("admin/refused.html", status=403, tenant=view)
    sid = random_token(32)
    ttl = max(1, int(token.get("expires_in", 300)))
    _services().store.upsert(_session_key(sid), {"access_token": token["access_token"], "tenant": tenant}, ttl)
    response = redirect(url_for(".flows", tenant=tenant), 303)
    response.set_cookie(COOKIE, sid, max_age=ttl, path="/admin/console/", secure=_secure(), httponly=True, samesite="Lax")
    return response  # type: ignore[return-value]


@bp.post("/realms/<tenant>/logout")
def logout(tenant: str) -> Response:
    csrf.protect()
    _services().store.destroy(_session_key(request.cookies.get(COOKIE, "")))
    response = render_page("admin/signed_out.html", tenant=_tenant_or_404(tenant))
    response.delete_cookie(COOKIE, path="/admin/console/", secure=_secure(), httponly=True, samesite="Lax")
    return response


# -- pages ------------------------------------------------------------------------------


def _page(template: str, do: AdminActions, slug: str, status: int = 200, **context: Any) -> Response:
    tenant = _services().tenants.require(slug)
    done = DONE.get(request.args.get("done", ""))
    return render_page(template, status=status, tenant=tenant, admin=do.admin, slug=slug, done=done and str(done), **context)


def _back(endpoint: str, done: str = "saved", **values: Any) -> Response:
    return redirect(url_for(endpoint, done=done, **values), 303)  # type: ignore[return-value]


REFUSALS = (TenantError, UserError, ClientError, FactorError, AdminAuthError)


@bp.get("/realms/<tenant>/")
def index(tenant: str) -> Response:
    return redirect(url_for(".flows", tenant=tenant), 303)  # type: ignore[return-value]


def _offset() -> int:
    raw = request.args.get("offset", "0")
    return max(0, min(int(raw), 1000000)) if raw.isdigit() else 0


@bp.get("/realms/<tenant>/clients")
def clients(tenant: str) -> Response:
    do = _actions(tenant)
    return _clients_page(do, tenant)


def _clients_page(do: AdminActions, slug: str, status: int = 200, refusal: str = "", secret: tuple[str, str] | None = None) -> Response:
    listed = [c for c in _services().clients.list(do.tenant(slug)) if c.client_id != CLIENT_ID]
    return _page("admin/clients.html", do, slug, status=status, clients=listed, refusal=refusal, secret=secret)


@bp.post("/realms/<tenant>/clients")
def client_create(tenant: str) -> Response:
    csrf.protect()
    do = _actions(tenant)
    form = request.form
    data = {
        "client_id": form.get("client_id", "").strip(),
        "name": form.get("name", "").strip(),
        "redirect_uris": form.get("redirect_uris", "").split(),
        "public": form.get("public") == "on",
    }
    try:
        view, secret = do.create_client(tenant, data)
    except REFUSALS as exc:
        return _clients_page(do, tenant, status=int(exc.status), refusal=str(exc))
    return _clients_page(do, tenant, status=201, secret=(view.client_id, secret) if secret else None)


@bp.post("/realms/<tenant>/clients/<client_id>")
def client_change(tenant: str, client_id: str) -> Response:
    csrf.protect()
    do = _actions(tenant)
    if client_id == CLIENT_ID:
        return _clients_page(do, tenant, status=409, refusal=str(_l("The console's own client cannot be changed here.")))
    try:
        if request.form.get("action") == "rotate":
            return _clients_page(do, tenant, secret=(client_id, do.rotate_secret(tenant, client_id)))
        if request.form.get("action") == "delete":
            do.delete_client(tenant, client_id)
            return _back(".clients", done="deleted", tenant=tenant)
    except REFUSALS as exc:
        return _clients_page(do, tenant, status=int(exc.status), refusal=str(exc))
    return render_page("400.html", status=400)


@bp.get("/realms/<tenant>/stats")
def recovery_stats(tenant: str) -> Response:
    do = _actions(tenant)
    last = datetime.now(UTC).date()
    days = stats.recovery_stats(_services(), do.tenant(tenant), last - timedelta(days=STATS_DAYS - 1), last)
    return _page("admin/stats.html", do, tenant, days=days, chart=chart(days))


def chart(days: list[stats.Day]) -> dict[str, Any]:
    """Geometry of the inline SVG bar chart: one group of bars per day (requested, completed, abandoned)."""
    series = (("requested", "#1f4fd1"), ("completed", "#1a7f37"), ("abandoned", "#b35900"))
    top = max([1] + [getattr(d, name) for d in days for name, _ in series])
    width, height, group = 720, 200, 720 / max(1, len(days))
    bar = max(1.0, (group - 4) / len(series))
    bars = []
    for i, d in enumerate(days):
        for j, (name, colour) in enumerate(series):
            value = getattr(d, name)
            h = round(height * value / top, 1)
            bars.append({"x": round(i * group + 2 + j * bar, 1), "y": round(height - h, 1), "w": round(bar, 1), "h": h, "fill": colour, "value": value, "name": name, "date": d.day.isoformat()})
    return {"width": width, "height": height, "top": top, "bars": bars, "series": series}
