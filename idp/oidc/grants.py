"""Authlib grants and extensions, adapted to our store, keys and tenants (RFC 6749, RFC 7636, OIDC Core).

Each class here subclasses one of Authlib's and fills in the storage hooks it
asks for; the protocol logic stays Authlib's. The server they are registered
on (:class:`idp.oidc.server.TenantAuthorizationServer`) serves one tenant, so
``self.server.tenant`` is the tenant of the request.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc6749.util import scope_to_list
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode as _OpenIDCode
from authlib.oidc.core import UserInfo
from authlib.oidc.core.errors import (
    RequestNotSupportedError,
    RequestURINotSupportedError,
)
from authlib.oidc.core.grants.util import validate_form_post_redirect_uri
from authlib.oidc.core.util import create_half_hash

from idp.oidc.dpop import is_thumbprint
from idp.oidc.form_post import QUERY, RESPONSE_MODES
from idp.oidc.tenant_server import TenantServer
from idp.oidc.tokens import AuthorizationCode, Grant, GrantUser, RefreshTokenRecord
from idp.security.secrets import random_token

if TYPE_CHECKING:  # pragma: no cover
    from idp.accounts.users import UserProfile
    from idp.oidc.clients import ClientView
    from idp.oidc.sessions import SsoSession
    from idp.storage.models import User
    from idp.tenants.service import TenantView


#: Client authentication at the token endpoint: confidential clients send their secret, public ones ``none``.
TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
#: ``code_challenge_method`` values accepted (R-60: ``plain`` is refused).
PKCE_METHODS = ["S256"]


def user_claims(user: "User | UserProfile", scope: str) -> UserInfo:
    """Standard claims of ``user`` released for ``scope`` (OIDC Core §5.1, §5.4)."""
    scopes = set(scope_to_list(scope) or ())
    info = UserInfo(sub=user.sub)
    if "profile" in scopes:
        info["preferred_username"] = user.username
        if user.name:
            info["name"] = user.name
        if user.given_name:
            info["given_name"] = user.given_name
        if user.family_name:
            info["family_name"] = user.family_name
        if user.locale:
            info["locale"] = user.locale
        if user.updated_at is not None:
            info["updated_at"] = int(user.updated_at.timestamp())
    if "email" in scopes and user.email:
        info["email"] = user.email
        info["email_verified"] = bool(user.email_verified)
    if "address" in scopes and user.address:  # §5.1.1: a JSON object of the members that are set
        info["address"] = dict(user.address)
    if "phone" in scopes and user.phone:
        info["phone_number"] = user.phone
        info["phone_number_verified"] = bool(user.phone_verified)
    return info


def _guarded(request: OAuth2Request) -> dict[str, Any]:
    """``{"guard": ...}`` for a request of the fast lane (:class:`idp.oidc.server.LaneTokenRequest`), whose first store
    operation checks the admin revision it answered from; nothing for Flask's, which read it before the view."""
    guard = getattr(request, "revision_guard", None)
    return {"guard": guard} if guard is not None else {}


class S256CodeChallenge(CodeChallenge):
    """PKCE (RFC 7636) with ``S256`` only, required for public clients and for confidential clients that ask for it.

    Authlib's extension accepts ``plain`` and treats a missing method as ``plain``;
    R-60 wants neither, so a challenge must come with ``code_challenge_method=S256``.
    A ``code_verifier`` without a challenge (PKCE downgrade, R-61) is refused by Authlib.
    """

    SUPPORTED_CODE_CHALLENGE_METHOD = PKCE_METHODS
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        request: OAuth2Request = grant.request
        data = request.payload.data
        challenge, method = data.get("code_challenge"), data.get("code_challenge_method")
        client: "ClientView" = request.client
        if not challenge and not method and (client.is_public or client.require_pkce):
            raise InvalidRequestError("Missing 'code_challenge': this client must use PKCE (S256).")
        if challenge and method != "S256":
            raise InvalidRequestError("Unsupported 'code_challenge_method': use S256.")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code: AuthorizationCode) -> str:
        return authorization_code.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code: AuthorizationCode) -> str:
        return authorization_code.code_challenge_method or "S256"


def dpop_jkt(request: OAuth2Request) -> str | None:
    """The thumbprint of the DPoP proof the token request carried (checked by the token view), else None."""
    return getattr(request, "dpop_jkt", None)


class DpopBinding:
    """DPoP at the token endpoint (RFC 9449 §5), mixed into every token grant: a client registered with
    ``dpop_bound_access_tokens`` (§5.2) must send a proof, checked before anything is spent; the access token
    issued with a proof is bound to its key (``cnf.jkt``, token_type ``DPoP``)."""

    request: OAuth2Request
    server: Any
    GRANT_TYPE: str | None

    def authenticate_token_endpoint_client(self) -> "ClientView":
        client: "ClientView" = super().authenticate_token_endpoint_client()  # type: ignore[misc]
        if client.dpop_bound_access_tokens and not dpop_jkt(self.request):
            raise InvalidRequestError("This client must send a DPoP proof (dpop_bound_access_tokens).")
        return client

    def generate_token(
        self, user: Any = None, scope: str | None = None, grant_type: str | None = None, expires_in: int | None = None, include_refresh_token: bool = True
    ) -> dict[str, Any]:
        return self.server.generate_token(  # type: ignore[no-any-return]
            client=self.request.client,
            grant_type=grant_type or self.GRANT_TYPE,
            user=user,
            scope=scope,
            expires_in=expires_in,
            include_refresh_token=include_refresh_token,
            jkt=dpop_jkt(self.request),
        )


class AuthorizationCodeGrant(DpopBinding, grants.AuthorizationCodeGrant):
    """The code grant (RFC 6749 §4.1) over single-use codes that stay as replay markers (R-62)."""

    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    AUTHORIZATION_CODE_LENGTH = 43
    #: ``response_mode`` when the request names none (read by Authlib's form_post check).
    DEFAULT_RESPONSE_MODE = QUERY
    server: TenantServer

    @property
    def tenant(self) -> "TenantView":
        return self.server.tenant

    @staticmethod
    def validate_authorization_redirect_uri(request: OAuth2Request, client: "ClientView") -> str:
        """Authlib's check with a fixed description: Authlib's own quotes the requested URI, and a URI holding
        ``"``, ``\\`` or a non-ASCII character is not a legal ``error_description`` (RFC 6749 §4.1.2.1), so
        building the error raised instead (a 500). The URI is never echoed back."""
        requested = request.payload.redirect_uri
        if requested and not client.check_redirect_uri(requested):
            raise InvalidRequestError("The 'redirect_uri' is not registered for this client.")
        return str(grants.AuthorizationCodeGrant.validate_authorization_redirect_uri(request, client))

    def validate_authorization_request(self) -> str:
        """Authlib's checks, then the OIDC ones that may redirect (the redirect URI is known good by now)."""
        redirect_uri: str = super().validate_authorization_request()
        data = self.request.payload.data
        if "openid" not in (scope_to_list(self.request.payload.scope or "") or []):
            raise InvalidScopeError("The 'openid' scope is required.", redirect_uri=redirect_uri)
        if data.get("request"):
            raise RequestNotSupportedError(redirect_uri=redirect_uri)
        if data.get("request_uri"):
            raise RequestURINotSupportedError(redirect_uri=redirect_uri)
        if data.get("dpop_jkt") is not None and not is_thumbprint(data.get("dpop_jkt")):
            raise InvalidRequestError("The 'dpop_jkt' must be a SHA-256 JWK thumbprint (RFC 9449 section 10).", redirect_uri=redirect_uri)
        if data.get("response_mode") not in (None, "", *RESPONSE_MODES):
            # query and form_post only (no fragment for the code flow); the error goes back in query mode
            raise InvalidRequestError("Unsupported 'response_mode': use query or form_post.", redirect_uri=redirect_uri)
        if not self.request.client.check_response_mode(data.get("response_mode") or ""):
            # each client only the response modes it needs; the error goes back in the mode the request named
            # when the client may use it, else in query mode (no code either way)
            raise InvalidRequestError("This client may not use this 'response_mode'.", redirect_uri=redirect_uri)
        # a form is posted only to an http(s) redirect URI, never a javascript: one (the error page, not a redirect)
        validate_form_post_redirect_uri(self, redirect_uri)
        return redirect_uri

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        sso: "SsoSession" = request.user
        data = request.payload.data
        record = AuthorizationCode(
            gid=random_token(16),
            client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri or "",
            scope=request.scope or "",
            user_id=sso.user_id,
            sub=sso.sub,
            sid=sso.sid,
            auth_time=sso.auth_time,
            expires_at=int(time.time()) + self.tenant.config.tokens.code_ttl,
            nonce=data.get("nonce") or "",
            acr=sso.acr,
            amr=tuple(sso.amr),
            code_challenge=data.get("code_challenge") or "",
            code_challenge_method=data.get("code_challenge_method") or "",
            claims_locales=data.get("claims_locales") or "",
            dpop_jkt=data.get("dpop_jkt") or "",
        )
        self.server.tokens.save_code(self.tenant, code, record)
        if request.client.consent_required:  # revoking the consent revokes what it gave (idp.oidc.consent)
            self.server.tokens.file_client_grant(self.tenant, record, code)
        self.server.sessions.joined(self.tenant, sso, request.client)

    def query_authorization_code(self, code: str, client: "ClientView") -> AuthorizationCode | None:
        """Redeem the code once; a replay revokes what the first redemption was granted (RFC 6749 §4.1.2)."""
        # the fast lane's request carries its admin revision guard, checked in the redemption's own step
        redeemed = self.server.tokens.redeem_code(self.tenant, code, **_guarded(self.request))
        if redeemed is None:
            return None
        record, first = redeemed
        if not first:
            self.server.tokens.revoke_grant(self.tenant, record.gid)
            raise InvalidGrantError("The authorization code has already been used.")
        if record.expires_at <= time.time():
            raise InvalidGrantError("The authorization code has expired.")
        if record.client_id != client.client_id:
            raise InvalidGrantError("The authorization code was issued to another client.")
        if record.dpop_jkt and record.dpop_jkt != dpop_jkt(self.request):
            raise InvalidGrantError("The authorization code is bound to a DPoP key: send a proof signed with it (RFC 9449 section 10).")
        return record

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Nothing to do: the code was consumed when redeemed and stays as a used-marker (R-62)."""

    def authenticate_user(self, authorization_code: AuthorizationCode) -> GrantUser | None:
        user = self.server.users.profile(self.tenant, authorization_code.user_id)
        if user is None or user.status != "active":
            return None
        tokens = self.tenant.config.tokens
        offline = self.request.client.check_grant_type("refresh_token")
        lifetime = tokens.refresh_token_ttl if offline else tokens.access_token_ttl
        return GrantUser(
            user_id=user.id,
            sub=user.sub,
            gid=authorization_code.gid,
            sid=authorization_code.sid,
            auth_time=authorization_code.auth_time,
            acr=authorization_code.acr,
            amr=authorization_code.amr,
            generation=1,
            row=user,
            expires_at=int(time.time()) + lifetime,
        )


class RefreshTokenGrant(DpopBinding, grants.RefreshTokenGrant):
    """Refresh with rotation and reuse detection (RFC 6749 §6, RFC 9700 §4.14.2, R-63)."""

    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True
    server: TenantServer

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshTokenRecord | None:
        record = self.server.tokens.find_refresh_token(self.server.tenant, refresh_token, **_guarded(self.request))
        if record is None or not record.check_client(self.request.client):
            return None
        return record

    def validate_token_request(self) -> None:
        """Authlib's checks (client, token, scope), then use this generation of the family once."""
        super().validate_token_request()
        bound = self.request.refresh_token.grant.jkt
        if bound and bound != dpop_jkt(self.request):
            # RFC 9449 §5: a public client's refresh token is bound to its DPoP key; refused without spending it
            raise InvalidGrantError("The refresh token is bound to a DPoP key: send a proof signed with it.")
        if not self.server.tokens.rotate(self.server.tenant, self.request.refresh_token):
            raise InvalidGrantError("The refresh token has already been used; its grant is revoked.")

    def authenticate_user(self, refresh_token: RefreshTokenRecord) -> GrantUser:
        return refresh_token.get_user()

    def revoke_old_credential(self, refresh_token: RefreshTokenRecord) -> None:
        """Nothing to do: :meth:`validate_token_request` used up the presented generation."""


class ClientCredentialsGrant(DpopBinding, grants.ClientCredentialsGrant):
    """Client credentials (RFC 6749 §4.4) for confidential clients; the token is a JWT, nothing is stored."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class OpenIDCode(_OpenIDCode):
    """ID tokens for the code flow (OIDC Core §3.1.3.6), signed with the tenant's current key, ``kid`` in the header."""

    def __init__(self, server: TenantServer) -> None:
        super().__init__(require_nonce=False)
        self.server = server

    def exists_nonce(self, nonce: str, request: OAuth2Request) -> bool:
        """Nonces protect the RP against replayed ID tokens; the code flow needs no server-side check."""
        return False

    def generate_user_info(self, user: GrantUser, scope: str) -> UserInfo:
        return user_claims(user.row, scope)

    def encode_id_token(self, token: dict[str, Any], request: OAuth2Request) -> str:
        tenant = self.server.tenant
        key = self.server.keys.signing_key(tenant)
        user: GrantUser = request.user
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": tenant.issuer,
            "aud": request.client.client_id,
            "azp": request.client.client_id,
            "iat": now,
            "exp": now + tenant.config.tokens.id_token_ttl,
        }
        claims.update(self.get_authorization_code_claims(request.authorization_code))
        if user.sid:
            claims["sid"] = user.sid
        at_hash = create_half_hash(token["access_token"], key.alg)
        if at_hash is not None:
            claims["at_hash"] = at_hash.decode("ascii")
        claims.update(self.generate_user_info(user, token["scope"]))
        return key.sign_jwt(claims, "JWT")


def grant_from(user: GrantUser, client: "ClientView", scope: str, jkt: str | None = None) -> Grant:
    """The grant record a code exchange creates; a public client's is bound to the DPoP key ``jkt`` of the
    exchange, so its refresh tokens need proofs by that key (RFC 9449 §5, R-63)."""
    return Grant(
        gid=user.gid,
        client_id=client.client_id,
        user_id=user.user_id,
        sub=user.sub,
        scope=scope,
        sid=user.sid,
        auth_time=user.auth_time,
        acr=user.acr,
        amr=tuple(user.amr),
        expires_at=user.expires_at,
        jkt=(jkt or "") if client.is_public else "",
    )
