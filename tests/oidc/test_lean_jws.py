"""The lean JWS verifier of UserInfo and introspection (:func:`idp.oidc.keys.verify_minted`, issue 17) accepts only
what joserfc accepts, with the same header and claims, and Authlib's JOSE (an independent implementation) agrees.

Every token here is played through the three: the lean verifier may decline (None: joserfc then decides), but never
accepts a token joserfc refuses, nor reads it differently.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from authlib.jose import JsonWebToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.oidc.keys import LoadedKey, _import_private, generate_key_pair, verify_minted


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Signer:
    def __init__(self, alg: str) -> None:
        pem, public, kid = generate_key_pair(alg)
        self.alg, self.kid, self.public = alg, kid, public
        self.key = LoadedKey(kid, alg, _import_private(pem, alg), public, 0.0, None, None)
        self.raw = serialization.load_pem_private_key(pem, None)

    def sign(self, header: dict[str, Any], payload: bytes, alg: str | None = None) -> str:
        signing_input = (_b64(json.dumps(header).encode()) + "." + _b64(payload)).encode()
        if (alg or self.alg) == "RS256":
            sig = self.raw.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg]
        else:
            r, s = decode_dss_signature(self.raw.sign(signing_input, ec.ECDSA(hashes.SHA256())))  # type: ignore[union-attr,call-arg,arg-type]
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return signing_input.decode() + "." + _b64(sig)


def _claims() -> dict[str, Any]:
    now = int(time.time())
    return {"iss": "https://idp.example/realms/t", "sub": "u-1", "aud": "web", "iat": now, "exp": now + 300, "scope": "openid"}


def _variants(signer: Signer, other: Signer) -> dict[str, str]:
    good = signer.key.sign_jwt(_claims(), "at+jwt")
    h, p, s = good.split(".")
    head = {"alg": signer.alg, "kid": signer.kid, "typ": "at+jwt"}
    flipped = s[:-3] + ("A" if s[-3] != "A" else "B") + s[-2:]
    return {
        "minted access token": good,
        "minted ID token": signer.key.sign_jwt({**_claims(), "nonce": "n", "amr": ["pwd"]}, "JWT"),
        "signature changed": f"{h}.{p}.{flipped}",
        "payload changed": f"{h}.{_b64(json.dumps({**_claims(), 'sub': 'admin'}).encode())}.{s}",
        "signature padded": f"{h}.{p}.{s}==",
        "signature cut": f"{h}.{p}.{s[:-4]}",
        "trailing segment": f"{good}.x",
        "alg none": f"{_b64(json.dumps({'alg': 'none', 'kid': signer.kid}).encode())}.{p}.",
        "alg HS256 with the kid": f"{_b64(json.dumps({**head, 'alg': 'HS256'}).encode())}.{p}.{s}",
        "unknown kid": signer.sign({**head, "kid": "not-a-kid"}, json.dumps(_claims()).encode()),
        "another key's signature under this kid": other.sign({**head, "alg": other.alg}, json.dumps(_claims()).encode()),
        "crit header": signer.sign({**head, "crit": ["exp"]}, json.dumps(_claims()).encode()),
        "jku header": signer.sign({**head, "jku": "https://evil.example/jwks"}, json.dumps(_claims()).encode()),
        "typ not a string": signer.sign({**head, "typ": 7}, json.dumps(_claims()).encode()),
        "kid not a string": signer.sign({**head, "kid": [signer.kid]}, json.dumps(_claims()).encode()),
        "payload a list": signer.sign(head, b'["a"]'),
        "payload not JSON": signer.sign(head, b"not json"),
        "header not JSON": f"{_b64(b'{')}.{p}.{s}",
        "not ASCII": good[:-1] + "é",
        "garbage": "not.a.token",
        "extra fields kept": signer.sign(head, json.dumps({**_claims(), "x": {"y": [1, 2]}}).encode()),
    }


@pytest.mark.parametrize("alg,other_alg", [("RS256", "ES256"), ("ES256", "RS256"), ("RS256", "RS256"), ("ES256", "ES256")])
def test_the_lean_verifier_accepts_only_what_joserfc_and_authlib_accept(alg: str, other_alg: str) -> None:
    signer, other = Signer(alg), Signer(other_alg)
    other.kid = signer.kid  # the other key claims this key's kid
    verifiers = {signer.kid: (alg, signer.raw.public_key())}
    keyset = KeySet.import_key_set({"keys": [signer.public]})
    authlib = JsonWebToken(["RS256", "ES256"])
    accepted = []
    for name, token in _variants(signer, other).items():
        lean = verify_minted(verifiers, token)  # type: ignore[arg-type]
        try:
            decoded = jwt.decode(token, keyset, algorithms=["RS256", "ES256"])
            reference: Any = (dict(decoded.header), dict(decoded.claims))
        except (JoseError, ValueError):
            reference = None
        if lean is not None:
            accepted.append(name)
            assert reference is not None and lean == reference, name  # never accepts what joserfc refuses
            assert dict(authlib.decode(token, signer.public)) == lean[1], name
    assert accepted == ["minted access token", "minted ID token", "extra fields kept"]
