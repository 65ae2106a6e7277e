"""Codes, grants and tokens in the ephemeral store, shaped for the hot paths.

Records (all keys start with the tenant slug, so tenant B never finds tenant A's, R-69):

- ``{t}:code:{digest(code)}``: an authorization code (RFC 6749 §4.1.2). It is
  consumed atomically on redemption and *kept* as a used-marker, so a second
  redemption is recognised and revokes the grant issued from the first (R-62,
  RFC 6819 §5.2.1.1). Its own expiry (``tokens.code_ttl``) is checked from the
  payload; the record outlives it by :data:`CODE_REPLAY_WINDOW` to catch late replays.
- ``{t}:grant:{gid}``: what one code exchange granted (user, client, scope,
  authentication facts). Access tokens of the grant are live while it exists;
  refresh tokens are accepted while it exists. Deleting it revokes them all.
- ``{t}:rtgen:{gid}``: the highest refresh-token generation already used.

Refresh tokens are ``r1.{gid}.{generation}.{mac}``: self-authenticating
(keyed MAC over tenant, grant and generation), so issuing one writes nothing.
Rotation (R-63) advances the generation atomically
(:meth:`EphemeralStore.advance`): the first use of generation *n* wins and the
response carries generation *n+1*; presenting a generation that was already
used is reuse, and revokes the whole family (RFC 9700 §4.14.2).

Access tokens are RFC 9068 JWTs signed with the tenant key. Client-credentials
tokens need no store write at all. A revoked access token (RFC 7009) is
remembered by ``{t}:atrev:{jti}`` until it expires.

Everything issued for a user is filed under the user's label
(:func:`idp.store.user_label`) so that revoking a user is one call.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, TokenMixin
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from idp.oidc.dpop import DpopVerifier
from idp.oidc.keys import verify_minted
from idp.oidc.par import PushedRequests
from idp.security.secrets import random_token
from idp.store import user_label

if TYPE_CHECKING:  # pragma: no cover
    from idp.oidc.clients import ClientService, ClientView
    from idp.oidc.keys import KeyService
    from idp.security.secrets import SecretBox
    from idp.store import EphemeralStore, Guard
    from idp.tenants.service import TenantView

#: Seconds a redeemed (or expired) code is remembered beyond its lifetime, to recognise a replay (R-62).
CODE_REPLAY_WINDOW = 600
#: Prefix of refresh tokens (a format version; lets the revocation endpoint tell them from JWTs).
REFRESH_PREFIX = "r1"
#: ``typ`` of JWT access tokens (RFC 9068 §2.1).
AT_TYP = "at+jwt"
#: Clock skew tolerated when checking ``iat``/``exp`` of our own tokens.
LEEWAY = 5
#: ``aud`` of access tokens that carry the ``admin`` scope: the admin API is their resource server (RFC 9068 §3).
ADMIN_AUDIENCE = "idp-admin"


@dataclass(frozen=True)
class AuthorizationCode(AuthorizationCodeMixin):  # type: ignore[misc]
    """A stored authorization code (Authlib's ``AuthorizationCodeMixin`` and its OIDC extension)."""

    gid: str
    client_id: str
    redirect_uri: str
    scope: str
    user_id: int
    sub: str
    sid: str
    auth_time: int
    expires_at: int
    nonce: str = ""
    acr: str = ""
    amr: tuple[str, ...] = ()
    code_challenge: str = ""
    code_challenge_method: str = ""
    claims_locales: str = ""
    #: The DPoP key the code is bound to (``dpop_jkt``, RFC 9449 §10): its exchange needs a proof by that key.
    dpop_jkt: str = ""

    def to_json(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "AuthorizationCode":
        data = dict(data)
        data["amr"] = tuple(data.get("amr") or ())
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce or None

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str | None:
        return self.acr or None

    def get_amr(self) -> list[str] | None:
        return list(self.amr) or None


@dataclass(frozen=True)
class Grant:
    """What one code exchange granted; the family of its access and refresh tokens."""

    gid: str
    client_id: str
    user_id: int
    sub: str
    scope: str
    sid: str
    auth_time: int
    acr: str
    amr: tuple[str, ...]
    expires_at: int
    #: The DPoP key a public client's refresh tokens are bound to (RFC 9449 §5); empty: unbound.
    jkt: str = ""

    def to_json(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Grant":
        data = dict(data)
        data["amr"] = tuple(data.get("amr") or ())
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class GrantUser:
    """The resource owner as Authlib's grants carry it (``request.user``) through token issuance."""

    user_id: int
    sub: str
    gid: str
    sid: str
    auth_time: int
    acr: str
    amr: tuple[str, ...]
    #: Generation of the refresh token to issue (1 for a code exchange).
    generation: int = 1
    #: The user row, when the ID token needs profile claims (code exchange only).
    row: Any = None
    #: Absolute end of the grant (refresh family), epoch seconds.
    expires_at: int = 0

    def get_user_id(self) -> str:
        return self.sub


@dataclass(frozen=True)
class AccessTokenRecord(TokenMixin):  # type: ignore[misc]
    """A verified JWT access token (Authlib's ``TokenMixin``) for userinfo, introspection and revocation."""

    claims: dict[str, Any]
    client: "ClientView | None" = None
    revoked: bool = False
    kind: str = "access_token"
    user: GrantUser | None = field(default=None, compare=False)

    @property
    def scope(self) -> str:
        return str(self.claims.get("scope", ""))

    def check_client(self, client: "ClientView") -> bool:
        return self.claims.get("client_id") == client.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int(self.claims["exp"]) - int(self.claims["iat"])

    def is_expired(self) -> bool:
        return int(self.claims["exp"]) <= time.time()

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> GrantUser | None:
        return self.user

    def get_client(self) -> "ClientView | None":
        return self.client


@dataclass(frozen=True)
class RefreshTokenRecord(TokenMixin):  # type: ignore[misc]
    """A refresh token presented to the token, revocation or introspection endpoint."""

    grant: Grant
    generation: int
    used: bool = False
    kind: str = "refresh_token"

    def check_client(self, client: "ClientView") -> bool:
        return self.grant.client_id == client.client_id

    def get_scope(self) -> str:
        return self.grant.scope

    def get_expires_in(self) -> int:
        return max(0, self.grant.expires_at - int(time.time()))

    def is_expired(self) -> bool:
        return self.grant.expires_at <= time.time()

    def is_revoked(self) -> bool:
        return self.used

    def get_user(self) -> GrantUser:
        g = self.grant
        return GrantUser(g.user_id, g.sub, g.gid, g.sid, g.auth_time, g.acr, g.amr, self.generation + 1, expires_at=g.expires_at)

    def get_client(self) -> None:
        return None


class TokenService:
    """Codes, grants, refresh tokens and JWT access tokens of every tenant."""

    def __init__(self, store: "EphemeralStore", secrets: "SecretBox", keys: "KeyService", clients: "ClientService") -> None:
        self.store = store
        self.secrets = secrets
        self.keys = keys
        self.clients = clients
        #: DPoP proofs and server nonces (RFC 9449).
        self.dpop = DpopVerifier(store, secrets)
        #: Pushed authorization requests (RFC 9126).
        self.par = PushedRequests(store, secrets)

    # -- authorization codes (RFC 6749 §4.1.2, R-62) ------------------------------------------

    def _code_key(self, tenant: "TenantView", code: str) -> str:
        return f"{tenant.slug}:code:{self.secrets.digest(code, 'authorization-code')}"

    def save_code(self, tenant: "TenantView", code: str, record: AuthorizationCode) -> None:
        """Store a new code for ``tokens.code_ttl`` seconds (kept longer as a replay marker)."""
        ttl = tenant.config.tokens.code_ttl + CODE_REPLAY_WINDOW
        self.store.upsert(self._code_key(tenant, code), record.to_json(), ttl, grant_id=user_label(tenant.slug, record.user_id))

    def redeem_code(self, tenant: "TenantView", code: str, guard: "Guard | None" = None) -> tuple[AuthorizationCode, bool] | None:
        """Consume a code atomically: ``(code, first)``; ``first`` is False on a replay. None if unknown.

        ``guard`` (the fast lane's admin revision) is checked in the same step: :class:`~idp.store.GuardMoved`, the
        code unspent, when it moved."""
        if not code or len(code) > 256:
            return None
        consumed = self.store.consume(self._code_key(tenant, code), guard=guard)
        if consumed is None:
            return None
        return AuthorizationCode.from_json(consumed.payload), consumed.first

    # -- grants ------------------------------------------------------------------------------

    def _grant_key(self, tenant: "TenantView", gid: str) -> str:
        return f"{tenant.slug}:grant:{gid}"

    def _gen_key(self, tenant: "TenantView", gid: str) -> str:
        return f"{tenant.slug}:rtgen:{gid}"

    def save_grant(self, tenant: "TenantView", grant: Grant) -> None:
        """File a grant unconditionally (seeding and tools; a code exchange uses :meth:`save_exchanged_grant`)."""
        ttl = max(1, grant.expires_at - int(time.time()))
        self.store.upsert(self._grant_key(tenant, grant.gid), grant.to_json(), ttl, grant_id=user_label(tenant.slug, grant.user_id))

    def save_exchanged_grant(self, tenant: "TenantView", grant: Grant, code: str) -> bool:
        """File the grant of a code exchange, only while its code's record lives (R-34, R-62).

        Revoking the user removes the code's record (filed under the user's label), so a revocation that ran
        between the code's redemption and now leaves no grant behind: returns False. One round trip on
        SQLite and single-node Redis (the check and the write are one atomic step).
        """
        ttl = max(1, grant.expires_at - int(time.time()))
        return bool(
            self.store.upsert_while_live(
                self._grant_key(tenant, grant.gid), grant.to_json(), ttl, user_label(tenant.slug, grant.user_id), witness=self._code_key(tenant, code)
            )
        )

    def find_grant(self, tenant: "TenantView", gid: str, guard: "Guard | None" = None) -> Grant | None:
        raw = self.store.find_many([self._grant_key(tenant, gid)], guard)[0] if guard is not None else self.store.find(self._grant_key(tenant, gid))
        return Grant.from_json(raw) if raw is not None else None

    def revoke_grant(self, tenant: "TenantView", gid: str) -> None:
        """Revoke a grant: its access tokens turn inactive and its refresh tokens are refused."""
        self.store.destroy(self._grant_key(tenant, gid))
        self.store.destroy(self._gen_key(tenant, gid))

    # -- the grants of one (user, client): what revoking a consent revokes ------------------------------

    def _client_grants_span(self, tenant: "TenantView") -> tuple[int, int]:
        """(lifetime, bucket length) of the (user, client) index: it outlives every grant a code it lists can give."""
        tokens = tenant.config.tokens
        lifetime = tokens.code_ttl + CODE_REPLAY_WINDOW + tokens.refresh_token_ttl + 60
        return lifetime, max(3600, lifetime // 8)

    def _client_grants_key(self, tenant: "TenantView", user_id: int, client_id: str, bucket: int) -> str:
        return f"{tenant.slug}:clientgrants:{user_id}:{client_id}:{bucket}"

    def file_client_grant(self, tenant: "TenantView", record: AuthorizationCode, code: str) -> None:
        """Remember that ``code`` (and the grant its exchange files) went to ``record.client_id`` for ``record.user_id``,
        so :meth:`revoke_client_grants` finds it (authorization endpoint only; the token endpoint writes nothing here).

        Race-free without a read-modify-write: a counter per time bucket numbers the entries (``incr``), each its
        own record; the counter lives a bucket longer than the entries made in its bucket."""
        lifetime, bucket_len = self._client_grants_span(tenant)
        base = self._client_grants_key(tenant, record.user_id, record.client_id, int(time.time()) // bucket_len)
        number = self.store.incr(base, lifetime + bucket_len)
        entry = {"gid": record.gid, "code": self._code_key(tenant, code)}
        self.store.upsert(f"{base}:{number}", entry, lifetime, grant_id=user_label(tenant.slug, record.user_id))

    def revoke_client_grants(self, tenant: "TenantView", user_id: int, client_id: str) -> int:
        """Revoke every code and grant filed by :meth:`file_client_grant` for this user and client: codes not yet
        exchanged are refused, refresh tokens refused, access tokens inactive. Returns how many authorizations it ended."""
        lifetime, bucket_len = self._client_grants_span(tenant)
        now = int(time.time()) // bucket_len
        revoked = 0
        for bucket in range(now - lifetime // bucket_len - 1, now + 1):
            base = self._client_grants_key(tenant, user_id, client_id, bucket)
            count = self.store.counter(base)
            if count <= 0:
                continue
            for entry in self.store.find_many([f"{base}:{n}" for n in range(1, count + 1)]):
                if entry is None:
                    continue
                self.store.destroy(entry["code"])
                self.revoke_grant(tenant, entry["gid"])
                revoked += 1
        return revoked

    # -- refresh tokens (R-63) ------------------------------------------------------------------

    def _mac(self, tenant: "TenantView", gid: str, generation: int) -> str:
        return self.secrets.digest(f"{tenant.slug}.{gid}.{generation}", "refresh-token")

    def make_refresh_token(self, tenant: "TenantView", gid: str, generation: int) -> str:
        return f"{REFRESH_PREFIX}.{gid}.{generation}.{self._mac(tenant, gid, generation)}"

    def parse_refresh_token(self, tenant: "TenantView", token: str) -> tuple[str, int] | None:
        """``(gid, generation)`` of a refresh token minted for this tenant, else None."""
        if not isinstance(token, str) or len(token) > 256:
            return None
        parts = token.split(".")
        if len(parts) != 4 or parts[0] != REFRESH_PREFIX or not parts[2].isdigit():
            return None
        gid, generation = parts[1], int(parts[2])
        if not hmac.compare_digest(parts[3], self._mac(tenant, gid, generation)):
            return None
        return gid, generation

    def load_refresh_token(self, tenant: "TenantView", token: str) -> RefreshTokenRecord | None:
        """The refresh token's record if its grant is live (no state changes)."""
        parsed = self.parse_refresh_token(tenant, token)
        if parsed is None:
            return None
        grant = self.find_grant(tenant, parsed[0])
        if grant is None:
            return None
        used = parsed[1] <= self.store.counter(self._gen_key(tenant, grant.gid))
        return RefreshTokenRecord(grant, parsed[1], used=used)

    def find_refresh_token(self, tenant: "TenantView", token: str, guard: "Guard | None" = None) -> RefreshTokenRecord | None:
        """The record of a refresh token whose grant is live, without reading its generation (``guard``: read with it)."""
        parsed = self.parse_refresh_token(tenant, token)
        if parsed is None:
            return None
        grant = self.find_grant(tenant, parsed[0], guard)
        return RefreshTokenRecord(grant, parsed[1]) if grant is not None else None

    def rotate(self, tenant: "TenantView", record: RefreshTokenRecord) -> bool:
        """Use generation *n* of a family, atomically; False (and the family revoked) when it was already used."""
        ttl = max(1, record.grant.expires_at - int(time.time()))
        if self.store.advance(self._gen_key(tenant, record.grant.gid), record.generation, ttl):
            return True
        self.revoke_grant(tenant, record.grant.gid)
        return False

    # -- JWT access tokens (RFC 9068) -------------------------------------------------------------

    def issue_access_token(
        self, tenant: "TenantView", client: "ClientView", scope: str, user: GrantUser | None, expires_in: int, jkt: str | None = None
    ) -> str:
        """A signed RFC 9068 access token; bound to the user's grant when there is a user, and to the DPoP key
        whose thumbprint is ``jkt`` when given (``cnf``, RFC 9449 §6.1)."""
        key = self.keys.signing_key(tenant)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": tenant.issuer,
            "sub": user.sub if user is not None else client.client_id,
            "aud": ADMIN_AUDIENCE if "admin" in scope.split() else client.client_id,
            "client_id": client.client_id,
            "iat": now,
            "exp": now + expires_in,
            "jti": random_token(16),
            "scope": scope,
        }
        if user is not None:
            claims["auth_time"] = user.auth_time
            if user.acr:
                claims["acr"] = user.acr
            if user.sid:
                claims["sid"] = user.sid
            claims["gid"] = user.gid
        if jkt:
            claims["cnf"] = {"jkt": jkt}
        return key.sign_jwt(claims, AT_TYP)

    def decode_jwt(self, tenant: "TenantView", token: str, typ: str | None = AT_TYP, check_exp: bool = True) -> dict[str, Any] | None:
        """Claims of a JWT this tenant signed (signature, ``iss``, ``typ``, and ``exp`` unless told), else None."""
        if not isinstance(token, str) or token.count(".") != 2 or len(token) > 8192:
            return None
        # the tokens this service mints, verified straight on cryptography; anything else as joserfc decides
        lean = verify_minted(self.keys.verifiers(tenant), token)
        if lean is not None:
            header, claims = lean
        else:
            keys: KeySet = self.keys.verification_keys(tenant)
            try:
                decoded = jwt.decode(token, keys, algorithms=["RS256", "ES256"])
            except (JoseError, ValueError):
                return None
            header, claims = decoded.header, dict(decoded.claims)
        if typ is not None and str(header.get("typ", "")).lower() not in (typ, "application/" + typ):
            return None
        if claims.get("iss") != tenant.issuer:
            return None
        now = time.time()
        try:
            if check_exp and int(claims["exp"]) + LEEWAY <= now:
                return None
            if int(claims.get("iat", 0)) - LEEWAY > now:
                return None
        except (KeyError, TypeError, ValueError):
            return None
        return claims

    def _revoked_key(self, tenant: "TenantView", jti: str) -> str:
        return f"{tenant.slug}:atrev:{jti}"

    def verify_access_token(self, tenant: "TenantView", token: str, guard: "Guard | None" = None) -> AccessTokenRecord | None:
        """A live access token of this tenant: signed by it, unexpired, not revoked, its grant still live.

        ``guard`` (the fast lane's admin revision) is read with the revocation marker and the grant, in one round trip.
        """
        claims = self.decode_jwt(tenant, token)
        if claims is None:
            return None
        client = self.clients.get(tenant, str(claims.get("client_id", "")))
        if client is None:
            return None
        gid = claims.get("gid")
        revoked_key = self._revoked_key(tenant, str(claims.get("jti", "")))
        if gid is None:
            if self.store.find_many([revoked_key], guard)[0] is not None:
                return None
            return AccessTokenRecord(claims, client=client, user=None)
        # The revocation marker and the grant in one store round trip (userinfo and introspection are hot paths).
        revoked, raw_grant = self.store.find_many([revoked_key, self._grant_key(tenant, str(gid))], guard)
        if revoked is not None or raw_grant is None:
            return None
        grant = Grant.from_json(raw_grant)
        if grant.client_id != client.client_id:
            return None
        user = GrantUser(grant.user_id, grant.sub, grant.gid, grant.sid, grant.auth_time, grant.acr, grant.amr)
        return AccessTokenRecord(claims, client=client, user=user)

    def revoke_access_token(self, tenant: "TenantView", claims: dict[str, Any]) -> None:
        """Remember a revoked access token until it would have expired anyway (RFC 7009 §2)."""
        ttl = int(claims["exp"]) - int(time.time()) + LEEWAY
        if ttl > 0:
            self.store.upsert(self._revoked_key(tenant, str(claims["jti"])), {"revoked_at": int(time.time())}, ttl)
