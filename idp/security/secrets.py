"""Secrets at rest: keyed hashes for random secrets, authenticated encryption for what must be read back.

- Client secrets, link tokens and SMS codes are hashed with HMAC-SHA256 under a
  key derived from ``IDP_SECRET_KEY`` (they are random or short-lived, so a slow
  hash buys nothing; the key stops offline guessing of 6-digit codes).
- Private signing keys and TOTP seeds are encrypted with AES-256-GCM under
  another derived key (R-84), with the record's purpose as associated data.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets as _secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def _derive(secret_key: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"idp-v1", info=purpose).derive(secret_key.encode())


class SecretBox:
    """Hashing and encryption keyed by the process secret key."""

    def __init__(self, secret_key: str) -> None:
        self._mac_key = _derive(secret_key, b"mac")
        self._aead = AESGCM(_derive(secret_key, b"encryption"))

    def digest(self, value: str, purpose: str = "") -> str:
        """Keyed SHA-256 (hex) of ``value``; ``purpose`` separates uses of the same value."""
        return hmac.new(self._mac_key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()

    def matches(self, value: str, expected_digest: str, purpose: str = "") -> bool:
        """Constant-time comparison of ``value`` against a stored digest."""
        return bool(expected_digest) and hmac.compare_digest(self.digest(value, purpose), expected_digest)

    def encrypt(self, plaintext: bytes, purpose: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext, purpose.encode())
        return "v1." + base64.urlsafe_b64encode(nonce + sealed).decode()

    def decrypt(self, token: str, purpose: str) -> bytes:
        if not token.startswith("v1."):
            raise ValueError("unknown ciphertext version")
        raw = base64.urlsafe_b64decode(token[3:])
        return self._aead.decrypt(raw[:12], raw[12:], purpose.encode())


def random_token(nbytes: int = 32) -> str:
    """A URL-safe random token (``nbytes`` of entropy; 32 bytes = 256 bits)."""
    return _secrets.token_urlsafe(nbytes)


def random_digits(n: int = 6) -> str:
    """``n`` random decimal digits from the OS CSPRNG (R-11)."""
    return "".join(_secrets.choice("0123456789") for _ in range(n))
