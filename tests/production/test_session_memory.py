"""Redis memory per SSO session, measured (issue 6, item 1): at most 1 KB, documented in the README.

A Redis of the test's own (nothing else in it) holds the sessions of N users, one session each: the
worst case, since every user's sessions and tokens are also filed under a per-user grant set
(``idp:{<tenant>:user:<id>}``) that a single session does not share. ``used_memory`` from ``INFO
memory`` before and after, divided by N, counts the session record, its key, the grant set and
Redis's own per-key overhead.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import redis
from observability.conftest import RedisServer

N = 1000
LIMIT = 1024


def _used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def test_memory_per_sso_session_is_at_most_1_kb(
    make_services: Callable[..., Any], tenant_factory: Callable[..., Any], redis_server: RedisServer, record_property: Callable[[str, Any], None]
) -> None:
    services = make_services(redis_url=redis_server.url)
    tenant = tenant_factory(services)
    users = [services.users.create(tenant, f"u{i}-{secrets.token_hex(3)}", None, email=f"u{i}@example.org") for i in range(N)]
    client = redis.Redis(port=redis_server.port)
    services.store.ping()  # the store's own connection is open before the first reading
    keys_before = client.dbsize()  # the admin revision counter the tenant's creation bumped
    before = _used_memory(client)
    sessions = [services.sessions.establish(tenant, u.id, ["pwd", "otp", "mfa"], "urn:idp:acr:mfa") for u in users]
    after = _used_memory(client)
    assert client.dbsize() - keys_before == 2 * N  # one session key and one grant set per user, nothing else
    per_session = (after - before) / N
    record_property("redis_bytes_per_sso_session", round(per_session))
    print(f"\nRedis memory per SSO session (one per user, with its grant set): {per_session:.0f} bytes")
    assert per_session <= LIMIT, per_session
    # and the sessions are real: each one is found by its cookie value
    assert services.sessions.find(tenant, sessions[0].token) is not None
    assert services.sessions.find(tenant, sessions[-1].token).user_id == users[-1].id
    client.close()
