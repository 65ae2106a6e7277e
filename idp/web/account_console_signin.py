"""The account console's sign-in and shared page helpers (:mod:`idp.web.account_console` has the overview).

- :func:`holder`: the signed-in user of this browser at the tenant (from the tenant's SSO session), or
  :class:`SignIn`, answered by a 303 to the tenant's authorization endpoint as the public client
  ``account-console`` (PKCE S256; ``prompt=login`` when a fresh authentication is needed, R-38);
- :func:`changing`: the holder of a POST that changes credentials: CSRF first (R-42), then freshness;
- ``GET /realms/<t>/account/callback``: the state belongs to this browser, the code is redeemed at the token
  endpoint like any relying party, the ID token's audience, nonce and subject match the session; then
  back to the console page that asked (only ever a console page of this tenant, R-65);
- :func:`page`, :func:`back_to`, :func:`notify_change`: rendering with the layout's sections, the 303 after
  a change, the email notice with its "not you?" lock link (R-14, R-29).
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import Blueprint, Response, abort, current_app, redirect, request, url_for
from flask_babel import lazy_gettext as _l

from idp.oidc.sessions import SsoSession
from idp.security.secrets import random_token
from idp.storage.models import User
from idp.web import csrf
from idp.web.browser import browser_binding
from idp.web.context import current_services as _services
from idp.web.flows import request_info
from idp.web.i18n import current_language, set_current_tenant, use_locale_hints
from idp.web.own_clients import redeem_code
from idp.web.pages import render_page
from idp.web.sso_cookie import current_sso

bp = Blueprint("account_console", __name__)

CLIENT_ID = "account-console"
SCOPE = "openid"
#: A sign-in started here must come back within this time (seconds).
AUTH_TTL = 600
#: Events shown on the security events page.
EVENTS_SHOWN = 30

#: The console's sections: (endpoint, title). Consent (issue 15) adds ``("account_console.applications",
#: _l("Applications"))`` here, with its page, once consents exist.
SECTIONS: list[tuple[str, Any]] = [
    ("account_console.overview", _l("Account")),
    ("account_console.security", _l("Signing in")),
    ("account_console.sessions", _l("Sessions")),
    ("account_console.applications", _l("Applications")),
    ("account_console.events", _l("Security events")),
]

#: Confirmations shown after a change (``?done=``).
DONE = {
    "renamed": _l("The name was saved."),
    "removed": _l("The second factor was removed."),
    "added": _l("Your authenticator app was added."),
    "passkey_added": _l("Your passkey was added."),
    "password": _l("Your password was changed."),
    "session_ended": _l("The session was signed out."),
    "others_ended": _l("Every other session was signed out."),
    "consent_revoked": _l("The application's access was removed."),
}


@dataclass(frozen=True)
class Holder:
    """The signed-in user of this browser at this tenant."""

    tenant: Any
    sso: SsoSession
    user: User

    @property
    def fresh(self) -> bool:
        """Whether the last authentication is recent enough for a change to credentials (R-38)."""
        return time.time() - self.sso.auth_time <= _services().settings.account_reauth_max_age


class SignIn(Exception):
    """No usable session (or not fresh enough): sign in, then come back to ``back``."""

    def __init__(self, tenant: Any, back: str, fresh: bool) -> None:
        self.tenant, self.back, self.fresh = tenant, back, fresh


# -- who is signed in ------------------------------------------------------------------------


def tenant_or_404(slug: str) -> Any:
    tenant = _services().tenants.get(slug)
    if tenant is None:
        abort(404)
    set_current_tenant(tenant)
    return tenant


def holder(slug: str, back: str = "", fresh: bool = False) -> Holder:
    """The signed-in user of ``slug``; else :class:`SignIn` (back to ``back``, default this page).

    ``fresh``: the action changes credentials, so the authentication must be recent (R-38, R-54).
    """
    tenant = tenant_or_404(slug)
    back = back or request.path
    sso = current_sso(_services().sessions, tenant)
    user = _services().users.get(tenant, sso.user_id) if sso is not None else None
    if sso is None or user is None or user.status != "active":
        raise SignIn(tenant, back, fresh=False)
    found = Holder(tenant, sso, user)
    use_locale_hints(request.args.get("ui_locales"), user.locale)
    if fresh and not found.fresh:
        raise SignIn(tenant, back, fresh=True)
    return found


def changing(slug: str, back: str) -> Holder:
    """The holder of a POST that changes credentials: CSRF first (R-42), then a fresh authentication (R-38)."""
    csrf.protect()
    return holder(slug, back=back, fresh=True)


def _callback_url(tenant: Any) -> str:
    return f"{tenant.issuer}/account/callback"


def _console_client(tenant: Any) -> None:
    """Register (or repair) the tenant's ``account-console`` client; audited as the console's own doing."""
    services = _services()
    wanted = _callback_url(tenant)
    client = services.clients.get(tenant, CLIENT_ID)
    if client is None:
        services.clients.create(
            tenant, CLIENT_ID, [wanted], public=True, grant_types=["authorization_code"], name="Account console", scope=SCOPE,
            response_modes=["query"],  # its callback takes a GET
        )
        services.audit.record(tenant.id, "account.console_client_registered", actor="account-console", client_id=CLIENT_ID)
    elif client.redirect_uris != (wanted,) or client.scope != SCOPE or client.response_modes != ("query",):
        services.clients.update(tenant, CLIENT_ID, redirect_uris=[wanted], scope=SCOPE, response_modes=["query"])
        services.audit.record(tenant.id, "account.console_client_updated", actor="account-console", client_id=CLIENT_ID)


def _safe_back(tenant: Any, back: str) -> str:
    """Only the console's own pages of this tenant are ever a destination (R-65)."""
    base = f"/realms/{tenant.slug}/account"
    if back == base or (back.startswith(base + "/") and "//" not in back and "\\" not in back and not back.startswith(base + "/callback")):
        return back
    return base


@bp.errorhandler(SignIn)
def _sign_in(exc: SignIn) -> Response:
    """Off to the tenant's authorization endpoint; ``prompt=login`` when a fresh authentication is needed."""
    tenant = exc.tenant
    _console_client(tenant)
    state, nonce, verifier = random_token(24), random_token(24), random_token(48)
    record = {
        "tenant": tenant.slug,
        "browser": browser_binding(),
        "back": _safe_back(tenant, exc.back),
        "nonce": nonce,
        "verifier": verifier,
        "fresh": exc.fresh,
        "started": int(time.time()),
    }
    _services().store.upsert(f"account-console:auth:{state}", record, AUTH_TTL)
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
    if exc.fresh:
        params["prompt"] = "login"
    url = f"/realms/{tenant.slug}/protocol/openid-connect/auth?{urllib.parse.urlencode(params)}"
    return redirect(url, 303)  # type: ignore[return-value]


def _redeem(tenant: Any, code: str, verifier: str) -> dict[str, Any]:
    return redeem_code(tenant, CLIENT_ID, _callback_url(tenant), code, verifier)


@bp.get("/realms/<tenant>/account/callback")
def callback(tenant: str) -> Response:
    """Back from the sign-in: the state belongs to this browser, the ID token to this session; then on to the page."""
    view = tenant_or_404(tenant)
    retry = url_for(".overview", tenant=view.slug)
    record = _services().store.take(f"account-console:auth:{request.args.get('state', '')[:64]}")
    if record is None or record["tenant"] != view.slug or record["browser"] != browser_binding():
        return render_page("error.html", status=400, tenant=view, error="session_expired", retry_url=retry)
    if "code" not in request.args:
        error = request.args.get("error", "access_denied")[:64]
        return render_page("error.html", status=400, tenant=view, error=error, retry_url=retry)
    token = _redeem(view, request.args["code"], record["verifier"])
    claims = _services().tokens.decode_jwt(view, str(token.get("id_token", "")), typ=None)
    sso = current_sso(_services().sessions, view)
    if claims is None or claims.get("aud") != CLIENT_ID or claims.get("nonce") != record["nonce"] or sso is None or claims.get("sub") != sso.sub:
        return render_page("error.html", status=400, tenant=view, error="access_denied", retry_url=retry)
    if record["fresh"] and min(int(claims.get("auth_time", 0)), sso.auth_time) < int(record["started"]) - 1:
        return render_page("error.html", status=400, tenant=view, error="session_expired", retry_url=retry)
    return redirect(_safe_back(view, str(record["back"])), 303)  # type: ignore[return-value]


# -- pages -------------------------------------------------------------------------------------


@bp.app_template_filter("account_time")
def account_time(epoch: int) -> str:
    """An epoch time as the console shows it (UTC)."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%d %H:%M UTC")



def page(template: str, who: Holder, status: int = 200, **context: Any) -> Response:
    """A console page: the layout's navigation, the ``?done=`` confirmation, the signed-in user."""
    done = DONE.get(request.args.get("done", ""))
    return render_page(
        template, status=status, tenant=who.tenant, holder=who.user, sections=SECTIONS, done=done and str(done), **context
    )


def back_to(endpoint: str, done: str, **values: Any) -> Response:
    """After a change: 303 to the page with its confirmation (R-67)."""
    return redirect(url_for(endpoint, done=done, **values), 303)  # type: ignore[return-value]


def notify_change(who: Holder, change: str) -> None:
    """Email the holder that ``change`` happened to their credentials, with a "not you?" lock link (R-14, R-29).

    Best effort after the commit: a mail failure is logged and never undoes the change."""
    services = _services()
    try:
        lock_link = services.locks.url(who.tenant, services.locks.issue(who.tenant, who.user.id))
    except Exception:
        current_app.logger.exception("account console: no lock link for the %s notice", change)
        return
    services.factors.notify(who.tenant, who.user, "account_change_notice", request_info(), change=change, lock_link=lock_link)
