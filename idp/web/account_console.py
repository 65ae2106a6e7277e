"""The account console at ``/realms/<tenant>/account``: the signed-in user's own account (issue 14, item 4).

Pages (server-rendered, no JavaScript, FR/EN, every form with ``csrf_token``, R-42):

- ``/realms/<t>/account``: overview (who is signed in, the sections);
- ``/realms/<t>/account/security``: second factors (rename, remove, add), recovery codes, password
  (:mod:`idp.web.account_console_security`);
- ``/realms/<t>/account/sessions``: the user's live sessions; sign one out, or every other one (R-40);
- ``/realms/<t>/account/events``: the user's recent security events (R-46).

Signing in: the console is Keycloak's ``account-console``, a public OIDC client of the tenant (code flow with
PKCE S256, registered on first use with the redirect URI ``{issuer}/account/callback``). Who the user is
comes from this IdP's own SSO session (same origin; its cookie's path is the tenant's ``/realms/<t>/``, so a
session of tenant A is never seen at tenant B, R-44). Without one, the browser goes through the
tenant's authorization endpoint (its sign-in flow: password, then the second factor) and comes back to
the page it asked for; the callback redeems the code at the token endpoint like any relying party and
checks the ID token's audience, nonce and subject against the session.

Re-authentication: every change to credentials (password, a factor renamed, removed or added, new
recovery codes) needs a sign-in at most ``IDP_ACCOUNT_REAUTH_MAX_AGE`` seconds old (default 300,
R-38, R-54); otherwise the browser signs in again (``prompt=login``: password and second factor) and
comes back to the action's page. Changes are audited by the services and notified by email with a
"not you?" lock link (R-14, R-29).

Consents granted to applications are listed and revoked here once consent exists: add the section to
:data:`SECTIONS` and its page beside the others (the overview and the navigation list the sections).
"""

from __future__ import annotations

import json
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

from idp.oidc.frontchannel import frame_origins
from idp.oidc.sessions import COOKIE, SsoSession
from idp.security.secrets import random_token
from idp.storage.models import User
from idp.web import csrf
from idp.web.browser import browser_binding
from idp.web.context import current_services as _services
from idp.web.flows import request_info
from idp.web.i18n import current_language, set_current_tenant, use_locale_hints
from idp.web.pages import render_page
from idp.web.security_headers import csp_allow_frames
from idp.web.sso_cookie import clear_sso_cookie, current_sso

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
    ("account_console.events", _l("Security events")),
]

#: Confirmations shown after a change (``?done=``).
DONE = {
    "renamed": _l("The name was saved."),
    "removed": _l("The second factor was removed."),
    "added": _l("Your authenticator app was added."),
    "password": _l("Your password was changed."),
    "session_ended": _l("The session was signed out."),
    "others_ended": _l("Every other session was signed out."),
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


def _tenant(slug: str) -> Any:
    tenant = _services().tenants.get(slug)
    if tenant is None:
        abort(404)
    set_current_tenant(tenant)
    return tenant


def holder(slug: str, back: str = "", fresh: bool = False) -> Holder:
    """The signed-in user of ``slug``; else :class:`SignIn` (back to ``back``, default this page).

    ``fresh``: the action changes credentials, so the authentication must be recent (R-38, R-54).
    """
    tenant = _tenant(slug)
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
            tenant, CLIENT_ID, [wanted], public=True, grant_types=["authorization_code"], name="Account console", scope=SCOPE
        )
        services.audit.record(tenant.id, "account.console_client_registered", actor="account-console", client_id=CLIENT_ID)
    elif client.redirect_uris != (wanted,) or client.scope != SCOPE:
        services.clients.update(tenant, CLIENT_ID, redirect_uris=[wanted], scope=SCOPE)
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
    """The token response of the tenant's token endpoint, asked over HTTP like any relying party."""
    data = urllib.parse.urlencode(
        {"grant_type": "authorization_code", "code": code, "redirect_uri": _callback_url(tenant), "client_id": CLIENT_ID, "code_verifier": verifier}
    ).encode()
    req = urllib.request.Request(f"{tenant.issuer}/protocol/openid-connect/token", data=data, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    req.add_header("Accept", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return dict(json.loads(response.read()))
    except (urllib.error.URLError, ValueError) as exc:
        current_app.logger.warning("account console: code redemption at %s failed: %s", tenant.slug, exc)
        return {}


@bp.get("/realms/<tenant>/account/callback")
def callback(tenant: str) -> Response:
    """Back from the sign-in: the state belongs to this browser, the ID token to this session; then on to the page."""
    view = _tenant(tenant)
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


@bp.get("/realms/<tenant>/account")
def overview(tenant: str) -> Response:
    who = holder(tenant)
    return page("account/overview.html", who)


# -- sessions (R-40, R-41) ------------------------------------------------------------------------


@bp.get("/realms/<tenant>/account/sessions")
def sessions(tenant: str) -> Response:
    who = holder(tenant)
    listed = _services().sessions.of_user(who.tenant, who.user.id)
    return page("account/sessions.html", who, listed=listed, current_sid=who.sso.sid)


@bp.post("/realms/<tenant>/account/sessions/<sid>")
def session_end(tenant: str, sid: str) -> Response:
    """Sign one session out; its relying parties are told (back-channel logout), as on logout."""
    csrf.protect()
    who = holder(tenant, back=url_for(".sessions", tenant=tenant))
    services = _services()
    if sid == who.sso.sid:
        return sign_out(tenant)
    if not services.sessions.end_sid(who.tenant, who.user.id, sid[:64]):
        listed = services.sessions.of_user(who.tenant, who.user.id)
        return page("account/sessions.html", who, status=404, listed=listed, current_sid=who.sso.sid, refusal=str(_l("That session has already ended.")))
    info = request_info()
    services.audit.record(
        who.tenant.id, "account.session_ended", user_id=who.user.id, actor=f"user:{who.user.id}", client_ip=info.client_ip, user_agent=info.user_agent, sid=sid[:64]
    )
    return back_to(".sessions", "session_ended", tenant=tenant)


@bp.post("/realms/<tenant>/account/sessions")
def sessions_end_others(tenant: str) -> Response:
    """Sign out every session but this one (R-40)."""
    csrf.protect()
    who = holder(tenant, back=url_for(".sessions", tenant=tenant))
    services = _services()
    ended = [s.sid for s in services.sessions.of_user(who.tenant, who.user.id) if s.sid != who.sso.sid and services.sessions.end_sid(who.tenant, who.user.id, s.sid)]
    info = request_info()
    services.audit.record(
        who.tenant.id, "account.sessions_ended", user_id=who.user.id, actor=f"user:{who.user.id}", client_ip=info.client_ip, user_agent=info.user_agent, ended=len(ended)
    )
    return back_to(".sessions", "others_ended", tenant=tenant)


@bp.post("/realms/<tenant>/account/sign-out")
def sign_out(tenant: str) -> Response:
    """Sign this browser out (its relying parties are told, as at the end_session endpoint)."""
    csrf.protect()
    view = _tenant(tenant)
    frames = _services().sessions.end(view, request.cookies.get(COOKIE, ""))
    if frames:  # Front-Channel Logout 1.0 §4: the relying parties' logout pages load in frames
        csp_allow_frames(frame_origins(frames))
    response = render_page("logged_out.html", tenant=view, frames=frames, continue_to="")
    clear_sso_cookie(response, view)
    return response


# -- security events (R-46) -----------------------------------------------------------------------

EVENT_LABELS = {
    "login.password_ok": _l("Password accepted"),
    "login.password_failed": _l("Wrong password"),
    "login.lockout": _l("Sign-in paused after failed attempts"),
    "login.second_factor_ok": _l("Second factor accepted"),
    "login.second_factor_failed": _l("Wrong second factor"),
    "login.second_factor_unavailable": _l("Second factor unavailable"),
    "factor.enrolled": _l("Second factor added"),
    "factor.removed": _l("Second factor removed"),
    "factor.renamed": _l("Second factor renamed"),
    "factor.enrolment_failed": _l("Wrong code while adding a second factor"),
    "factor.totp_replay": _l("Authenticator code used twice"),
    "factor.recovery_codes_generated": _l("New recovery codes"),
    "factor.recovery_code_used": _l("Recovery code used"),
    "account.password_changed": _l("Password changed"),
    "account.password_change_failed": _l("Password change refused: wrong current password"),
    "account.session_ended": _l("Session signed out"),
    "account.sessions_ended": _l("Other sessions signed out"),
    "account.contact_changed": _l("Email or phone number changed"),
    "account.locked_by_user": _l("Account locked by its holder"),
    "recovery.requested": _l("Account recovery requested"),
    "recovery.completed": _l("Account recovered"),
    "admin.password_set": _l("Password set by an administrator"),
    "admin.factors_reset": _l("Second factors reset by an administrator"),
    "admin.sessions_revoked": _l("Sessions ended by an administrator"),
}


@bp.get("/realms/<tenant>/account/events")
def events(tenant: str) -> Response:
    who = holder(tenant)
    rows = _services().audit.query(who.tenant.id, user_id=who.user.id, limit=EVENTS_SHOWN)
    shown = [{"when": e.created_at, "what": str(EVENT_LABELS.get(e.type, e.type)), "type": e.type, "ip": e.client_ip, "browser": e.user_agent} for e in rows]
    return page("account/events.html", who, events=shown)


from idp.web import account_console_security  # noqa: E402,F401  (registers its pages on bp)
