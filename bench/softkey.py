"""A software passkey (a WebAuthn authenticator in Python) for the benchmark's passwordless case and service tests.

``webauthn`` verifies ceremonies but does not make them: this plays the authenticator's and the browser's part.
One ES256 (P-256) key per passkey; registration answers with ``fmt: none`` attestation; every assertion has user
presence and user verification set and a counter one higher than the last. No browser: the answers are the JSON
a browser's ``PublicKeyCredential.toJSON()`` gives.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

#: Flags of authenticatorData: user present, user verified, attested credential data.
UP, UV, AT = 0x01, 0x04, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftPasskey:
    """One discoverable credential for ``rp_id``, answered as from ``origin``."""

    rp_id: str
    origin: str
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    credential_id: bytes = field(default_factory=lambda: secrets.token_bytes(16))
    user_handle: bytes = b""
    sign_count: int = 0

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}, separators=(",", ":")).encode()

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})

    def _auth_data(self, flags: int, attested: bytes = b"") -> bytes:
        return hashlib.sha256(self.rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", self.sign_count) + attested

    def register(self, options_json: str) -> str:
        """The answer to ``navigator.credentials.create()`` with these creation options."""
        options = json.loads(options_json)
        self.user_handle = unb64url(options["user"]["id"])
        attested = bytes(16) + struct.pack(">H", len(self.credential_id)) + self.credential_id + self._cose_key()
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": self._auth_data(UP | UV | AT, attested)})
        client_data = self._client_data("webauthn.create", options["challenge"])
        return json.dumps({
            "id": b64url(self.credential_id), "rawId": b64url(self.credential_id), "type": "public-key",
            "response": {"clientDataJSON": b64url(client_data), "attestationObject": b64url(attestation), "transports": ["internal"]},
            "authenticatorAttachment": "platform", "clientExtensionResults": {},
        })  # fmt: skip

    def assertion(self, options_json: str) -> str:
        """The answer to ``navigator.credentials.get()`` with these request options (the counter moves on)."""
        options = json.loads(options_json)
        self.sign_count += 1
        auth_data = self._auth_data(UP | UV)
        client_data = self._client_data("webauthn.get", options["challenge"])
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        return json.dumps({
            "id": b64url(self.credential_id), "rawId": b64url(self.credential_id), "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data), "authenticatorData": b64url(auth_data),
                "signature": b64url(signature), "userHandle": b64url(self.user_handle),
            },
            "authenticatorAttachment": "platform", "clientExtensionResults": {},
        })  # fmt: skip
