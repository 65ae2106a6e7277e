"""Logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.4), signed like ID tokens.

A JWT with ``typ`` ``logout+jwt`` (§2.4, as RFC 8417 security event tokens are typed), signed with the
tenant's current signing key (the ``kid`` in the header, its public half in the JWKS), whose claims are
``iss``, ``aud`` (the client id), ``iat``, ``exp``, ``jti``, ``events`` with the back-channel logout
event, ``sub`` and ``sid``. Never a ``nonce`` (§2.4: it is prohibited, so a logout token cannot pass for
an ID token).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from idp.security.secrets import random_token

if TYPE_CHECKING:  # pragma: no cover
    from idp.oidc.keys import KeyService
    from idp.tenants.service import TenantView

#: The event a logout token carries (§2.4).
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: The JWT ``typ`` header of logout tokens (§2.4).
LOGOUT_TOKEN_TYP = "logout+jwt"
#: Seconds a logout token is valid: "a few minutes" at most (§2.4); each delivery attempt mints a new one.
LOGOUT_TOKEN_TTL = 120


def logout_token_claims(issuer: str, client_id: str, sub: str, sid: str, now: int | None = None) -> dict[str, Any]:
    """The claims of a logout token for ``client_id`` about the session ``sid`` of ``sub`` (§2.4)."""
    now = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + LOGOUT_TOKEN_TTL,
        "jti": random_token(16),
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }
    if sub:
        claims["sub"] = sub
    if sid:
        claims["sid"] = sid
    return claims


def issue_logout_token(keys: "KeyService", tenant: "TenantView", client_id: str, sub: str, sid: str) -> str:
    """A logout token signed with ``tenant``'s current signing key."""
    return keys.signing_key(tenant).sign_jwt(logout_token_claims(tenant.issuer, client_id, sub, sid), LOGOUT_TOKEN_TYP)
