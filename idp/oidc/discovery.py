"""The discovery metadata of a tenant (OIDC Discovery §3, RFC 8414)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from idp.assurance import ACR_VALUES_SUPPORTED
from idp.oidc.clients import SUPPORTED_SCOPES
from idp.oidc.dpop import DPOP_ALGS
from idp.oidc.form_post import RESPONSE_MODES
from idp.oidc.grants import PKCE_METHODS

if TYPE_CHECKING:  # pragma: no cover
    from idp.tenants.service import TenantView

#: Cache-Control max-age of the discovery document, seconds.
DISCOVERY_MAX_AGE = 3600


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
        # RFC 9126 §5: PAR is offered to every client; clients registered with require_pushed_authorization_requests must use it
        "pushed_authorization_request_endpoint": f"{base}/ext/par/request",
        "require_pushed_authorization_requests": False,
        # RFC 9449 §5.1: DPoP-bound access tokens (and public clients' refresh tokens)
        "dpop_signing_alg_values_supported": list(DPOP_ALGS),
        "scopes_supported": list(SUPPORTED_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": list(RESPONSE_MODES),
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
            "email", "email_verified", "address", "phone_number", "phone_number_verified",
        ],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "prompt_values_supported": ["none", "login", "consent"],
        "acr_values_supported": list(ACR_VALUES_SUPPORTED),
        "ui_locales_supported": ["en", "fr"],
        "claims_locales_supported": ["en", "fr"],
        "authorization_response_iss_parameter_supported": True,
        # OpenID Connect Front-Channel Logout 1.0 §3 and Back-Channel Logout 1.0 §2.1: the end_session page frames
        # the RPs' frontchannel_logout_uri (with iss and sid when asked), logout tokens carry sid
        "frontchannel_logout_supported": True,
        "frontchannel_logout_session_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    }
