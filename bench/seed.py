"""Seeding through the service layer the endpoints use; bulk SQL only where the service would cost hours
(a million users: one precomputed argon2id hash, rows inserted in batches)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from sqlalchemy import insert, select

from idp.oidc.tokens import AuthorizationCode, Grant
from idp.security.passwords import hash_password
from idp.services import Services, build_services

PASSWORD = "bench correct horse battery"
#: One TOTP secret for every seeded user (each user still has its own factor and replay guard).
TOTP_SECRET = base64.b32encode(b"idp-bench-totp-secret-20b").decode().rstrip("=")
REDIRECT_URI = "http://127.0.0.1:9999/cb"
CODE_VERIFIER = "bench-" + "v" * 60
CODE_CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(CODE_VERIFIER.encode()).digest()).rstrip(b"=").decode()
SCOPE = "openid profile email offline_access"
PHONE = "+33612345678"


@dataclass
class Tenant:
    view: Any
    client_id: str
    secret: str
    users: list[tuple[int, str]] = field(default_factory=list)  # (id, username)

    @property
    def slug(self) -> str:
        return str(self.view.slug)


def open_services(settings: Any) -> Services:
    from idp.cli.init import ensure_initialised
    from idp.flowengine.registry import FlowRegistry

    registry = FlowRegistry()
    registry.load_entry_points()
    registry.freeze()
    services = build_services(settings, registry)
    ensure_initialised(services)
    return services


def make_tenant(services: Services, slug: str, alg: str, recovery: bool = False) -> Tenant:
    """A tenant signing with ``alg``, codes valid 10 minutes (pools are minted before a case runs), one client ``bench``
    with the three grants of the peer's client (secret_basic)."""
    config: dict[str, Any] = {"tokens": {"signing_alg": alg, "code_ttl": 600}}
    if recovery:
        config["flows"] = {
            "self-recovery": {
                "enabled": True,
                "settings": {"max_requests_per_ip_per_hour": 100_000, "max_requests_per_login_per_hour": 1_000},
            }
        }
        config["branding"] = {"support_url": "https://support.example.org"}
    view = services.tenants.create(slug, display_name=f"Bench {slug}", config=config)
    _, secret = services.clients.create(
        view, "bench", [REDIRECT_URI], grant_types=["authorization_code", "refresh_token", "client_credentials"], name="bench"
    )
    assert secret is not None
    return Tenant(view=view, client_id="bench", secret=secret)


_HASH_CACHE: dict[str, str] = {}


def precomputed_hash() -> str:
    """One argon2id hash at the shipped settings, reused for bulk-seeded users."""
    if PASSWORD not in _HASH_CACHE:
        _HASH_CACHE[PASSWORD] = hash_password(PASSWORD)
    return _HASH_CACHE[PASSWORD]


def bulk_users(services: Services, tenant: Tenant, count: int, prefix: str = "u", batch: int = 20_000, phone: bool = False) -> float:
    """Add ``count`` users with one precomputed argon2id hash: PostgreSQL ``COPY``, else batched INSERTs.

    Returns the seconds taken. ``tenant.users`` gets the new ``(id, username)`` pairs appended.
    """
    from datetime import datetime

    from sqlalchemy import func

    from idp.storage.models import User

    pw = precomputed_hash()
    started = time.perf_counter()
    ts = datetime.now(UTC)
    start = len(tenant.users)
    engine = services.db.engine
    with services.db.session() as s:
        last_id = s.scalar(select(func.max(User.id))) or 0
    cols = ("tenant_id", "sub", "username", "email", "email_verified", "phone", "phone_verified", "given_name",
            "family_name", "locale", "password_hash", "status", "roles", "created_at", "updated_at")
    for lo in range(start, start + count, batch):
        rows = [
            (tenant.view.id, str(uuid.uuid4()), f"{prefix}{i}", f"{prefix}{i}@bench.example", True,
             phone_for(i) if phone else None, phone, "Bench", f"{prefix}{i}", "en", pw, "active", "[]", ts, ts)
            for i in range(lo, min(start + count, lo + batch))
        ]
        if engine.dialect.name == "postgresql":
            raw = engine.raw_connection()
            try:
                with raw.cursor() as cur, cur.copy(f"COPY users ({', '.join(cols)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                    for row in rows:
                        copy.write_row(row)
                raw.commit()
            finally:
                raw.close()
        else:
            with engine.begin() as conn:
                conn.execute(insert(User), [dict(zip(cols, (*r[:12], [], r[13], r[14]))) for r in rows])
    if engine.dialect.name == "postgresql":
        # As after any bulk load: fresh planner statistics (autovacuum would get there later).
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE users")
            conn.commit()
    with services.db.session() as s:
        got = s.execute(
            select(User.id, User.username, User.email).where(User.tenant_id == tenant.view.id, User.id > last_id).order_by(User.id)
        ).all()
    _file_identifiers(engine, tenant.view.id, got, batch)
    tenant.users.extend((int(i), str(n)) for i, n, _ in got)
    return time.perf_counter() - started


def _file_identifiers(engine: Any, tenant_id: int, users: list[Any], batch: int) -> None:
    """The sign-in identifiers of bulk-loaded users (username and email, canonical forms), as
    :class:`~idp.accounts.users.UserService` files them, so look-ups find them."""
    from idp.identifiers import EMAIL, USERNAME, canonical_email, canonical_username
    from idp.storage.models import UserIdentifier

    cols = ("tenant_id", "user_id", "kind", "value")
    rows = [(tenant_id, int(i), USERNAME, canonical_username(n)) for i, n, _ in users]
    rows += [(tenant_id, int(i), EMAIL, canonical_email(e)) for i, _, e in users if e]
    for lo in range(0, len(rows), batch):
        chunk = rows[lo : lo + batch]
        if engine.dialect.name == "postgresql":
            raw = engine.raw_connection()
            try:
                with raw.cursor() as cur, cur.copy(f"COPY user_identifiers ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in chunk:
                        copy.write_row(row)
                raw.commit()
            finally:
                raw.close()
        else:
            with engine.begin() as conn:
                conn.execute(insert(UserIdentifier), [dict(zip(cols, r)) for r in chunk])
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE user_identifiers")
            conn.commit()


def phone_for(i: int) -> str:
    """A distinct French mobile number per seeded user (E.164), so each user's SMS can be told apart."""
    return f"+3361{i % 10_000_000:07d}"


def add_factors(services: Services, tenant: Tenant, users: list[tuple[int, str]], sms: bool = False, threads: int = 4) -> None:
    """A TOTP factor (the shared secret) for each user through the factor service; an SMS factor too when asked."""

    def one(u: tuple[int, str]) -> None:
        user = services.users.get(tenant.view, u[0])
        services.factors.add_totp(tenant.view, user, secret=TOTP_SECRET, label="bench", actor="bench")
        if sms:
            services.factors.set_phone(tenant.view, user, user.phone, actor="bench")

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, users))


def add_passkeys(services: Services, tenant: Tenant, users: list[tuple[int, str]], threads: int = 4) -> list[Any]:
    """A passkey (a :class:`bench.softkey.SoftPasskey`) for each user, registered through the factor service's ceremony."""
    from bench.softkey import SoftPasskey

    factors = services.factors

    def one(u: tuple[int, str]) -> Any:
        user = services.users.get(tenant.view, u[0])
        key = SoftPasskey(factors.rp_id(tenant.view), factors.expected_origin(tenant.view))
        options = factors.begin_passkey_registration(tenant.view, user)
        factors.finish_passkey_registration(tenant.view, user, options.ceremony, key.register(options.options_json), label="bench", actor="bench")
        return key

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, users))


def mint_codes(services: Services, tenant: Tenant, n: int, threads: int = 8) -> list[str]:
    """``n`` authorization codes saved with :meth:`TokenService.save_code`, as the authorization endpoint does."""
    tokens = services.tokens
    view = tenant.view
    users = tenant.users or [(0, "")]
    subs = _subs(services, tenant, users[:1000])

    def one(i: int) -> str:
        uid = users[i % min(len(users), 1000)][0]
        code = secrets.token_urlsafe(32)
        now = int(time.time())
        record = AuthorizationCode(
            gid=secrets.token_urlsafe(16),
            client_id=tenant.client_id,
            redirect_uri=REDIRECT_URI,
            scope=SCOPE,
            user_id=uid,
            sub=subs[uid],
            sid=secrets.token_urlsafe(16),
            auth_time=now,
            expires_at=now + view.config.tokens.code_ttl,
            nonce="n-" + str(i),
            acr="urn:idp:acr:pwd",
            amr=("pwd",),
            code_challenge=CODE_CHALLENGE,
            code_challenge_method="S256",
        )
        tokens.save_code(view, code, record)
        return code

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(n)))


def mint_refresh_tokens(services: Services, tenant: Tenant, n: int, threads: int = 8) -> list[str]:
    """``n`` refresh tokens of ``n`` grants, filed with :meth:`TokenService.save_grant` as a code exchange does."""
    tokens = services.tokens
    view = tenant.view
    users = tenant.users or [(0, "")]
    subs = _subs(services, tenant, users[:1000])

    def one(i: int) -> str:
        uid = users[i % min(len(users), 1000)][0]
        gid = secrets.token_urlsafe(16)
        now = int(time.time())
        grant = Grant(
            gid=gid, client_id=tenant.client_id, user_id=uid, sub=subs[uid], scope=SCOPE, sid=secrets.token_urlsafe(16),
            auth_time=now, acr="urn:idp:acr:pwd", amr=("pwd",), expires_at=now + view.config.tokens.refresh_token_ttl,
        )
        tokens.save_grant(view, grant)
        return tokens.make_refresh_token(view, gid, 1)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(n)))


def _subs(services: Services, tenant: Tenant, users: list[tuple[int, str]]) -> dict[int, str]:
    from idp.storage.models import User

    ids = [u[0] for u in users]
    with services.db.session() as s:
        return {int(i): str(sub) for i, sub in s.execute(select(User.id, User.sub).where(User.id.in_(ids))).all()}
