"""RP-initiated logout (OpenID RP-Initiated Logout 1.0) of a tenant's authorization server."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Request
from authlib.oidc.rpinitiated import EndSessionEndpoint as _EndSessionEndpoint
from authlib.oidc.rpinitiated import EndSessionRequest
from flask import request as flask_request

from idp.oidc.keys import ALGORITHMS
from idp.oidc.sessions import COOKIE


class EndSessionEndpoint(_EndSessionEndpoint):
    """RP-initiated logout (OpenID RP-Initiated Logout 1.0): the hint must be an ID token of this tenant (R-73)."""

    def get_server_jwks(self) -> Any:
        return self.server.keys.verification_keys(self.server.tenant)

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
        """End this browser's session; the front-channel logout URLs of its RPs ride on the request
        (:func:`frontchannel_logout_urls`) for the page to frame (Front-Channel Logout 1.0 §4)."""
        token = flask_request.cookies.get(COOKIE, "")
        end_session_request.frontchannel_logout_urls = self.server.sessions.end(self.server.tenant, token)


def frontchannel_logout_urls(end_session_request: EndSessionRequest) -> list[str]:
    """The front-channel logout URLs :meth:`EndSessionEndpoint.end_session` found for this logout."""
    return list(getattr(end_session_request, "frontchannel_logout_urls", None) or [])
