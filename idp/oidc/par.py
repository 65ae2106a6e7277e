"""Pushed Authorization Requests (RFC 9126): the client posts its authorization request first, then sends the
browser to the authorization endpoint with only ``client_id`` and the ``request_uri`` it got back.

- :func:`push` (the endpoint ``…/protocol/openid-connect/ext/par/request``, Keycloak's path): the client
  authenticates as at the token endpoint (public clients with ``none``), the request is validated as the
  authorization endpoint would (client, redirect URI, response type, scope, PKCE, response mode: Authlib's
  grant and our checks), and kept in the ephemeral store for ``tokens.par_ttl`` seconds (default 60) under a
  random reference; the answer is ``201 {"request_uri": "urn:ietf:params:oauth:request_uri:<ref>", "expires_in": 60}`` (§2.2).
  A ``DPoP`` proof sent with it binds the future code to that key (``dpop_jkt``, RFC 9449 §10.1).
- :func:`resolve` (the authorization endpoint): a ``request_uri`` of ours is taken from the store (single use,
  unexpired, issued to the ``client_id`` of the request) and its parameters replace the request's: any other
  query parameter is ignored (§4). A client registered with ``require_pushed_authorization_requests`` (§6) is
  refused a plain authorization request.

Records: ``{t}:par:{digest(ref)}`` holding ``{"client_id", "params"}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload

from idp.security.secrets import random_token

if TYPE_CHECKING:  # pragma: no cover
    from idp.oidc.clients import ClientView
    from idp.security.secrets import SecretBox
    from idp.store import EphemeralStore
    from idp.tenants.service import TenantView

#: The prefix of the ``request_uri`` values this server issues (RFC 9126 §2.2).
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
#: Client-authentication parameters: checked, never stored with the request.
AUTH_PARAMS = frozenset({"client_secret", "client_assertion", "client_assertion_type"})
#: Client authentication methods at the PAR endpoint: those of the token endpoint (RFC 9126 §2).
PAR_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


class PushedRequests:
    """Pushed authorization requests in the ephemeral store: kept once, taken once."""

    def __init__(self, store: "EphemeralStore", secrets: "SecretBox") -> None:
        self.store = store
        self.secrets = secrets

    def _key(self, tenant: "TenantView", reference: str) -> str:
        return f"{tenant.slug}:par:{self.secrets.digest(reference, 'pushed-request')}"

    def keep(self, tenant: "TenantView", client_id: str, params: dict[str, str]) -> str:
        """Store a validated request for the tenant's ``tokens.par_ttl`` seconds; its ``request_uri``."""
        reference = random_token(32)
        self.store.upsert(self._key(tenant, reference), {"client_id": client_id, "params": params}, tenant.config.tokens.par_ttl)
        return REQUEST_URI_PREFIX + reference

    def take(self, tenant: "TenantView", client_id: str, request_uri: str) -> dict[str, str] | None:
        """The parameters pushed as ``request_uri`` by ``client_id``, once; None when unknown, expired, used or
        pushed by another client (then left alone, so a guess by another client does not spend it)."""
        reference = request_uri[len(REQUEST_URI_PREFIX) :]
        if not request_uri.startswith(REQUEST_URI_PREFIX) or not 0 < len(reference) <= 128:
            return None
        key = self._key(tenant, reference)
        found = self.store.find(key)
        if found is None or found.get("client_id") != client_id:
            return None
        taken = self.store.take(key)
        if taken is None:
            return None  # another request took it in between
        return {str(k): str(v) for k, v in dict(taken["params"]).items()}


def push(server: Any, request: OAuth2Request, jkt: str | None) -> dict[str, Any]:
    """Authenticate the client, validate its authorization request and keep it: the 201 body (RFC 9126 §2.2).

    ``server`` is the tenant's authorization server; ``jkt`` the thumbprint of a DPoP proof sent with the
    request. Raises Authlib's :class:`~authlib.oauth2.base.OAuth2Error` (never redirected: the client is
    answered directly, §2.3)."""
    client: "ClientView" = server.authenticate_client(request, PAR_AUTH_METHODS, endpoint="par")
    params = {k: v for k, v in request.payload.data.items() if k not in AUTH_PARAMS}
    if "request_uri" in params:
        raise InvalidRequestError("The 'request_uri' parameter must not be pushed (RFC 9126 section 2.1).")
    if params.setdefault("client_id", client.client_id) != client.client_id:
        raise InvalidRequestError("The 'client_id' does not match the authenticated client.")
    if jkt:
        if params.get("dpop_jkt", jkt) != jkt:
            raise InvalidRequestError("The 'dpop_jkt' does not match the key of the DPoP proof.")
        params["dpop_jkt"] = jkt
    checked = OAuth2Request("GET", request.uri, headers=request.headers)
    checked.payload = BasicOAuth2Payload(dict(params))
    try:
        grant = server.get_authorization_grant(checked)
        grant.validate_no_multiple_request_parameter(checked)
        grant.validate_authorization_request()
    except OAuth2Error as error:
        error.redirect_uri = None  # answered to the client, never redirected
        raise
    request_uri = server.tokens.par.keep(server.tenant, client.client_id, params)
    return {"request_uri": request_uri, "expires_in": server.tenant.config.tokens.par_ttl}


def resolve(server: Any, params: dict[str, str]) -> dict[str, str]:
    """The parameters of an authorization request: those pushed as its ``request_uri`` if it names one of ours,
    else ``params`` themselves; :class:`InvalidRequestError` for a ``request_uri`` that is not (any more) usable,
    or a plain request from a client that must push its requests (redirected when its redirect URI is known
    good, RFC 9126 §6)."""
    request_uri = params.get("request_uri") or ""
    client_id = params.get("client_id") or ""
    client = server.query_client(client_id) if client_id else None
    if request_uri.startswith(REQUEST_URI_PREFIX):
        pushed = server.tokens.par.take(server.tenant, client_id, request_uri) if client is not None else None
        if pushed is None:
            raise InvalidRequestError("The 'request_uri' is unknown, expired, already used or was pushed by another client.")
        return pushed
    if client is not None and client.require_pushed_authorization_requests:
        requested = params.get("redirect_uri")
        redirect_uri = (requested if client.check_redirect_uri(requested) else None) if requested else client.get_default_redirect_uri()
        raise InvalidRequestError("This client must push its authorization requests (PAR, RFC 9126).", redirect_uri=redirect_uri)
    return params
