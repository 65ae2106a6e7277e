"""One Authlib authorization server per tenant, with its grants, endpoints and token generator.

A :class:`TenantAuthorizationServer` serves exactly one tenant: its
``query_client`` only finds that tenant's clients, its tokens carry that
tenant's issuer and are signed with that tenant's keys (R-69). Servers are
built on first use and kept per process (:class:`Provider`), rebuilt when the
tenant's revision changes.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import TYPE_CHECKING, Any

from authlib.common.urls import add_params_to_uri
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2 import (
    ResourceProtector as FlaskResourceProtector,
)
from authlib.integrations.flask_oauth2.requests import (
    FlaskOAuth2Payload,
    FlaskOAuth2Request,
)
from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc6750 import BearerTokenValidator, InvalidTokenError
from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core import UserInfo
from authlib.oidc.core import UserInfoEndpoint as _UserInfoEndpoint
from authlib.oidc.rpinitiated import EndSessionEndpoint as _EndSessionEndpoint
from authlib.oidc.rpinitiated import EndSessionRequest
from flask import request as flask_request
from werkzeug.wrappers import Request

from idp.oidc.clients import SUPPORTED_SCOPES, ClientView
from idp.oidc.grants import (
    PKCE_METHODS,
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    OpenIDCode,
    RefreshTokenGrant,
    S256CodeChallenge,
    grant_from,
    user_claims,
)
from idp.oidc.keys import ALGORITHMS
from idp.oidc.sessions import COOKIE
from idp.oidc.tokens import (
    REFRESH_PREFIX,
    AccessTokenRecord,
    GrantUser,
    RefreshTokenRecord,
    TokenService,
)

if TYPE_CHECKING:  # pragma: no cover
    from idp.services import Services
    from idp.tenants.service import TenantView

#: Cache-Control max-age of the discovery document, seconds.
DISCOVERY_MAX_AGE = 3600


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
    ) -> dict[str, Any]:
        tenant = self.server.tenant
        scope = client.get_allowed_scope(scope)
        if grant_type == "client_credentials":
            scope = " ".join(s for s in scope.split() if s not in ("openid", "offline_access"))
        lifetime = expires_in or tenant.config.tokens.access_token_ttl
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": self.server.tokens.issue_access_token(tenant, client, scope, user, lifetime),
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


class AccessTokenValidator(BearerTokenValidator):
    """Bearer tokens of this tenant: our signed JWTs whose grant is still live (RFC 6750)."""

    def __init__(self, server: "TenantAuthorizationServer") -> None:
        super().__init__(realm=server.tenant.issuer)
        self.server = server

    def authenticate_token(self, token_string: str) -> AccessTokenRecord | None:
        return self.server.tokens.verify_access_token(self.server.tenant, token_string)


class UserInfoProtector(FlaskResourceProtector):
    """Bearer token from the ``Authorization`` header, or the ``access_token`` form field of a POST (RFC 6750 §2.2)."""

    def parse_request_authorization(self, request: Any) -> tuple[Any, str]:
        if not request.headers.get("Authorization") and flask_request.method == "POST":
            token = flask_request.form.get("access_token")
            if token:
                return self.get_token_validator("bearer"), token
        return super().parse_request_authorization(request)  # type: ignore[no-any-return]


class UserInfoEndpoint(_UserInfoEndpoint):
    """UserInfo (OIDC Core §5.3): the claims of the token's scope, fresh from the user record."""

    def __init__(self, server: "TenantAuthorizationServer") -> None:
        protector = UserInfoProtector()
        protector.register_token_validator(AccessTokenValidator(server))
        super().__init__(server=server, resource_protector=protector)

    def get_issuer(self) -> str:
        return self.server.tenant.issuer  # type: ignore[union-attr,no-any-return]

    def generate_user_info(self, user: GrantUser | None, scope: str) -> UserInfo:
        server: TenantAuthorizationServer = self.server  # type: ignore[assignment]
        row = server.services.users.get(server.tenant, user.user_id) if user is not None else None
        if row is None or row.status != "active":
            raise InvalidTokenError(realm=server.tenant.issuer)
        return user_claims(row, scope)


class RevocationEndpoint(_RevocationEndpoint):
    """Token revocation (RFC 7009): a refresh token revokes its whole grant; an access token is denied until it expires."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        server: TenantAuthorizationServer = self.server
        if token_string.startswith(REFRESH_PREFIX + "."):
            return server.tokens.find_refresh_token(server.tenant, token_string)
        claims = server.tokens.decode_jwt(server.tenant, token_string)
        return AccessTokenRecord(claims) if claims is not None else None

    def revoke_token(self, token: Any, request: OAuth2Request) -> None:
        server: TenantAuthorizationServer = self.server
        if isinstance(token, RefreshTokenRecord):
            server.tokens.revoke_grant(server.tenant, token.grant.gid)
        else:
            server.tokens.revoke_access_token(server.tenant, token.claims)


class IntrospectionEndpoint(_IntrospectionEndpoint):
    """Token introspection (RFC 7662) for authenticated (confidential) clients of the tenant."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        server: TenantAuthorizationServer = self.server
        if token_string.startswith(REFRESH_PREFIX + "."):
            return server.tokens.load_refresh_token(server.tenant, token_string)
        return server.tokens.verify_access_token(server.tenant, token_string)

    def check_permission(self, token: Any, client: ClientView, request: OAuth2Request) -> bool:
        """Any authenticated client of the tenant (resource servers register as confidential clients)."""
        return not client.is_public

    def introspect_token(self, token: Any) -> dict[str, Any]:
        issuer = self.server.tenant.issuer
        if isinstance(token, RefreshTokenRecord):
            g = token.grant
            return {
                "active": True,
                "token_type": "refresh_token",
                "scope": g.scope,
                "client_id": g.client_id,
                "sub": g.sub,
                "iss": issuer,
                "exp": g.expires_at,
                "auth_time": g.auth_time,
            }
        c = token.claims
        payload = {
            "active": True,
            "token_type": "Bearer",
            "scope": c.get("scope", ""),
            "client_id": c["client_id"],
            "sub": c["sub"],
            "aud": c["aud"],
            "iss": c["iss"],
            "exp": c["exp"],
            "iat": c["iat"],
            "jti": c["jti"],
        }
        for name in ("auth_time", "acr", "sid"):
            if name in c:
                payload[name] = c[name]
        return payload


class EndSessionEndpoint(_EndSessionEndpoint):
    """RP-initiated logout (OpenID RP-Initiated Logout 1.0): the hint must be an ID token of this tenant (R-73)."""

    def get_server_jwks(self) -> Any:
        return self.server.services.keys.verification_keys(self.server.tenant)

    def get_algorithms(self) -> list[str]:
        return list(ALGORITHMS)

    def validate_request(self, request: OAuth2Request) -> EndSessionRequest:
        hint = request.payload.data.get("id_token_hint")
        if hint:
            claims = self.server.tokens.decode_jwt(self.server.tenant, hint, typ="jwt", check_exp=False)
            if claims is None:
                raise InvalidRequestError("The 'id_token_hint' is not an ID token of this issuer.")
        return super().validate_request(request)  # type: ignore[no-any-return]

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        token = flask_request.cookies.get(COOKIE, "")
        self.server.services.sessions.end(self.server.tenant, token)


class TenantAuthorizationServer(AuthorizationServer):
    """Authlib's Flask authorization server, bound to one tenant."""

    def __init__(self, services: "Services", tokens: TokenService, tenant: "TenantView") -> None:
        super().__init__()
        self.services = services
        self.tokens = tokens
        self.tenant = tenant
        self.scopes_supported = None  # unknown scopes are ignored, not refused (OIDC Core §3.1.2.1)
        self.register_token_generator("default", AccessTokenGenerator(self))
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
        return self.services.clients.get(self.tenant, client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """A code exchange files its grant (the family of its tokens); other grants store nothing."""
        if request.payload.grant_type == "authorization_code" and isinstance(request.user, GrantUser):
            self.tokens.save_grant(self.tenant, grant_from(request.user, request.client, token.get("scope", "")))

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

    def __init__(self, services: "Services") -> None:
        self.services = services
        self.tokens = TokenService(services)
        self._servers: dict[str, TenantAuthorizationServer] = {}
        self._discovery: dict[str, tuple[int, bytes, str]] = {}
        self._lock = threading.Lock()

    def server(self, tenant: "TenantView") -> TenantAuthorizationServer:
        cached = self._servers.get(tenant.slug)
        if cached is not None and cached.tenant.revision == tenant.revision and cached.tenant.id == tenant.id:
            return cached
        server = TenantAuthorizationServer(self.services, self.tokens, tenant)
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


def metadata(tenant: "TenantView") -> dict[str, Any]:
    """The discovery metadata of a tenant; every value is what the endpoints really do (R-74)."""
    base = f"{tenant.issuer}/protocol/openid-connect"
    return {
        "issuer": tenant.issuer,
        "authorization_endpoint": f"{base}/auth",
        "token_endpoint": f"{base}/token",
        "userinfo_endpoint": f"{base}/userinfo",
        "jwks_uri": f"{base}/certs",
        "end_session_endpoint": f"{base}/logout",
        "revocation_endpoint": f"{base}/revoke",
        "introspection_endpoint": f"{base}/token/introspect",
        "scopes_supported": list(SUPPORTED_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [tenant.config.tokens.signing_alg],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": list(PKCE_METHODS),
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid", "azp", "at_hash",
            "name", "given_name", "family_name", "preferred_username", "locale", "updated_at",
            "email", "email_verified", "phone_number", "phone_number_verified",
        ],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "prompt_values_supported": ["none", "login"],
        "acr_values_supported": ["urn:idp:acr:pwd", "urn:idp:acr:mfa"],
        "ui_locales_supported": ["en", "fr"],
        "claims_locales_supported": ["en", "fr"],
        "authorization_response_iss_parameter_supported": True,
        "frontchannel_logout_supported": False,
        "backchannel_logout_supported": False,
    }
