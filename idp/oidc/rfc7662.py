"""Token introspection (RFC 7662) of a tenant's authorization server."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint

from idp.oidc.clients import ClientView
from idp.oidc.tenant_server import TenantServer
from idp.oidc.tokens import REFRESH_PREFIX, RefreshTokenRecord


class IntrospectionEndpoint(_IntrospectionEndpoint):
    """Token introspection (RFC 7662) for authenticated (confidential) clients of the tenant."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        server: TenantServer = self.server
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
                **({"cnf": {"jkt": g.jkt}} if g.jkt else {}),
            }
        c = token.claims
        payload = {
            "active": True,
            "token_type": "DPoP" if "cnf" in c else "Bearer",
            "scope": c.get("scope", ""),
            "client_id": c["client_id"],
            "sub": c["sub"],
            "aud": c["aud"],
            "iss": c["iss"],
            "exp": c["exp"],
            "iat": c["iat"],
            "jti": c["jti"],
        }
        for name in ("auth_time", "acr", "sid", "cnf"):  # cnf: the DPoP key of a bound token (RFC 9449 §6.2)
            if name in c:
                payload[name] = c[name]
        return payload
