"""Measurements beside the HTTP cases: raw argon2id verify rate, Redis memory per SSO session, scale growth."""

from __future__ import annotations

import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from datetime import UTC
from typing import Any

from bench.env import free_port


def _verify_loop(args: tuple[str, str, float]) -> tuple[int, float]:
    from idp.security.passwords import verify_password

    encoded, password, seconds = args
    n = 0
    c0 = time.process_time()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        verify_password(encoded, password)
        n += 1
    return n, time.process_time() - c0


def argon2_rate(encoded: str, password: str, processes: int, seconds: float) -> dict[str, float]:
    """Raw argon2id verifications at the shipped settings, one process per core: per second, and per CPU-second."""
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        t = time.monotonic()
        parts = pool.map(_verify_loop, [(encoded, password, seconds)] * processes)
        wall = time.monotonic() - t
    n = sum(p[0] for p in parts)
    cpu = sum(p[1] for p in parts)
    return {"verifies_per_s": n / seconds, "verifies_per_cpu_s": n / cpu if cpu else 0.0, "ms_per_verify": 1000 * cpu / n if n else 0.0, "wall": wall}


def sso_memory(services_factory: Any, tenant: Any, users: list[tuple[int, str]], n: int) -> dict[str, Any]:
    """Create ``n`` SSO sessions through :class:`SessionService` on a private Redis; ``INFO memory`` delta / n.

    A private ``redis-server`` (no persistence, loopback, a free port) keeps other engineers' keys out of the
    delta; without the binary, the configured Redis is used and the figure is noisier.
    """
    import redis

    exe = shutil.which("redis-server")
    proc = None
    tmp = tempfile.mkdtemp(prefix="bench-redis-")
    if exe:
        port = free_port()
        proc = subprocess.Popen(
            [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", tmp],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        url = f"redis://127.0.0.1:{port}/0"
        for _ in range(50):
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.1)
    else:
        url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        services = services_factory(url)
        client = redis.Redis.from_url(url)
        client.execute_command("MEMORY", "PURGE") if exe else None
        before = int(client.info("memory")["used_memory"])
        keys_before = client.dbsize()
        sample = None
        for i in range(n):
            uid = users[i % len(users)][0]
            sso = services.sessions.establish(tenant, uid, ["pwd", "otp", "mfa"], "urn:idp:acr:mfa")
            sample = sso
        after = int(client.info("memory")["used_memory"])
        keys_after = client.dbsize()
        key = "idp:{" + services.sessions._key(tenant, sample.token) + "}" if sample else ""
        one = client.memory_usage(key) if key else None
        services.close()
        return {
            "sessions": n,
            "bytes_per_session": (after - before) / n,
            "keys_added": keys_after - keys_before,
            "session_key_bytes": one,
            "redis": "private redis-server" if exe else url,
        }
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def bulk_tenants(services: Any, count: int, batch: int = 2000) -> float:
    """Insert ``count`` tenants with an ES256 key (encrypted per tenant, as the key service stores them) and a client."""
    from datetime import datetime

    from sqlalchemy import insert, select

    from idp.oidc.keys import _purpose, generate_key_pair
    from idp.storage.models import Client, SigningKey, Tenant
    from idp.tenants.config import TenantConfig

    started = time.perf_counter()
    pem, public, _ = generate_key_pair("ES256")
    config = TenantConfig.load({"tokens": {"signing_alg": "ES256"}}).dump()
    now = datetime.now(UTC)
    engine = services.db.engine
    prefix = "s" + os.urandom(3).hex()
    for lo in range(0, count, batch):
        slugs = [f"{prefix}-{i}" for i in range(lo, min(count, lo + batch))]
        with engine.begin() as conn:
            conn.execute(insert(Tenant), [{"slug": s, "display_name": s, "experience": "v2", "config": config, "revision": 1,
                                           "created_at": now, "updated_at": now} for s in slugs])
            ids = conn.execute(select(Tenant.id).where(Tenant.slug.in_(slugs))).scalars().all()
            keys, clients = [], []
            for tid in ids:
                kid = f"k{tid}"
                keys.append({"tenant_id": tid, "kid": kid, "alg": "ES256", "public_jwk": {**public, "kid": kid},
                             "private_key_encrypted": services.secrets.encrypt(pem, _purpose(tid, kid)), "created_at": now, "active_from": now})
                clients.append({"tenant_id": tid, "client_id": "bench", "name": "bench", "secret_hash": "", "redirect_uris": [],
                                "post_logout_redirect_uris": [], "grant_types": ["client_credentials"], "scope": "profile",
                                "token_endpoint_auth_method": "client_secret_basic", "require_pkce": True, "created_at": now})
            conn.execute(insert(SigningKey), keys)
            conn.execute(insert(Client), clients)
    return time.perf_counter() - started


def tenant_slugs(services: Any) -> list[str]:
    from sqlalchemy import select

    from idp.storage.models import Tenant

    with services.db.session() as s:
        return list(s.scalars(select(Tenant.slug)))


def lookup_latency(services: Any, tenant: Any, usernames: list[str], n: int = 300) -> dict[str, float]:
    """In-process ``find_by_login`` (the password step's look-up) for random users: p50 and p99, ms."""
    sample = random.sample(usernames, min(n, len(usernames)))
    times = []
    for name in sample:
        t = time.perf_counter()
        user = services.users.find_by_login(tenant, name)
        times.append(time.perf_counter() - t)
        assert user is not None
    times.sort()
    return {"p50_ms": statistics.median(times) * 1000, "p99_ms": times[int(len(times) * 0.99) - 1] * 1000}
