"""UserInfo (OIDC Core §5.3) of a tenant's authorization server, and the token checks it relies on: bearer tokens
(RFC 6750) and DPoP-bound ones (RFC 9449 §7): ``Authorization: DPoP <token>`` with a proof by the token's key."""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import (
    ResourceProtector as FlaskResourceProtector,
)
from authlib.oauth2.rfc6749 import TokenValidator
from authlib.oauth2.rfc6750 import BearerTokenValidator, InsufficientScopeError, InvalidTokenError
from authlib.oidc.core import UserInfo
from authlib.oidc.core import UserInfoEndpoint as _UserInfoEndpoint
from flask import request as flask_request

from idp.oidc.dpop import DpopError, DpopResourceError, proof_header
from idp.oidc.grants import user_claims
from idp.oidc.tenant_server import TenantServer
from idp.oidc.tokens import AccessTokenRecord, GrantUser


class AccessTokenValidator(BearerTokenValidator):
    """Bearer tokens of this tenant: our signed JWTs whose grant is still live (RFC 6750)."""

    def __init__(self, server: TenantServer) -> None:
        super().__init__(realm=server.tenant.issuer)
        self.server = server

    def authenticate_token(self, token_string: str) -> AccessTokenRecord | None:
        return self.server.tokens.verify_access_token(self.server.tenant, token_string)

    def validate_token(self, token: AccessTokenRecord | None, scopes: Any, request: Any) -> None:
        """Authlib's checks; a DPoP-bound token presented as a bearer token is refused (RFC 9449 §7.2)."""
        super().validate_token(token, scopes, request)
        if token is not None and "cnf" in token.claims:
            raise DpopResourceError("This access token is bound to a DPoP key: send it with the DPoP scheme and a proof.")


class DpopTokenValidator(TokenValidator):
    """``Authorization: DPoP <token>`` (RFC 9449 §7.1): a live token of this tenant bound to a key (``cnf.jkt``),
    with one ``DPoP`` proof signed by that key for this request (``htm``, ``htu``, ``ath``, fresh ``jti``)."""

    TOKEN_TYPE = "dpop"

    def __init__(self, server: TenantServer) -> None:
        super().__init__(realm=server.tenant.issuer)
        self.server = server

    def authenticate_token(self, token_string: str) -> AccessTokenRecord | None:
        return self.server.tokens.verify_access_token(self.server.tenant, token_string)

    def validate_token(self, token: AccessTokenRecord | None, scopes: Any, request: Any) -> None:
        tenant = self.server.tenant
        if token is None or token.is_expired() or token.is_revoked():
            raise DpopResourceError("The access token is expired, revoked, malformed, or invalid for other reasons.")
        bound = (token.claims.get("cnf") or {}).get("jkt")
        if not bound:
            raise DpopResourceError("This access token is not bound to a DPoP key: send it with the Bearer scheme.")
        token_string = request.headers.get("Authorization", "").split(None, 1)[1].strip()
        try:
            proof = proof_header(request.headers)
            if proof is None:
                raise DpopError("A DPoP proof must accompany a DPoP-bound access token.")
            verified = self.server.tokens.dpop.verify(tenant, proof, flask_request.method, tenant.public_url + flask_request.path, token_string)
        except DpopError as error:
            raise DpopResourceError(str(error.description), error.error, error.nonce) from None
        if verified.jkt != bound:
            raise DpopResourceError("The DPoP proof is not signed by the key the access token is bound to.", "invalid_dpop_proof")
        if self.scope_insufficient(token.get_scope(), scopes):
            raise InsufficientScopeError()


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

    def __init__(self, server: TenantServer) -> None:
        protector = UserInfoProtector()
        protector.register_token_validator(AccessTokenValidator(server))
        protector.register_token_validator(DpopTokenValidator(server))
        super().__init__(server=server, resource_protector=protector)

    def get_issuer(self) -> str:
        return self.server.tenant.issuer  # type: ignore[union-attr,no-any-return]

    def generate_user_info(self, user: GrantUser | None, scope: str) -> UserInfo:
        server: TenantServer = self.server  # type: ignore[assignment]
        row = server.users.profile(server.tenant, user.user_id) if user is not None else None
        if row is None or row.status != "active":
            raise InvalidTokenError(realm=server.tenant.issuer)
        return user_claims(row, scope)
