"""Brute-force throttling: growing delays, expiry, no malicious lockout, limits shared by workers (R-06, R-27, R-83)."""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

import pytest
import redis
from conftest import REDIS_URL
from support.builders import make_site

from factors.conftest import Fx
from idp.security import throttle as th

ATTACKER = "203.0.113.7"
OWNER = "198.51.100.20"


def test_delay_schedule_grows_from_30s_to_1h_r06() -> None:
    """R-06: free tries, then delays doubling from 30 s, never above 1 h."""
    delays = [th.ip_delay(n) for n in range(1, 20)]
    assert delays[: th.FREE_FAILURES] == [0] * th.FREE_FAILURES
    assert delays[th.FREE_FAILURES : th.FREE_FAILURES + 4] == [30, 60, 120, 240]
    assert max(delays) == 3600 and delays == sorted(delays)
    assert max(th.account_delay(n) for n in range(1, 500)) == th.ACCOUNT_MAX_DELAY


def test_failures_impose_growing_waits_and_success_resets_r06_r83(fx: Fx) -> None:
    user = fx.user()
    t = fx.services.throttle
    waits = [t.record_failure(fx.tenant, user.id, "totp", ATTACKER).wait for _ in range(th.FREE_FAILURES + 3)]
    assert waits == [0] * th.FREE_FAILURES + [30, 60, 120]
    assert 110 <= t.check(fx.tenant, user.id, "totp", ATTACKER) <= 120
    assert t.check(fx.tenant, user.id, "password", ATTACKER) == 0  # per factor
    assert "login.lockout" in fx.audit_types(user)
    t.record_success(fx.tenant, user.id, "totp", ATTACKER)
    assert t.check(fx.tenant, user.id, "totp", ATTACKER) == 0
    assert t.failures(fx.tenant, user.id, "totp", ATTACKER) == (0, 0)


def test_attacker_cannot_lock_the_owner_out_r27(fx: Fx) -> None:
    """R-27: an attacker's failures delay the attacker's address; the owner's address is only slowed, then not at all once trusted."""
    user = fx.user()
    t = fx.services.throttle
    t.record_success(fx.tenant, user.id, "password", OWNER)  # the owner signed in from here before
    for _ in range(th.MAX_CONSECUTIVE_FAILURES):
        t.record_failure(fx.tenant, user.id, "password", ATTACKER)
    assert t.check(fx.tenant, user.id, "password", ATTACKER) > 3000
    assert t.check(fx.tenant, user.id, "password", OWNER) == 0
    # an address never seen before is held back after 100 consecutive failures, for a bounded time
    wait = t.check(fx.tenant, user.id, "password", "192.0.2.99")
    assert 0 < wait <= th.WINDOW


def test_a_correct_password_never_lifts_the_second_factor_stop_r06_r83(fx: Fx) -> None:
    """R-06, R-83: whoever types the second factor already has the password; passing the password from an
    address must not exempt that address from the second factor's account-wide 100-failure stop."""
    user = fx.user()
    t = fx.services.throttle
    for kind in ("totp", "sms"):
        for i in range(th.MAX_CONSECUTIVE_FAILURES):
            t.record_failure(fx.tenant, user.id, kind, f"198.51.100.{i % 250}")
        t.record_success(fx.tenant, user.id, "password", ATTACKER)  # the attacker knows the password
        assert t.check(fx.tenant, user.id, kind, ATTACKER) > 3000
        assert t.record_failure(fx.tenant, user.id, kind, ATTACKER).wait > 3000


def test_unknown_logins_are_throttled_like_accounts_r28(fx: Fx) -> None:
    """R-28: a login that matches no account is counted the same way (no difference to observe)."""
    t = fx.services.throttle
    for _ in range(th.FREE_FAILURES + 1):
        verdict = t.record_failure(fx.tenant, "nobody@example.org", "password", ATTACKER)
    assert verdict.wait == 30
    assert t.check(fx.tenant, "NOBODY@example.org ", "password", ATTACKER) > 0


def test_never_more_than_100_consecutive_failures_from_new_addresses_r06(fx: Fx) -> None:
    """R-06: after 100 consecutive failures of one factor, addresses without a recent sign-in must wait."""
    user = fx.user()
    t = fx.services.throttle
    for i in range(th.MAX_CONSECUTIVE_FAILURES):
        t.record_failure(fx.tenant, user.id, "sms", f"10.0.{i // 250}.{i % 250}")
    assert t.check(fx.tenant, user.id, "sms", "10.9.9.9") > 0
    assert t.check(fx.tenant, user.id, "totp", "10.9.9.9") == 0


def test_counters_and_delays_expire_by_themselves_r27(make_fx: Any) -> None:
    """R-27: every throttle record in Redis carries a TTL no longer than the window: nothing locks forever."""
    fx = make_fx("redis")
    user = fx.user()
    for _ in range(th.FREE_FAILURES + 6):
        fx.services.throttle.record_failure(fx.tenant, user.id, "totp", ATTACKER)
    client = redis.Redis.from_url(REDIS_URL)
    keys = client.keys("idp:{" + fx.tenant.slug + ":throttle:*")
    assert keys
    ttls = [client.ttl(k) for k in keys]
    assert all(0 < ttl <= th.WINDOW for ttl in ttls), ttls
    client.close()


def _worker(settings: Any, slug: str, user_id: int, count: int, queue: Any) -> None:
    """A separate worker process: its own app and service layer over the shared store."""
    from idp import create_app

    app = create_app(settings)
    services = app.extensions["idp"]
    tenant = services.tenants.require(slug)
    waits = [services.throttle.record_failure(tenant, user_id, "totp", ATTACKER).wait for _ in range(count)]
    queue.put((waits, services.throttle.check(tenant, user_id, "totp", ATTACKER)))
    services.close()


@pytest.mark.parametrize("backend", ["embedded", "redis"])
def test_lockout_delays_hold_across_two_worker_processes_r06(make_fx: Any, backend: str) -> None:
    """R-06: two worker processes sharing the store add up their failures; the delay one imposes the other sees."""
    fx = make_fx(backend)
    user = fx.user()
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(fx.services.settings, fx.tenant.slug, user.id, 3, queue)) for _ in range(2)
    ]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    all_waits = sorted(w for waits, _ in results for w in waits)
    # six failures in all: four free, then 30 s and 60 s, whichever process made them
    assert all_waits == [0, 0, 0, 0, 30, 60]
    assert fx.services.throttle.failures(fx.tenant, user.id, "totp", ATTACKER) == (6, 6)
    assert fx.services.throttle.check(fx.tenant, user.id, "totp", ATTACKER) > 0


@pytest.mark.parametrize("backend", ["embedded", "redis"])
def test_a_parallel_burst_gets_no_more_than_the_free_tries_r06_r27(make_live_server: Any, backend: str) -> None:
    """R-06, R-27: twenty wrong passwords posted at once from one address, over real HTTP: no more attempts are
    evaluated than the free tries plus the one that starts the delay; the others are told to wait (429). Checking
    and counting an attempt is one atomic step on both stores (it used to let the whole burst through)."""
    server = make_live_server(**({"redis_url": REDIS_URL} if backend == "redis" else {}))
    site = make_site(server)
    burst = 20
    browsers = [site.browser() for _ in range(burst)]
    pages = [site.walker(b).open_login() for b in browsers]
    go = threading.Barrier(burst)
    statuses: list[int] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        go.wait()
        r = site.walker(browsers[i]).post_login(pages[i], site.username, f"wrong password number {i}")
        with lock:
            statuses.append(r.status_code)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(burst)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    user = site.services.users.by_username(site.tenant, site.username)
    evaluated = [e for e in site.services.audit.query(site.tenant.id, user_id=user.id, limit=100) if e.type == "login.password_failed"]
    assert len(statuses) == burst and all(s in (200, 400, 429) for s in statuses), statuses
    assert 1 <= len(evaluated) <= th.FREE_FAILURES + 1, (len(evaluated), statuses)
    assert statuses.count(429) == burst - len(evaluated)
    assert site.services.throttle.failures(site.tenant, user.id, "password", "127.0.0.1") == (len(evaluated), len(evaluated))


@pytest.mark.parametrize("backend", ["embedded", "redis"])
def test_attempts_racing_from_many_addresses_cannot_pass_the_account_stop_together_r06(make_fx: Any, backend: str) -> None:
    """R-06: one failure short of the 100-failure stop, ten attempts from ten new addresses at once: one is
    evaluated, the others wait for it (before, all ten were, and the stop was passed by nine)."""
    fx = make_fx(backend)
    user = fx.user()
    t = fx.services.throttle
    acct_n = t._keys(fx.tenant, user.id, "totp", ATTACKER)[0]
    for _ in range(th.MAX_CONSECUTIVE_FAILURES - 1):
        fx.services.store.incr(acct_n, th.WINDOW)
    verdicts: list[int] = []
    threads = [threading.Thread(target=lambda i=i: verdicts.append(t.check(fx.tenant, user.id, "totp", f"192.0.2.{i}"))) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(verdicts) == [0] + [th.IN_FLIGHT_WAIT] * 9
