"""UserInfo (OIDC Core §5.3) of a tenant's authorization server, and the bearer-token check it relies on (RFC 6750)."""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import (
    ResourceProtector as FlaskResourceProtector,
)
from authlib.oauth2.rfc6750 import BearerTokenValidator, InvalidTokenError
from authlib.oidc.core import UserInfo
from authlib.oidc.core import UserInfoEndpoint as _UserInfoEndpoint
from flask import request as flask_request

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
        super().__init__(server=server, resource_protector=protector)

    def get_issuer(self) -> str:
        return self.server.tenant.issuer  # type: ignore[union-attr,no-any-return]

    def generate_user_info(self, user: GrantUser | None, scope: str) -> UserInfo:
        server: TenantServer = self.server  # type: ignore[assignment]
        row = server.users.profile(server.tenant, user.user_id) if user is not None else None
        if row is None or row.status != "active":
            raise InvalidTokenError(realm=server.tenant.issuer)
        return user_claims(row, scope)
