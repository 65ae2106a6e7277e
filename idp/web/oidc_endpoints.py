"""Protocol endpoints per tenant, on Keycloak's paths, so an RP configured for Keycloak changes only its base URL.

``/realms/<t>/.well-known/openid-configuration`` and
``/realms/<t>/protocol/openid-connect/{auth,auth/resume,auth/consent,token,userinfo,certs,logout,revoke,token/introspect,ext/par/request}``.

Each view parses the request, asks the tenant's Authlib server
(:mod:`idp.oidc.server`) and answers. Errors follow RFC 6749 §4.1.2.1 and
§5.2 and OIDC Core §3.1.2.6: an authorization error is redirected to the client
only once the client and its redirect URI are known good, otherwise the user
sees an error page (R-58). Authorization responses, codes and redirected errors
alike, go back in the request's response mode (:mod:`idp.oidc.form_post`): a 302
for ``query``, a page posting the same parameters for ``form_post``.
"""

from __future__ import annotations

import base64
from typing import Any

from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidClientError, InvalidRequestError
from flask import Blueprint, Response, current_app, jsonify, make_response, request
from flask.blueprints import BlueprintSetupState

from idp.assurance import ACR_MFA, MFA_REQUESTS
from idp.oidc.dpop import DpopError
from idp.oidc.end_session import frontchannel_logout_urls
from idp.oidc.form_post import FORM_POST, response_parameters, wants_form_post
from idp.oidc.frontchannel import frame_origins
from idp.oidc.par import push, resolve
from idp.oidc.server import (
    DISCOVERY_MAX_AGE,
    ParkedAuthorizationRequest,
    Provider,
    TenantAuthorizationServer,
)
from idp.oidc.sessions import SsoSession
from idp.store import StoreUnavailable
from idp.web import consent
from idp.web.context import current_services as _services
from idp.web.fastlane import OUTAGE_KEY
from idp.web.security_headers import csp_allow_frames
from idp.web.sso_cookie import clear_sso_cookie, current_sso

bp = Blueprint("oidc", __name__)

PROTOCOL = "/realms/<tenant>/protocol/openid-connect"


@bp.record_once
def _init(state: BlueprintSetupState) -> None:
    state.app.extensions["idp.oidc"] = state.app.extensions["idp"].oidc


class UnknownTenant(LookupError):
    """The ``<tenant>`` of the URL does not exist (404)."""

    def __init__(self, page: bool) -> None:
        super().__init__("unknown tenant")
        self.page = page


def _provider() -> Provider:
    return current_app.extensions["idp.oidc"]  # type: ignore[no-any-return]


def _tenant(slug: str, page: bool = False) -> Any:
    tenant = _services().tenants.get(slug)
    if tenant is None:
        raise UnknownTenant(page)
    return tenant


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _error_page(tenant: Any, error: str, description: str = "", status: int = 400) -> Response:
    from idp.web.pages import render_page

    response = render_page("error.html", status=status, tenant=tenant, error=error, description=description)
    return _no_store(response)


@bp.errorhandler(UnknownTenant)
def _unknown_tenant(exc: UnknownTenant) -> Response:
    if exc.page:
        from idp.web.errors import error_response

        return error_response(404, "not_found")
    response = jsonify(error="not_found", error_description="Unknown tenant.")
    response.status_code = 404
    return response


@bp.errorhandler(StoreUnavailable)
def _store_unavailable(exc: StoreUnavailable) -> Response:
    current_app.logger.error("ephemeral store unavailable on %s: %s", request.path, exc)
    response = jsonify(error="temporarily_unavailable", error_description="The service is temporarily unavailable.")
    response.status_code = 503
    response.headers["Retry-After"] = "30"
    return _no_store(response)


def _cacheable(body: bytes, etag: str, max_age: int) -> Response:
    """A public, cacheable JSON document; ``If-None-Match`` gets 304."""
    tag = etag.strip('"')
    if request.if_none_match.contains(tag):
        response = make_response("", 304)
    else:
        response = make_response(body)
        response.headers["Content-Type"] = "application/json"
    response.set_etag(tag)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    return response


# -- discovery and keys (OIDC Discovery §4, RFC 7517) --------------------------------------


@bp.get("/realms/<tenant>/.well-known/openid-configuration")
def discovery(tenant: str) -> Response:
    """OpenID Provider Metadata of the tenant (served from a per-process cache)."""
    body, etag = _provider().discovery_document(_tenant(tenant))
    return _cacheable(body, etag, DISCOVERY_MAX_AGE)


@bp.get(f"{PROTOCOL}/certs")
def certs(tenant: str) -> Response:
    """The tenant's JWKS: pending, active and recently retired public keys."""
    from idp.oidc.keys import JWKS_MAX_AGE

    body, etag = _services().keys.jwks_document(_tenant(tenant))
    return _cacheable(body, etag, JWKS_MAX_AGE)


# -- authorization endpoint (RFC 6749 §4.1.1, OIDC Core §3.1.2) ------------------------------


def _max_age_exceeded(sso: SsoSession, max_age: str | None, now: float) -> bool:
    if max_age is None or max_age == "":
        return False
    try:
        seconds = int(max_age)
    except ValueError:
        return False
    return seconds >= 0 and now - sso.auth_time > seconds


def _usable_session(server: TenantAuthorizationServer, sso: SsoSession | None, params: dict[str, str]) -> SsoSession | None:
    """The browser's session if it satisfies this request, else None (the user must authenticate).

    A session does not satisfy a request whose ``max_age`` it exceeds (R-22, R-71),
    whose ``acr_values`` ask for a second factor it lacks, or whose
    ``id_token_hint`` names another user (OIDC Core §3.1.2.1).
    """
    import time

    if sso is None:
        return None
    if _max_age_exceeded(sso, params.get("max_age"), time.time()):
        return None
    requested_acr = (params.get("acr_values") or "").split()
    if any(a in MFA_REQUESTS for a in requested_acr) and sso.acr != ACR_MFA:
        return None
    hint = params.get("id_token_hint")
    if hint:
        claims = server.tokens.decode_jwt(server.tenant, hint, typ="jwt", check_exp=False)
        if claims is not None and claims.get("sub") != sso.sub:
            return None
    return sso


def _page_error_id(server: TenantAuthorizationServer, error: OAuth2Error, params: dict[str, str]) -> str:
    """The message id of the error page for an authorization error that cannot be redirected."""
    client = server.query_client(params.get("client_id") or "") if params.get("client_id") else None
    if error.error == "invalid_request" and client is not None:
        redirect_uri = params.get("redirect_uri")
        if (redirect_uri and not client.check_redirect_uri(redirect_uri)) or (not redirect_uri and client.get_default_redirect_uri() is None):
            return "invalid_redirect_uri"
    return str(error.error)


def _in_response_mode(server: TenantAuthorizationServer, response: Response, redirect_uri: str | None, params: dict[str, str]) -> Response:
    """An authorization response (the query mode's 302 to ``redirect_uri``) in the response mode the request asked for.

    ``response_mode=form_post`` (OAuth 2.0 Form Post Response Mode §2): a page whose form posts the same
    parameters, ``iss`` included, to the same validated redirect URI, by itself with JavaScript, with its
    « Continuer » button without. Anything else stays the 302 (an unsupported mode was refused in query mode),
    and so does the answer to a client that may not use form_post (its refusal, R-64).
    """
    if not wants_form_post(params) or not redirect_uri or response.status_code != 302 or not response.location:
        return _no_store(response)
    client = server.query_client(params.get("client_id", ""))
    if client is None or not client.check_response_mode(FORM_POST):
        return _no_store(response)
    from idp.web.i18n import use_locale_hints
    from idp.web.pages import render_page

    fields = response_parameters(response.location, redirect_uri)
    use_locale_hints(params.get("ui_locales"))
    page = render_page("form_post.html", tenant=server.tenant, action=redirect_uri, fields=fields)
    return _no_store(page)


def _authorization_error(server: TenantAuthorizationServer, error: OAuth2Error, params: dict[str, str]) -> Response:
    """Send the error to a known-good redirect URI (with ``state`` and ``iss``), else show a page (R-58)."""
    if error.redirect_uri:
        error.state = params.get("state")
        return _in_response_mode(server, server.handle_error_response(None, error), error.redirect_uri, params)
    description = error.get_error_description() or ""
    return _error_page(server.tenant, _page_error_id(server, error, params), description)


def _authorize(
    server: TenantAuthorizationServer, oauth_request: Any, params: dict[str, str], sso: SsoSession | None, resumed: bool, answer: Any = None
) -> Response:
    """Validate the request with Authlib; sign the user in when needed, ask a third-party client's consent, else issue the code."""
    try:
        grant = server.get_consent_grant(request=oauth_request, end_user=sso)
        sign_in = sso is None or (grant.prompt == "login" and not resumed)
        consent_page = consent.ask(server, grant, sso, params, answer) if sso is not None and not sign_in else None
    except OAuth2Error as error:
        return _authorization_error(server, error, params)
    if sign_in:
        from idp.web.flows import start_login

        return start_login(server.tenant, auth_request=params)  # type: ignore[no-any-return]
    if consent_page is not None:
        return consent_page
    response = server.create_authorization_response(request=grant.request, grant_user=sso, grant=grant)
    return _in_response_mode(server, response, grant.redirect_uri, params)


@bp.route(f"{PROTOCOL}/auth", methods=["GET", "POST"])
def authorize(tenant: str) -> Response:
    """The authorization endpoint: the code flow with PKCE (GET or POST, OIDC Core §3.1.2.1)."""
    view = _tenant(tenant, page=True)
    server = _provider().server(view)
    params = {k: v for k, v in request.values.items()}
    try:  # a pushed request's parameters replace the query's (RFC 9126 §4); a PAR-only client must push
        pushed = resolve(server, params)
    except OAuth2Error as error:
        return _authorization_error(server, error, params)
    oauth_request = ParkedAuthorizationRequest(pushed, view.public_url, request.headers) if pushed is not params else None
    params = pushed
    sso = _usable_session(server, current_sso(_services().sessions, view), params)
    return _authorize(server, oauth_request, params, sso, resumed=False)


@bp.get(f"{PROTOCOL}/auth/resume", endpoint="resume")
def resume(tenant: str) -> Response:
    """Finish an authorization request parked while the user signed in (docs/CONTRACTS.md)."""
    from idp.web.browser import browser_binding

    view = _tenant(tenant, page=True)
    services = _services()
    state = services.engine.load(view, request.args.get("flow", ""), browser_binding())
    if state is None or not state.completed or not state.auth_request:
        return _error_page(view, "flow_expired")
    services.engine.discard(state)
    sso = current_sso(services.sessions, view)
    if sso is None or sso.user_id != state.user_id:
        return _error_page(view, "session_expired")
    server = _provider().server(view)
    params = dict(state.auth_request)
    parked = ParkedAuthorizationRequest(params, view.public_url, request.headers)
    return _authorize(server, parked, params, sso, resumed=True)


@bp.post(f"{PROTOCOL}/auth/consent", endpoint="consent")
def consent_answer(tenant: str) -> Response:
    """The consent page's answer (:mod:`idp.web.consent`): finish the parked authorization request with it."""
    view = _tenant(tenant, page=True)
    answer = consent.answer(view, current_sso(_services().sessions, view))
    if isinstance(answer, str):
        return _error_page(view, answer)
    parked = ParkedAuthorizationRequest(answer.params, view.public_url, request.headers)
    return _authorize(_provider().server(view), parked, answer.params, answer.sso, resumed=True, answer=answer)


# -- token, userinfo, revocation, introspection --------------------------------------------------


def _malformed_basic() -> bool:
    """An ``Authorization: Basic`` header whose credentials are not base64 of UTF-8 text (Authlib's parser would
    raise on it: a 500 instead of the client authentication error it is, RFC 6749 §5.2)."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        base64.b64decode(credentials.strip()).decode("utf-8")
    except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError
        return True
    return not credentials.strip()


def _refuse_malformed_basic(server: TenantAuthorizationServer) -> Response:
    error = InvalidClientError("Malformed HTTP Basic credentials.", status_code=401)
    return _no_store(server.handle_error_response(request, error))


@bp.post(f"{PROTOCOL}/token")
def token(tenant: str) -> Response:
    """The token endpoint (RFC 6749 §3.2): authorization_code, refresh_token, client_credentials."""
    outage = request.environ.get(OUTAGE_KEY)
    if outage is not None:
        raise outage  # met by the fast lane while it ran the grant: answered here as any outage is
    server = _provider().server(_tenant(tenant))
    if _malformed_basic():
        return _refuse_malformed_basic(server)
    repeated = next((name for name, values in request.form.lists() if len(values) > 1), None)
    if repeated is not None:
        # RFC 6749 §3.2: parameters MUST NOT be included more than once (Authlib reads the first)
        error = InvalidRequestError(f"The '{repeated}' parameter is repeated.")
        return _no_store(server.handle_error_response(request, error))
    try:
        oauth_request = server.token_request(request)  # a DPoP proof, if any, checked first (RFC 9449 §5)
    except DpopError as error:
        return _no_store(server.handle_error_response(request, error))
    return _with_dpop_nonce(server, _no_store(server.create_token_response(oauth_request)))


def _with_dpop_nonce(server: TenantAuthorizationServer, response: Response) -> Response:
    """A fresh ``DPoP-Nonce`` on every answer while the tenant requires nonces (RFC 9449 §8.2)."""
    if server.tokens.dpop.nonce_required(server.tenant) and "DPoP-Nonce" not in response.headers:
        response.headers["DPoP-Nonce"] = server.tokens.dpop.nonce(server.tenant)
    return response


@bp.post(f"{PROTOCOL}/ext/par/request")
def pushed_authorization_request(tenant: str) -> Response:
    """Pushed Authorization Requests (RFC 9126 §2): 201 with a single-use ``request_uri``, or the OAuth error."""
    server = _provider().server(_tenant(tenant))
    if _malformed_basic():
        return _refuse_malformed_basic(server)
    repeated = next((name for name, values in request.form.lists() if len(values) > 1), None)
    try:
        if repeated is not None or request.args:
            raise InvalidRequestError(f"The '{repeated}' parameter is repeated." if repeated else "Send the parameters in the body.")
        oauth_request = server.token_request(request)  # a DPoP proof binds the code to its key (RFC 9449 §10.1)
        body = push(server, oauth_request, oauth_request.dpop_jkt)  # type: ignore[attr-defined]
    except OAuth2Error as error:
        return _with_dpop_nonce(server, _no_store(server.handle_error_response(request, error)))
    response = jsonify(body)
    response.status_code = 201
    return _with_dpop_nonce(server, _no_store(response))


@bp.route(f"{PROTOCOL}/userinfo", methods=["GET", "POST"])
def userinfo(tenant: str) -> Response:
    """UserInfo (OIDC Core §5.3), bearer token in the header (or the body of a POST)."""
    server = _provider().server(_tenant(tenant))
    return _no_store(server.create_endpoint_response("userinfo"))


@bp.post(f"{PROTOCOL}/revoke")
def revoke(tenant: str) -> Response:
    """Token revocation (RFC 7009)."""
    server = _provider().server(_tenant(tenant))
    if _malformed_basic():
        return _refuse_malformed_basic(server)
    return _no_store(server.create_endpoint_response("revocation"))


@bp.post(f"{PROTOCOL}/token/introspect")
def introspect(tenant: str) -> Response:
    """Token introspection (RFC 7662), for authenticated clients only."""
    server = _provider().server(_tenant(tenant))
    if _malformed_basic():
        return _refuse_malformed_basic(server)
    return _no_store(server.create_endpoint_response("introspection"))


# -- RP-initiated logout (OpenID RP-Initiated Logout 1.0) --------------------------------------------


@bp.route(f"{PROTOCOL}/logout", methods=["GET", "POST"])
def logout(tenant: str) -> Response:
    """End the SSO session; redirect only to a registered ``post_logout_redirect_uri`` backed by a valid hint (R-73)."""
    from idp.web.pages import render_page

    view = _tenant(tenant, page=True)
    server = _provider().server(view)
    try:
        end_request = server.validate_endpoint_request("end_session")
    except OAuth2Error as error:
        return _error_page(view, "invalid_request", error.get_error_description() or "")
    if request.values.get("post_logout_redirect_uri") and end_request.redirect_uri is None:
        return _error_page(
            view,
            "invalid_request",
            "The post_logout_redirect_uri is not registered for this client, or no valid id_token_hint was sent.",
        )
    response = server.create_endpoint_response("end_session", end_request)
    frames = frontchannel_logout_urls(end_request)
    if frames:  # Front-Channel Logout 1.0 §4: the RPs' logout pages load in frames, then on to the redirect URI
        csp_allow_frames(frame_origins(frames))
        response = render_page("logged_out.html", tenant=view, frames=frames, continue_to=end_request.redirect_uri)
    elif response is None:
        response = render_page("logged_out.html", tenant=view, frames=[], continue_to=None)
    clear_sso_cookie(response, view)
    return _no_store(response)
