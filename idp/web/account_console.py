"""The account console at ``/realms/<tenant>/account``: the signed-in user's own account (issue 14, item 4).

Pages (server-rendered, no JavaScript, FR/EN, every form with ``csrf_token``, R-42):

- ``/realms/<t>/account``: overview (who is signed in, the sections);
- ``/realms/<t>/account/security``: second factors (rename, remove, add), recovery codes, password
  (:mod:`idp.web.account_console_security`);
- ``/realms/<t>/account/sessions``: the user's live sessions; sign one out, or every other one (R-40);
- ``/realms/<t>/account/applications``: the third-party applications the user allowed (issue 15 item 3),
  each with what it may see; removing one revokes the consent and what the application holds;
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

The module is split by job: :mod:`idp.web.account_console_signin` (who is signed in, the sign-in and its
callback, the page helpers), this module (overview, sessions, events, signing out) and
:mod:`idp.web.account_console_security` (factors, recovery codes, password); all on one blueprint.

Consents granted to third-party applications are listed and revoked on the applications page through
:class:`~idp.oidc.consent.ConsentService` (not a credential change: no re-authentication, as in Keycloak).
"""

from __future__ import annotations

from datetime import datetime

from flask import Response, request, url_for
from flask_babel import lazy_gettext as _l

from idp.oidc.consent import ConsentError
from idp.oidc.frontchannel import frame_origins
from idp.oidc.sessions import COOKIE
from idp.web import (
    account_console_security,  # noqa: F401  (its pages, on the same blueprint)
    csrf,
)
from idp.web.account_console_signin import EVENTS_SHOWN, SECTIONS, Holder, back_to, bp, holder, page, tenant_or_404
from idp.web.consent import SCOPE_DESCRIPTIONS
from idp.web.context import current_services as _services
from idp.web.flows import request_info
from idp.web.pages import render_page
from idp.web.security_headers import csp_allow_frames
from idp.web.sso_cookie import clear_sso_cookie

__all__ = ["SECTIONS", "bp"]


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
    view = tenant_or_404(tenant)
    frames = _services().sessions.end(view, request.cookies.get(COOKIE, ""))
    if frames:  # Front-Channel Logout 1.0 §4: the relying parties' logout pages load in frames
        csp_allow_frames(frame_origins(frames))
    response = render_page("logged_out.html", tenant=view, frames=frames, continue_to="")
    clear_sso_cookie(response, view)
    return response


# -- applications: consents (issue 15, item 3) ---------------------------------------------------


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "—"


def _applications_page(who: Holder, status: int = 200, refusal: str = "") -> Response:
    listed = [
        {"client_id": c.client_id, "name": c.client_name or c.client_id, "granted": _when(c.updated_at or c.granted_at),
         "scopes": [str(SCOPE_DESCRIPTIONS.get(s, s)) for s in c.scopes]}
        for c in _services().consents.list_for_user(who.tenant, who.user.id)
    ]
    return page("account/applications.html", who, status=status, applications=listed, refusal=refusal)


@bp.get("/realms/<tenant>/account/applications")
def applications(tenant: str) -> Response:
    return _applications_page(holder(tenant))


@bp.post("/realms/<tenant>/account/applications/<client_id>")
def application_revoke(tenant: str, client_id: str) -> Response:
    """Remove an application's access: the consent goes, and with it the client's codes and tokens for this
    user (:meth:`~idp.oidc.consent.ConsentService.revoke`); its next request asks again."""
    csrf.protect()
    who = holder(tenant, back=url_for(".applications", tenant=tenant))
    info = request_info()
    try:
        _services().consents.revoke(
            who.tenant, who.user.id, client_id[:128], actor=f"user:{who.user.id}", client_ip=info.client_ip, user_agent=info.user_agent
        )
    except ConsentError:
        return _applications_page(who, status=404, refusal=str(_l("That application no longer has access.")))
    return back_to(".applications", "consent_revoked", tenant=tenant)


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
    "consent.granted": _l("Application allowed"),
    "consent.revoked": _l("Application access removed"),
}


@bp.get("/realms/<tenant>/account/events")
def events(tenant: str) -> Response:
    who = holder(tenant)
    rows = _services().audit.query(who.tenant.id, user_id=who.user.id, limit=EVENTS_SHOWN)
    shown = [{"when": e.created_at, "what": str(EVENT_LABELS.get(e.type, e.type)), "type": e.type, "ip": e.client_ip, "browser": e.user_agent} for e in rows]
    return page("account/events.html", who, events=shown)
