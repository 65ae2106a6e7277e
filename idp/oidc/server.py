"""One Authlib authorization server per tenant, with its grants, endpoints and token generator.

A :class:`TenantAuthorizationServer` serves exactly one tenant: its
``query_client`` only finds that tenant's clients, its tokens carry that
tenant's issuer and are signed with that tenant's keys (R-69). Servers are
built on first use and kept per process (:class:`Provider`), rebuilt when the
tenant's revision changes.

The endpoints it registers live in modules named after what they serve:
:mod:`idp.oidc.rfc7009` (revocation), :mod:`idp.oidc.rfc7662` (introspection),
:mod:`idp.oidc.userinfo` and :mod:`idp.oidc.end_session`; the discovery metadata
in :mod:`idp.oidc.discovery`. Their names stay importable from here.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import TYPE_CHECKING, Any

from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import (
    FlaskOAuth2Payload,
    FlaskOAuth2Request,
)
from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidGrantError, OAuth2Request, UnsupportedResponseTypeError
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import request as flask_request
from werkzeug.wrappers import Request

from idp.oidc.clients import ClientView
from idp.oidc.discovery import DISCOVERY_MAX_AGE as DISCOVERY_MAX_AGE
from idp.oidc.discovery import metadata
from idp.oidc.dpop import proof_header
from idp.oidc.end_session import EndSessionEndpoint
from idp.oidc.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    OpenIDCode,
    RefreshTokenGrant,
    S256CodeChallenge,
    grant_from,
)
from idp.oidc.rfc7009 import RevocationEndpoint
from idp.oidc.rfc7662 import IntrospectionEndpoint
from idp.oidc.tokens import GrantUser, TokenService
from idp.oidc.userinfo import AccessTokenValidator as AccessTokenValidator
from idp.oidc.userinfo import UserInfoEndpoint
from idp.oidc.userinfo import UserInfoProtector as UserInfoProtector

if TYPE_CHECKING:  # pragma: no cover
    from idp.accounts.users import UserService
    from idp.oidc.clients import ClientService
    from idp.oidc.keys import KeyService
    from idp.oidc.sessions import SessionService
    from idp.store import Guard
    from idp.tenants.service import TenantView


def _authlib_uri(public_url: str, full_path: str) -> str:
    """The request URI as Authlib sees it: built from the configured public URL, not the Host header.

    Authlib refuses plain-http URIs except on loopback. Production refuses a
    non-https public URL at start-up (:meth:`Settings.validate`), so an http public
    URL here is a development setting, and is presented to Authlib as https.
    """
    base = public_url
    if base.startswith("http://"):
        base = "https://" + base[len("http://") :]
    return base + full_path


class IdpOAuth2Request(FlaskOAuth2Request):
    """Authlib's Flask request, with its URI taken from the public URL (behind proxies the Host may differ)."""

    #: Thumbprint of the request's verified DPoP proof (RFC 9449), set by :meth:`TenantAuthorizationServer.token_request`.
    dpop_jkt: str | None = None

    def __init__(self, request: Request, public_url: str) -> None:
        OAuth2Request.__init__(self, method=request.method, uri=_authlib_uri(public_url, request.full_path), headers=request.headers)
        self._request = request
        self.payload = FlaskOAuth2Payload(request)


class ParkedAuthorizationRequest(OAuth2Request):
    """An authorization request resumed after sign-in, rebuilt from the parameters parked with the flow."""

    def __init__(self, params: dict[str, str], public_url: str, headers: Any) -> None:
        super().__init__(method="GET", uri=_authlib_uri(public_url, flask_request.full_path), headers=headers)
        self.payload = BasicOAuth2Payload(dict(params))

    @property
    def args(self) -> dict[str, str]:
        return self.payload.data  # type: ignore[no-any-return]

    @property
    def form(self) -> dict[str, str]:
        return {}


class LaneTokenRequest(OAuth2Request):
    """A token request as the protocol fast lane (:mod:`idp.web.fastlane`) hands it to a grant: its form already
    parsed (each parameter once), its client already authenticated from the caches; no Flask request behind it."""

    def __init__(self, public_url: str, path: str, headers: dict[str, str], form: dict[str, str], revision_guard: "Guard | None" = None) -> None:
        super().__init__(method="POST", uri=_authlib_uri(public_url, path), headers=headers)
        self.payload = BasicOAuth2Payload(form)
        #: The admin revision the lane answered from, checked by the grant's first store operation (redemption or grant
        #: read) in its own round trip (:meth:`idp.tenants.revision.AdminRevision.guard`).
        self.revision_guard = revision_guard

    @property
    def args(self) -> dict[str, str]:
        return {}

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data  # type: ignore[no-any-return]


class AccessTokenGenerator:
    """Authlib's token generator interface: RFC 9068 JWT access tokens and our rotating refresh tokens."""

    def __init__(self, server: "TenantAuthorizationServer") -> None:
        self.server = server

    def __call__(
        self,
        grant_type: str,
        client: ClientView,
        user: GrantUser | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
        jkt: str | None = None,
    ) -> dict[str, Any]:
        """The token response's members; with ``jkt`` (a DPoP proof's key) the access token is bound to it."""
        tenant = self.server.tenant
        scope = client.get_allowed_scope(scope)
        if grant_type == "client_credentials":
            scope = " ".join(s for s in scope.split() if s not in ("openid", "offline_access"))
        lifetime = expires_in or tenant.config.tokens.access_token_ttl
        token: dict[str, Any] = {
            "token_type": "DPoP" if jkt else "Bearer",
            "access_token": self.server.tokens.issue_access_token(tenant, client, scope, user, lifetime, jkt),
            "expires_in": lifetime,
        }
        if include_refresh_token and user is not None:
            token["refresh_token"] = self.server.tokens.make_refresh_token(tenant, user.gid, user.generation)
        if scope:
            token["scope"] = scope
        return token


class TenantIssuerParameter(IssuerParameter):
    """``iss`` in authorization responses (RFC 9207, R-69)."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def get_issuer(self) -> str:
        return self.issuer


class UnsupportedResponseType(UnsupportedResponseTypeError):
    """``unsupported_response_type`` with a fixed description: Authlib's echoes the requested value, which may hold
    characters an ``error_description`` must not (RFC 6749 §4.1.2.1; building Authlib's error raised, a 500)."""

    def __init__(self, redirect_uri: str | None) -> None:
        super().__init__("", "The 'response_type' is not supported: use code.", redirect_uri=redirect_uri)

    def get_error_description(self) -> str:
        return str(self.description)


class TenantAuthorizationServer(AuthorizationServer):
    """Authlib's Flask authorization server, bound to one tenant."""

    def __init__(self, provider: "Provider", tenant: "TenantView") -> None:
        super().__init__()
        self.users = provider.users
        self.keys = provider.keys
        self.clients = provider.clients
        self.sessions = provider.sessions
        self.tokens = provider.tokens
        self.tenant = tenant
        self.scopes_supported = None  # unknown scopes are ignored, not refused (OIDC Core §3.1.2.1)
        self.token_generator = AccessTokenGenerator(self)
        self.register_token_generator("default", self.token_generator)
        self.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True), OpenIDCode(self)])
        self.register_grant(RefreshTokenGrant)
        self.register_grant(ClientCredentialsGrant)
        self.register_endpoint(RevocationEndpoint(self))
        self.register_endpoint(IntrospectionEndpoint(self))
        self.register_endpoint(UserInfoEndpoint(self))
        self.register_endpoint(EndSessionEndpoint(self))
        self.register_extension(TenantIssuerParameter(tenant.issuer))

    # -- Authlib hooks --------------------------------------------------------------------

    def query_client(self, client_id: str) -> ClientView | None:
        return self.clients.get(self.tenant, client_id)

    def get_authorization_grant(self, request: OAuth2Request) -> Any:
        """The grant for the request's ``response_type``; an unsupported one is refused without echoing it.

        As in Authlib, the error is redirected only to a redirect URI known good for a known client (R-58)."""
        if any(grant_cls.check_authorization_endpoint(request) for grant_cls, _ in self._authorization_grants):
            return super().get_authorization_grant(request)
        client = self.query_client(request.payload.client_id) if request.payload.client_id else None
        redirect_uri = None
        if client is not None:
            requested = request.payload.redirect_uri
            redirect_uri = (requested if client.check_redirect_uri(requested) else None) if requested else client.get_default_redirect_uri()
        raise UnsupportedResponseType(redirect_uri)

    def generate_token(
        self,
        grant_type: str,
        client: ClientView,
        user: GrantUser | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
        jkt: str | None = None,
    ) -> dict[str, Any]:
        """Authlib's hook, also taking the DPoP key the access token is bound to (:class:`~idp.oidc.grants.DpopBinding`)."""
        return self.token_generator(grant_type, client, user, scope, expires_in, include_refresh_token, jkt)

    def token_request(self, http_request: Request) -> OAuth2Request:
        """The token request, its ``DPoP`` proof (if any) verified first (RFC 9449 §4.3): ``dpop_jkt`` is its key's
        thumbprint. Raises :class:`~idp.oidc.dpop.DpopError`. Without a proof, nothing more than Authlib's request."""
        oauth_request = IdpOAuth2Request(http_request, self.tenant.public_url)
        proof = proof_header(http_request.headers)
        if proof is not None:
            url = self.tenant.public_url + http_request.path
            oauth_request.dpop_jkt = self.tokens.dpop.verify(self.tenant, proof, http_request.method, url).jkt
        return oauth_request

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """A code exchange files its grant (the family of its tokens); other grants store nothing.

        If the user was revoked since the code was redeemed, nothing is filed and the exchange fails
        with ``invalid_grant``: the tokens just made are never sent (R-34)."""
        if request.payload.grant_type == "authorization_code" and isinstance(request.user, GrantUser):
            grant = grant_from(request.user, request.client, token.get("scope", ""), getattr(request, "dpop_jkt", None))
            if not self.tokens.save_exchanged_grant(self.tenant, grant, request.payload.data.get("code") or ""):
                raise InvalidGrantError("The authorization was revoked.")

    def create_oauth2_request(self, request: Any) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        return IdpOAuth2Request(flask_request, self.tenant.public_url)

    def handle_error_response(self, request: Any, error: OAuth2Error) -> Any:
        """Error responses as Authlib makes them; redirected ones also carry ``iss`` (RFC 9207 §2)."""
        response = super().handle_error_response(request, error)
        if error.redirect_uri and response.location:
            response.location = add_params_to_uri(response.location, {"iss": self.tenant.issuer})
        return response

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signal subscribers: audit events are written by the endpoints that know the context."""


class Provider:
    """The per-process protocol state: one server per tenant revision, and the discovery documents."""

    def __init__(self, users: "UserService", keys: "KeyService", clients: "ClientService", sessions: "SessionService", tokens: TokenService) -> None:
        self.users = users
        self.keys = keys
        self.clients = clients
        self.sessions = sessions
        self.tokens = tokens
        self._servers: dict[str, TenantAuthorizationServer] = {}
        self._discovery: dict[str, tuple[int, bytes, str]] = {}
        self._lock = threading.Lock()

    def server(self, tenant: "TenantView") -> TenantAuthorizationServer:
        cached = self._servers.get(tenant.slug)
        if cached is not None and cached.tenant.revision == tenant.revision and cached.tenant.id == tenant.id:
            return cached
        server = TenantAuthorizationServer(self, tenant)
        with self._lock:
            self._servers[tenant.slug] = server
        return server

    def discovery_document(self, tenant: "TenantView") -> tuple[bytes, str]:
        """OpenID Provider Metadata (OIDC Discovery §3, RFC 8414) as served, with its ETag."""
        cached = self._discovery.get(tenant.slug)
        if cached is not None and cached[0] == tenant.revision:
            return cached[1], cached[2]
        body = json.dumps(metadata(tenant), separators=(",", ":")).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        with self._lock:
            self._discovery[tenant.slug] = (tenant.revision, body, etag)
        return body, etag
