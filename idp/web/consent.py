"""The consent page of the authorization endpoint, for third-party clients (R-76; the rules in :mod:`idp.oidc.consent`).

:func:`ask` is the one call the authorization endpoint makes once the user is signed in: None (go on and issue
the code), the consent page, or an :class:`OAuth2Error` the endpoint redirects to the client
(``consent_required`` for ``prompt=none``, ``access_denied`` when the user pressed "Deny").

The page's form posts to ``…/auth/consent`` (``csrf_token``, ``ask``, ``decision=allow|deny``). ``ask`` names the
authorization request parked in the ephemeral store for :data:`ASK_TTL` seconds, bound to this browser
and this user, used once; :func:`answer` reads it back for the endpoint, which finishes the request with it.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import AccessDeniedError
from authlib.oidc.core.errors import ConsentRequiredError
from flask import Response, request
from flask_babel import lazy_gettext as _l

from idp.oidc.consent import requested_scopes
from idp.security.secrets import random_token
from idp.store import user_flows_label
from idp.web.browser import browser_binding
from idp.web.context import current_services
from idp.web.csrf import protect

if TYPE_CHECKING:  # pragma: no cover
    from idp.oidc.clients import ClientView
    from idp.oidc.server import TenantAuthorizationServer
    from idp.oidc.sessions import SsoSession
    from idp.tenants.service import TenantView

#: Seconds the consent page's request stays answerable.
ASK_TTL = 600

#: What each scope lets the client have, as the consent page says it (OIDC Core §5.4); others show their name.
SCOPE_DESCRIPTIONS = {
    "openid": _l("Confirm who you are (an identifier of your account)"),
    "profile": _l("Your profile: name, username, language"),
    "email": _l("Your email address"),
    "phone": _l("Your phone number"),
    "address": _l("Your postal address"),
    "offline_access": _l("Keep this access while you are away, until you revoke it"),
    "admin": _l("Manage this service through its admin API"),
}


@dataclass(frozen=True)
class Answer:
    """The user's answer on the consent page: the parked request, the scopes shown, and the decision."""

    params: dict[str, str]
    scopes: list[str]
    allowed: bool
    sso: "SsoSession"


def _key(tenant: "TenantView", ask_id: str) -> str:
    return f"{tenant.slug}:consent-ask:{current_services().secrets.digest(ask_id, 'consent-ask')}"


def _browser() -> str:
    return str(current_services().secrets.digest(browser_binding(), "consent-browser"))


def ask(server: "TenantAuthorizationServer", grant: Any, sso: "SsoSession", params: dict[str, str], answer: Answer | None) -> Response | None:
    """The consent step of a validated authorization request of a signed-in user (see the module's docstring)."""
    client: "ClientView" = grant.request.client
    if not client.consent_required:
        return None
    consents, tenant = current_services().consents, server.tenant
    scopes = requested_scopes(client, grant.request.payload.scope)
    prompts = (params.get("prompt") or "").split()
    if answer is not None:
        if not answer.allowed:
            raise AccessDeniedError(redirect_uri=grant.redirect_uri)
        consents.grant(
            tenant, sso.user_id, client.client_id, answer.scopes, client_ip=request.remote_addr or "", user_agent=request.user_agent.string or ""
        )
        prompts = [p for p in prompts if p != "consent"]  # asked and answered
    missing = consents.missing(tenant, sso.user_id, client, scopes)
    if not missing and "consent" not in prompts:
        return None
    if "none" in prompts:
        raise ConsentRequiredError(redirect_uri=grant.redirect_uri)
    return _page(tenant, client, sso, scopes, params)


def _page(tenant: "TenantView", client: "ClientView", sso: "SsoSession", scopes: list[str], params: dict[str, str]) -> Response:
    from idp.web.i18n import use_locale_hints
    from idp.web.pages import render_page

    services = current_services()
    ask_id = random_token(32)
    parked = {"params": params, "scopes": scopes, "user_id": sso.user_id, "browser": _browser()}
    services.store.upsert(_key(tenant, ask_id), parked, ASK_TTL, grant_id=user_flows_label(tenant.slug, sso.user_id))
    user = services.users.profile(tenant, sso.user_id)
    use_locale_hints(params.get("ui_locales"), getattr(user, "locale", None))
    listed = [(s, SCOPE_DESCRIPTIONS.get(s, s)) for s in scopes]
    page = render_page(
        "consent.html",
        tenant=tenant,
        client_name=client.name or client.client_id,
        scopes=listed,
        username=getattr(user, "username", ""),
        ask=ask_id,
    )
    page.headers["Cache-Control"] = "no-store"
    return page


def answer(tenant: "TenantView", sso: "SsoSession | None") -> Answer | str:
    """The answer posted from the consent page, or the error page's message id (the request is used once)."""
    protect()
    decision = request.form.get("decision", "")
    ask_id = request.form.get("ask", "")
    if decision not in ("allow", "deny") or not ask_id or len(ask_id) > 100:
        return "invalid_request"
    store, key = current_services().store, _key(tenant, ask_id)
    seen = store.find(key)  # another browser's post leaves the request to its own browser
    if seen is None or not hmac.compare_digest(str(seen.get("browser", "")), _browser()):
        return "flow_expired"
    parked = store.take(key)  # used once, however many posts race
    if parked is None:
        return "flow_expired"
    if sso is None or sso.user_id != parked.get("user_id"):
        return "session_expired"
    return Answer(params=dict(parked["params"]), scopes=list(parked["scopes"]), allowed=decision == "allow", sso=sso)
