"""DPoP (RFC 9449): proofs of possession checked at the token endpoint, the PAR endpoint and UserInfo.

A client that sends a ``DPoP`` header proves it holds a private key; the access token it gets is bound to
that key (``cnf.jkt``, the RFC 7638 thumbprint, token_type ``DPoP``) and a resource server accepts it only
with a fresh proof from the same key (``Authorization: DPoP <token>`` plus ``DPoP``, whose ``ath`` is the
hash of the token). A stolen bound token is useless without the key.

What a proof must be (RFC 9449 §4.2, checked in :meth:`DpopVerifier.verify` in this order, §4.3):

- one ``DPoP`` header, a compact JWS whose header has ``typ: dpop+jwt``, an asymmetric ``alg`` of
  :data:`DPOP_ALGS`, and ``jwk``: a *public* key (no private member), which verifies the signature;
- claims ``jti`` (unique), ``htm`` (the request's method), ``htu`` (the request's URL as published, query and
  fragment ignored), ``iat`` within :data:`PROOF_MAX_AGE` seconds in the past (:data:`FUTURE_SKEW` ahead);
- ``ath`` (base64url SHA-256 of the access token) when an access token is presented with it;
- ``nonce``, when the tenant requires server nonces (``tokens.dpop_nonce_required``, §8 and §9): one this
  server issued less than :data:`NONCE_PERIOD` to twice that ago. Nonces are stateless (a keyed MAC over the
  tenant and a time step), so issuing one writes nothing; a missing or stale one is answered with
  ``use_dpop_nonce`` and a fresh ``DPoP-Nonce`` header, and the client retries with a new proof;
- the ``jti`` is then recorded in the ephemeral store for the proof's lifetime: a replayed proof is refused
  (§11.1), on every worker (one atomic counter per ``(key, jti)``).

The token endpoint's plain (non-DPoP) path pays nothing for this: without a ``DPoP`` header nothing here runs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6750 import InvalidTokenError
from joserfc import jws
from joserfc.errors import JoseError, UnsupportedAlgorithmError
from joserfc.jwk import ECKey, JWKRegistry, OKPKey, RSAKey
from joserfc.jws import JWSAlgModel, JWSRegistry

if TYPE_CHECKING:  # pragma: no cover
    from idp.security.secrets import SecretBox
    from idp.store import EphemeralStore
    from idp.tenants.service import TenantView

#: Signature algorithms accepted in proofs (``dpop_signing_alg_values_supported``): asymmetric only (§4.2).
DPOP_ALGS = ("ES256", "ES384", "RS256", "PS256", "EdDSA", "Ed25519")
#: A proof is accepted up to this many seconds after its ``iat`` (and its ``jti`` remembered that long).
PROOF_MAX_AGE = 60
#: Seconds a proof's ``iat`` may lie ahead of this server's clock.
FUTURE_SKEW = 5
#: Seconds of one nonce time step; a nonce is accepted during its step and the next.
NONCE_PERIOD = 120
#: The ``typ`` of a DPoP proof (§4.2).
PROOF_TYP = "dpop+jwt"
#: The shortest RSA key accepted in a proof, in bits.
MIN_RSA_BITS = 2048
_MAX_PROOF = 8192
_MAX_JTI = 256


class _ProofRegistry(JWSRegistry):  # type: ignore[misc]
    """joserfc's JWS registry for proofs: only :data:`DPOP_ALGS`, a header large enough for an RSA ``jwk`` (joserfc's
    default is 512 bytes), and ``EdDSA`` without joserfc's RFC 9864 deprecation warning: RFC 9449 names it."""

    max_header_length = 4096
    max_payload_length = 4096

    def get_alg(self, name: str) -> JWSAlgModel:
        if name not in DPOP_ALGS or name not in self.algorithms:
            raise UnsupportedAlgorithmError(f"Algorithm of '{name}' is not allowed")
        return self.algorithms[name]


_REGISTRY = _ProofRegistry(algorithms=list(DPOP_ALGS))


def b64url_sha256(value: str) -> str:
    """base64url (no padding) of the SHA-256 of ``value`` (``ath``, §4.2)."""
    return base64.urlsafe_b64encode(hashlib.sha256(value.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


def is_thumbprint(value: Any) -> bool:
    """Whether ``value`` looks like an RFC 7638 SHA-256 thumbprint (``dpop_jkt``, §10): 43 base64url characters."""
    return isinstance(value, str) and len(value) == 43 and all(c.isalnum() or c in "-_" for c in value)


class DpopError(OAuth2Error):  # type: ignore[misc]
    """A proof refused at the token or PAR endpoint: 400 ``invalid_dpop_proof`` or ``use_dpop_nonce`` (§5, §8),
    the latter (and any refusal while nonces are required) with a fresh ``DPoP-Nonce``."""

    status_code = 400

    def __init__(self, description: str, error: str = "invalid_dpop_proof", nonce: str | None = None) -> None:
        super().__init__(description)
        self.error = error
        self.nonce = nonce

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = super().get_headers()
        if self.nonce:
            headers.append(("DPoP-Nonce", self.nonce))
        return headers


class DpopResourceError(InvalidTokenError):  # type: ignore[misc]
    """A refusal at a protected resource (UserInfo): 401 with a ``DPoP`` challenge (§7.1), ``algs`` listed."""

    def __init__(self, description: str, error: str = "invalid_token", nonce: str | None = None) -> None:
        super().__init__(description)
        self.error = error
        self.nonce = nonce

    def get_headers(self) -> list[tuple[str, str]]:
        description = str(self.get_error_description()).replace('"', "'")
        challenge = f'DPoP error="{self.error}", error_description="{description}", algs="{" ".join(DPOP_ALGS)}"'
        headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store"), ("Pragma", "no-cache"), ("WWW-Authenticate", challenge)]
        if self.nonce:
            headers.append(("DPoP-Nonce", self.nonce))
        return headers


def proof_header(headers: Any) -> str | None:
    """The ``DPoP`` header of a request: None when absent; :class:`DpopError` when sent more than once (§4.3)."""
    values = headers.getlist("DPoP") if hasattr(headers, "getlist") else ([headers["DPoP"]] if "DPoP" in headers else [])
    if not values:
        return None
    if len(values) > 1 or "," in values[0]:
        raise DpopError("Send exactly one DPoP proof.")
    return str(values[0]).strip()


def _same_url(htu: Any, url: str) -> bool:
    """``htu`` names ``url``: scheme, host, port and path equal, query and fragment ignored (§4.3 item 9)."""
    if not isinstance(htu, str) or len(htu) > 2000:
        return False
    try:
        a, b = urlsplit(htu), urlsplit(url)
        ports = (a.port or {"https": 443, "http": 80}.get(a.scheme.lower()), b.port or {"https": 443, "http": 80}.get(b.scheme.lower()))
    except ValueError:
        return False
    return a.scheme.lower() == b.scheme.lower() and (a.hostname or "") == (b.hostname or "") and ports[0] == ports[1] and (a.path or "/") == (b.path or "/")


@dataclass(frozen=True)
class DpopProof:
    """A verified proof: the thumbprint of its key (``jkt``)."""

    jkt: str
    jti: str


class DpopVerifier:
    """Checks proofs (:meth:`verify`) and issues the tenant's server nonces (:meth:`nonce`)."""

    def __init__(self, store: "EphemeralStore", secrets: "SecretBox") -> None:
        self.store = store
        self.secrets = secrets

    # -- nonces (§8, §9) ------------------------------------------------------------------------------

    def _nonce_at(self, tenant: "TenantView", step: int) -> str:
        return f"{step}.{self.secrets.digest(f'{tenant.slug}.{step}', 'dpop-nonce')[:32]}"

    def nonce(self, tenant: "TenantView") -> str:
        """The tenant's current server nonce."""
        return self._nonce_at(tenant, int(time.time()) // NONCE_PERIOD)

    def nonce_required(self, tenant: "TenantView") -> bool:
        return bool(tenant.config.tokens.dpop_nonce_required)

    def _nonce_ok(self, tenant: "TenantView", nonce: Any) -> bool:
        if not isinstance(nonce, str) or len(nonce) > 64:
            return False
        step = int(time.time()) // NONCE_PERIOD
        return any(hmac.compare_digest(nonce, self._nonce_at(tenant, s)) for s in (step, step - 1))

    # -- proofs (§4.3) --------------------------------------------------------------------------------

    def verify(self, tenant: "TenantView", proof: str, method: str, url: str, access_token: str | None = None) -> DpopProof:
        """The verified proof of a request to ``url`` with ``method``; :class:`DpopError` naming what is wrong."""
        required = self.nonce_required(tenant)
        fresh = self.nonce(tenant) if required else None

        def refuse(description: str, error: str = "invalid_dpop_proof") -> DpopError:
            return DpopError(description, error, fresh)

        if not proof or len(proof) > _MAX_PROOF or proof.count(".") != 2:
            raise refuse("The DPoP proof is not a compact JWS.")
        try:
            header = json.loads(base64.urlsafe_b64decode(proof.split(".")[0] + "=" * (-len(proof.split(".")[0]) % 4)))
        except (ValueError, UnicodeDecodeError):
            raise refuse("The DPoP proof header is not JSON.") from None
        if not isinstance(header, dict) or header.get("typ") != PROOF_TYP:
            raise refuse("The DPoP proof must have typ dpop+jwt.")
        alg = header.get("alg")
        if alg not in DPOP_ALGS:
            raise refuse(f"The DPoP proof must be signed with one of {', '.join(DPOP_ALGS)}.")
        key = self._public_key(header.get("jwk"), refuse)
        try:
            signed = jws.deserialize_compact(proof, key, registry=_REGISTRY)
            claims = json.loads(signed.payload)
        except (JoseError, ValueError, TypeError):
            raise refuse("The DPoP proof signature does not verify with its jwk.") from None
        if not isinstance(claims, dict):
            raise refuse("The DPoP proof claims are not a JSON object.")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti or len(jti) > _MAX_JTI:
            raise refuse("The DPoP proof has no valid jti.")
        if claims.get("htm") != method:
            raise refuse("The DPoP proof's htm does not match the request method.")
        if not _same_url(claims.get("htu"), url):
            raise refuse("The DPoP proof's htu does not match the request URL.")
        iat = claims.get("iat")
        now = time.time()
        if not isinstance(iat, (int, float)) or isinstance(iat, bool) or iat > now + FUTURE_SKEW or iat < now - PROOF_MAX_AGE:
            raise refuse("The DPoP proof's iat is missing or outside the accepted window.")
        if access_token is not None and claims.get("ath") != b64url_sha256(access_token):
            raise refuse("The DPoP proof's ath does not match the access token.")
        if required and not self._nonce_ok(tenant, claims.get("nonce")):
            raise refuse("Authorization server requires nonce in DPoP proof.", "use_dpop_nonce")
        jkt = key.thumbprint()
        seen = f"{tenant.slug}:dpop-jti:{self.secrets.digest(jkt + '.' + jti, 'dpop-jti')}"
        if self.store.incr(seen, PROOF_MAX_AGE + FUTURE_SKEW + 1) != 1:
            raise refuse("The DPoP proof was already used (replayed jti).")
        return DpopProof(jkt=jkt, jti=jti)

    @staticmethod
    def _public_key(jwk: Any, refuse: Any) -> ECKey | RSAKey | OKPKey:
        """The proof's ``jwk``: an asymmetric public key, nothing private in it."""
        if not isinstance(jwk, dict) or jwk.get("kty") not in ("EC", "RSA", "OKP"):
            raise refuse("The DPoP proof header needs a public jwk (EC, RSA or OKP).")
        if any(member in jwk for member in ("d", "p", "q", "dp", "dq", "qi", "oth", "k")):
            raise refuse("The DPoP proof's jwk must not contain a private key.")
        try:
            key = JWKRegistry.import_key({k: v for k, v in jwk.items() if isinstance(k, str)})
        except (JoseError, ValueError, TypeError, KeyError):
            raise refuse("The DPoP proof's jwk is not a valid key.") from None
        if not isinstance(key, (ECKey, RSAKey, OKPKey)) or key.is_private:
            raise refuse("The DPoP proof's jwk must be a public key.")
        if isinstance(key, RSAKey) and key.raw_value.key_size < MIN_RSA_BITS:
            raise refuse(f"The DPoP proof's RSA key must have at least {MIN_RSA_BITS} bits.")
        return key
