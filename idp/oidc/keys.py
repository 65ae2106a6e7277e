"""Tenant signing keys: creation, rotation, the JWKS, and a per-process cache (RFC 7517, OIDC Core §10.1).

Each tenant signs ID tokens and JWT access tokens with its own key (RS256 2048
by default, ES256 when ``tokens.signing_alg`` says so). Private keys are stored
encrypted (:meth:`idp.security.secrets.SecretBox.encrypt`, purpose naming the
tenant and the ``kid``).

Rotation (R-72) publishes first and signs later:

- the new key enters the JWKS at once but signs only from ``active_from``
  (now + ``publish_delay``, by default the JWKS ``max-age``), so every RP that
  honours the cache headers knows it before it sees a token signed with it;
- the previous key keeps signing until then, and retires at that instant;
- a retired key stays in the JWKS until every token it signed has expired
  (``retired_at`` + the longest token lifetime), then leaves it.

Keys are hot (every token response signs): each worker keeps them decoded in
memory and re-reads the table every :data:`CACHE_TTL` seconds, and at once
after a rotation (:mod:`idp.tenants.revision`: every worker of every node). The active key is chosen by time from
the cached rows, so every worker switches at the same instant without a query.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from joserfc.jwk import ECKey, KeySet, RSAKey
from joserfc.util import urlsafe_b64decode
from sqlalchemy import select

from idp.security.secrets import random_token
from idp.storage.models import SigningKey

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import Session

    from idp.security.secrets import SecretBox
    from idp.storage.database import Database
    from idp.tenants.revision import AdminRevision
    from idp.tenants.service import TenantView

#: ``Cache-Control: max-age`` of the JWKS, seconds; also the default publication delay of a new key.
JWKS_MAX_AGE = 600
#: Seconds a worker trusts its cached keys before re-reading them (well under :data:`JWKS_MAX_AGE`,
#: so a key rotated by another process is loaded long before it starts signing).
CACHE_TTL = 30.0
#: Algorithms a tenant may sign with.
ALGORITHMS = ("RS256", "ES256")
#: Decoded private keys a process keeps by their sealed bytes (:meth:`KeyService._private`); past this, it starts over.
DECODED_CACHE = 4096


class NoSigningKey(LookupError):
    """A tenant has no key that can sign now (never expected after ``idp init``)."""


@dataclass(frozen=True)
class KeyInfo:
    """One signing key as the CLI and the admin API show it (no private material)."""

    kid: str
    alg: str
    created_at: datetime
    active_from: datetime
    retired_at: datetime | None
    unpublish_at: datetime | None

    def status(self, now: datetime | None = None) -> str:
        """``pending`` (published, not signing yet), ``active``, ``retired`` (still published) or ``expired``."""
        now = now or datetime.now(UTC)
        unpublish, retired, active = _aware(self.unpublish_at), _aware(self.retired_at), _aware(self.active_from)
        if unpublish is not None and unpublish <= now:
            return "expired"
        if retired is not None and retired <= now:
            return "retired"
        if active is not None and active > now:
            return "pending"
        return "active"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "alg": self.alg,
            "status": self.status(),
            "created_at": _iso(self.created_at),
            "active_from": _iso(self.active_from),
            "retired_at": _iso(self.retired_at),
            "unpublish_at": _iso(self.unpublish_at),
        }


@dataclass(frozen=True)
class LoadedKey:
    """A decoded key pair with its schedule (timestamps as epoch seconds, for cheap comparisons)."""

    kid: str
    alg: str
    private: RSAKey | ECKey
    public_jwk: dict[str, Any]
    active_from: float
    retired_at: float | None
    unpublish_at: float | None

    #: Encoded JWS protected headers by ``typ`` (the same few bytes for every token this key signs).
    _headers: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)

    def sign_jwt(self, claims: dict[str, Any], typ: str) -> str:
        """A compact JWS (RFC 7515 §7.1) of ``claims`` with header ``{"alg", "kid", "typ"}``, signed by this key.

        The token endpoint signs on every response: the header segment is encoded
        once per ``typ`` and the signature is made by ``cryptography`` directly
        (RS256: RSASSA-PKCS1-v1_5 with SHA-256; ES256: ECDSA P-256 with SHA-256,
        ``R || S`` as RFC 7518 §3.4 requires), without a JOSE library round trip.
        """
        head = self._headers.get(typ)
        if head is None:
            head = _b64(json.dumps({"alg": self.alg, "kid": self.kid, "typ": typ}, separators=(",", ":")).encode())
            self._headers[typ] = head
        signing_input = head + b"." + _b64(json.dumps(claims, separators=(",", ":")).encode())
        raw = self.private.private_key
        if self.alg == "RS256":
            signature = raw.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg]
        elif self.alg == "ES256":
            r, s = decode_dss_signature(raw.sign(signing_input, ec.ECDSA(hashes.SHA256())))  # type: ignore[union-attr,call-arg,arg-type]
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        else:  # pragma: no cover - keys are created with ALGORITHMS only
            raise ValueError(f"unsupported signing algorithm {self.alg!r}")
        return (signing_input + b"." + _b64(signature)).decode("ascii")

    def signs_at(self, now: float) -> bool:
        return self.active_from <= now and (self.retired_at is None or now < self.retired_at)

    def published_at(self, now: float) -> bool:
        return self.unpublish_at is None or now < self.unpublish_at


#: A published key as the lean verifier uses it: its ``alg`` and its ``cryptography`` public key.
Verifier = tuple[str, "rsa.RSAPublicKey | ec.EllipticCurvePublicKey"]
#: The only JWS header members of the tokens this service mints; a token with any other goes to joserfc.
_MINTED_HEADER = frozenset({"alg", "kid", "typ"})


@dataclass
class _TenantKeys:
    loaded_at: float
    keys: tuple[LoadedKey, ...]
    jwks_cache: tuple[tuple[str, ...], bytes, str, KeySet, dict[str, Verifier]] | None = None


def verify_minted(verifiers: dict[str, Verifier], token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """``(header, claims)`` of a compact JWS shaped as this service mints them (header ``alg``, ``kid``, ``typ`` only; a
    published ``kid`` of that ``alg``; an object payload) whose signature verifies; None for anything else.

    The hot path of UserInfo and introspection (issue 17): one ``cryptography`` verify, without joserfc's registry and
    objects. None means "not decided here", never "invalid": the caller then asks joserfc, whose answer stands. So this
    only ever accepts what joserfc accepts (the same base64url decoder, the same signature checks), which
    ``tests/oidc/test_lean_jws.py`` checks token by token against joserfc and Authlib's JOSE.
    """
    try:
        h64, p64, s64 = token.encode("ascii").split(b".")
        header = json.loads(urlsafe_b64decode(h64))
        if type(header) is not dict or not header.keys() <= _MINTED_HEADER or not isinstance(header.get("typ", ""), str):
            return None
        found = verifiers.get(header.get("kid"))  # type: ignore[arg-type]
        if found is None or found[0] != header.get("alg"):
            return None
        alg, public = found
        signature = urlsafe_b64decode(s64)
        signing_input = h64 + b"." + p64
        if alg == "RS256":
            public.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg]
        elif alg == "ES256" and len(signature) == 64:
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            public.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr,call-arg]
        else:
            return None
        claims = json.loads(urlsafe_b64decode(p64))
    except (InvalidSignature, ValueError, TypeError, UnicodeError):  # binascii.Error and JSONDecodeError are ValueErrors
        return None
    return (header, claims) if type(claims) is dict else None


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    value = _aware(value)
    return value.isoformat() if value is not None else None


def _epoch(value: datetime | None) -> float | None:
    value = _aware(value)
    return value.timestamp() if value is not None else None


def _purpose(tenant_id: int, kid: str) -> str:
    return f"signing-key:{tenant_id}:{kid}"


def generate_key_pair(alg: str) -> tuple[bytes, dict[str, Any], str]:
    """A new private key (PKCS#8 PEM), its public JWK and a fresh ``kid`` for ``alg``."""
    if alg == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError(f"unsupported signing algorithm {alg!r}: use one of {', '.join(ALGORITHMS)}")
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    kid = random_token(12)
    key = _import_private(pem, alg)
    public = key.as_dict(private=False)
    public.update({"kid": kid, "alg": alg, "use": "sig"})
    return pem, public, kid


def _import_private(pem: bytes, alg: str) -> RSAKey | ECKey:
    if alg == "RS256":
        return RSAKey.import_key(pem)
    return ECKey.import_key(pem)


class KeyService:
    """Create, rotate, list and serve a tenant's signing keys."""

    def __init__(self, db: "Database", secrets: "SecretBox", revision: "AdminRevision") -> None:
        self.db = db
        self.secrets = secrets
        self.revision = revision
        self._cache: dict[int, _TenantKeys] = {}
        self._lock = threading.Lock()
        #: Private keys decoded from their sealed bytes: (tenant id, kid, alg, sealed PEM) → key (:meth:`_private`).
        self._decoded: dict[tuple[int, str, str, str], RSAKey | ECKey] = {}
        self._decode_lock = threading.Lock()
        revision.watch(self.clear)

    # -- creating ---------------------------------------------------------------------

    def _new_row(self, tenant_id: int, alg: str, active_from: datetime) -> SigningKey:
        pem, public, kid = generate_key_pair(alg)
        return SigningKey(
            tenant_id=tenant_id,
            kid=kid,
            alg=alg,
            private_key_encrypted=self.secrets.encrypt(pem, _purpose(tenant_id, kid)),
            public_jwk=public,
            created_at=datetime.now(UTC),
            active_from=active_from,
        )

    def create_initial(self, session: "Session", tenant_id: int, alg: str) -> KeyInfo:
        """Add a tenant's first key inside the caller's unit of work; it signs at once."""
        row = self._new_row(tenant_id, alg, datetime.now(UTC))
        session.add(row)
        session.flush()
        self.invalidate(tenant_id)
        return self._info(row)

    def rotate(self, tenant: "TenantView", publish_delay: int | None = None) -> KeyInfo:
        """Publish a new key now that signs after ``publish_delay`` seconds (default: the JWKS max-age).

        Every key still signing retires when the new one takes over, and leaves
        the JWKS once the tokens it signed have all expired.
        """
        delay = JWKS_MAX_AGE if publish_delay is None else max(0, int(publish_delay))
        now = datetime.now(UTC)
        takeover = now + timedelta(seconds=delay)
        longest = max(tenant.config.tokens.id_token_ttl, tenant.config.tokens.access_token_ttl)
        self.revision.bump()
        with self.db.session() as s:
            current = s.scalars(
                select(SigningKey).where(SigningKey.tenant_id == tenant.id, SigningKey.retired_at.is_(None)).with_for_update()
            ).all()
            for old in current:
                retire_at = max(takeover, _aware(old.active_from) or takeover)
                old.retired_at = retire_at
                old.unpublish_at = retire_at + timedelta(seconds=longest)
            row = self._new_row(tenant.id, tenant.config.tokens.signing_alg, takeover)
            s.add(row)
            s.flush()
            info = self._info(row)
        self.invalidate(tenant.id)
        self.revision.bump()  # every worker publishes the new key at once
        return info

    # -- reading ------------------------------------------------------------------------

    def list(self, tenant: "TenantView") -> list[KeyInfo]:
        """Every key of the tenant, newest first, including expired ones."""
        with self.db.session() as s:
            rows = s.scalars(select(SigningKey).where(SigningKey.tenant_id == tenant.id).order_by(SigningKey.id.desc())).all()
            return [self._info(r) for r in rows]

    def signing_key(self, tenant: "TenantView") -> LoadedKey:
        """The key that signs now: the newest whose ``active_from`` has passed and that has not retired."""
        now = time.time()
        candidates = [k for k in self._keys(tenant.id) if k.signs_at(now)]
        if not candidates:
            raise NoSigningKey(f"tenant {tenant.slug!r} has no active signing key")
        return max(candidates, key=lambda k: k.active_from)

    def jwks(self, tenant: "TenantView") -> dict[str, Any]:
        """The published public keys (pending, active and recently retired) as a JWK Set."""
        return json.loads(self.jwks_document(tenant)[0])  # type: ignore[no-any-return]

    def jwks_document(self, tenant: "TenantView") -> tuple[bytes, str]:
        """The JWKS as served (bytes) and its strong ETag, rebuilt only when the published set changes."""
        body, etag, _, _ = self._published(tenant)
        return body, etag

    def cached_jwks_document(self, tenant: "TenantView") -> tuple[bytes, str] | None:
        """:meth:`jwks_document` when this process holds fresh keys (within :data:`CACHE_TTL`), else None; never queries."""
        entry = self._fresh_entry(tenant)
        if entry is None:
            return None
        body, etag, _, _ = self._published(tenant, entry)
        return body, etag

    def holds_fresh_keys(self, tenant: "TenantView") -> bool:
        """True when this process holds the tenant's keys within :data:`CACHE_TTL`: :meth:`signing_key` will not query."""
        return self._fresh_entry(tenant) is not None

    def _fresh_entry(self, tenant: "TenantView") -> "_TenantKeys | None":
        entry = self._cache.get(tenant.id)
        return entry if entry is not None and time.monotonic() - entry.loaded_at < CACHE_TTL else None

    def verification_keys(self, tenant: "TenantView") -> KeySet:
        """The published keys as a joserfc KeySet (tokens are verified against these only)."""
        return self._published(tenant)[2]

    def verifiers(self, tenant: "TenantView") -> dict[str, Verifier]:
        """The same published keys by ``kid``, as ``cryptography`` public keys (:func:`verify_minted`)."""
        return self._published(tenant)[3]

    def invalidate(self, tenant_id: int) -> None:
        """Forget the cached keys of a tenant (the next use re-reads them)."""
        with self._lock:
            self._cache.pop(tenant_id, None)

    def clear(self) -> None:
        """Forget every tenant's keys (:class:`~idp.tenants.revision.AdminRevision` calls it when the revision moves)."""
        with self._lock:
            self._cache.clear()

    # -- internals --------------------------------------------------------------------------

    def _published(self, tenant: "TenantView", entry: _TenantKeys | None = None) -> tuple[bytes, str, KeySet, dict[str, Verifier]]:
        now = time.time()
        entry = entry or self._entry(tenant.id)
        published = tuple(k for k in entry.keys if k.published_at(now))
        kids = tuple(k.kid for k in published)
        cached = entry.jwks_cache
        if cached is not None and cached[0] == kids:
            return cached[1], cached[2], cached[3], cached[4]
        doc = {"keys": [k.public_jwk for k in published]}
        body = json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        keyset = KeySet.import_key_set(doc)
        verifiers: dict[str, Verifier] = {k.kid: (k.alg, k.private.private_key.public_key()) for k in published}  # type: ignore[union-attr]
        entry.jwks_cache = (kids, body, etag, keyset, verifiers)
        return body, etag, keyset, verifiers

    def _keys(self, tenant_id: int) -> tuple[LoadedKey, ...]:
        return self._entry(tenant_id).keys

    def _entry(self, tenant_id: int) -> _TenantKeys:
        now = time.monotonic()
        entry = self._cache.get(tenant_id)
        if entry is not None and now - entry.loaded_at < CACHE_TTL:
            return entry
        generation = self.revision.generation
        entry = _TenantKeys(loaded_at=now, keys=self._load(tenant_id))
        with self._lock:
            if generation == self.revision.generation:  # else an admin write may have come in between
                self._cache[tenant_id] = entry
        return entry

    def _load(self, tenant_id: int) -> tuple[LoadedKey, ...]:
        with self.db.session() as s:
            rows = s.scalars(select(SigningKey).where(SigningKey.tenant_id == tenant_id).order_by(SigningKey.id)).all()
            loaded = []
            now = time.time()
            for row in rows:
                unpublish = _epoch(row.unpublish_at)
                if unpublish is not None and unpublish <= now:
                    continue
                loaded.append(
                    LoadedKey(
                        kid=row.kid,
                        alg=row.alg,
                        private=self._private(tenant_id, row),
                        public_jwk=dict(row.public_jwk),
                        active_from=_epoch(row.active_from) or 0.0,
                        retired_at=_epoch(row.retired_at),
                        unpublish_at=unpublish,
                    )
                )
            return tuple(loaded)

    def _private(self, tenant_id: int, row: SigningKey) -> RSAKey | ECKey:
        """The row's private key, decrypted and decoded once per process for the same sealed bytes.

        Decoding an RSA-2048 key (the import checks the key) costs ~35 ms of CPU, and every worker re-reads the
        rows every :data:`CACHE_TTL` seconds and after every admin write (any tenant's): without this each re-read
        decoded every key again, and the threads of a worker that found the cache stale together each decoded it
        (one decodes here; the others wait for it). The rows are still re-read as before (which keys exist, sign and
        are published); only bytes already decoded are not decoded again: other bytes (a new key, a re-encrypted
        one) are a new entry."""
        entry = (tenant_id, row.kid, row.alg, row.private_key_encrypted)
        with self._decode_lock:
            key = self._decoded.get(entry)
            if key is None:
                pem = self.secrets.decrypt(row.private_key_encrypted, _purpose(tenant_id, row.kid))
                key = _import_private(pem, row.alg)
                if len(self._decoded) >= DECODED_CACHE:
                    self._decoded.clear()
                self._decoded[entry] = key
            return key

    @staticmethod
    def _info(row: SigningKey) -> KeyInfo:
        return KeyInfo(
            kid=row.kid,
            alg=row.alg,
            created_at=row.created_at,
            active_from=row.active_from,
            retired_at=row.retired_at,
            unpublish_at=row.unpublish_at,
        )
