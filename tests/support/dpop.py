"""A DPoP client key of the tests' own (RFC 9449 §4.2): it signs proofs, good ones and deliberately bad ones."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any

from joserfc import jws
from joserfc.jwk import ECKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

_ANY_ALG = JWSRegistry(algorithms=["ES256", "RS256", "PS256", "Ed25519"])


def ath(access_token: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(access_token.encode()).digest()).rstrip(b"=").decode()


class DpopKey:
    """A key pair and the proofs it signs; ``jkt`` is its RFC 7638 thumbprint."""

    def __init__(self, alg: str = "ES256") -> None:
        self.alg = alg
        if alg.startswith("ES"):
            self.key: Any = ECKey.generate_key("P-256")
        elif alg == "Ed25519":
            self.key = OKPKey.generate_key("Ed25519")
        else:
            self.key = RSAKey.generate_key(2048)
        self.jkt = self.key.thumbprint()

    def proof(
        self,
        method: str,
        url: str,
        access_token: str | None = None,
        nonce: str | None = None,
        header: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A proof for ``method url`` (with ``ath`` of ``access_token``, ``nonce``); ``header``/``claims`` override."""
        head: dict[str, Any] = {"typ": "dpop+jwt", "alg": self.alg, "jwk": self.key.as_dict(private=False)}
        head.update(header or {})
        body: dict[str, Any] = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url, "iat": int(time.time())}
        if access_token is not None:
            body["ath"] = ath(access_token)
        if nonce is not None:
            body["nonce"] = nonce
        body.update(claims)
        body = {k: v for k, v in body.items() if v is not None}
        return jws.serialize_compact(head, json.dumps(body).encode(), self.key, registry=_ANY_ALG)


def hmac_signed(header: dict[str, Any], claims: dict[str, Any], secret: bytes = b"shared secret") -> str:
    """A compact JWS signed with HS256 whatever ``header`` says (a forged, symmetric "proof")."""
    import hmac

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    return signing_input + "." + b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())


def claims_of(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified (the tests verify signatures elsewhere)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]
