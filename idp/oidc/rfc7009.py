"""Token revocation (RFC 7009) of a tenant's authorization server."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint

from idp.oidc.tenant_server import TenantServer
from idp.oidc.tokens import REFRESH_PREFIX, AccessTokenRecord, RefreshTokenRecord


class RevocationEndpoint(_RevocationEndpoint):
    """Token revocation (RFC 7009): a refresh token revokes its whole grant; an access token is denied until it expires."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        server: TenantServer = self.server
        if token_string.startswith(REFRESH_PREFIX + "."):
            return server.tokens.find_refresh_token(server.tenant, token_string)
        claims = server.tokens.decode_jwt(server.tenant, token_string)
        return AccessTokenRecord(claims) if claims is not None else None

    def revoke_token(self, token: Any, request: OAuth2Request) -> None:
        server: TenantServer = self.server
        if isinstance(token, RefreshTokenRecord):
            server.tokens.revoke_grant(server.tenant, token.grant.gid)
        else:
            server.tokens.revoke_access_token(server.tenant, token.claims)
