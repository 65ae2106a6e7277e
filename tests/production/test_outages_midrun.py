"""Redis, PostgreSQL, SES and SNS going away in the middle of a run of logins and recoveries (R-95).

``tests/observability/test_faults.py`` proves single requests against a dependency that is down.
Here a stream of real walks (password + TOTP logins through an RP, second-factor recoveries by
email link and SMS, see :mod:`production.walkers`) runs on a live server while the test kills the
dependency and brings it back:

- every answer is a success or a clean 503 / ``temporarily_unavailable`` (never a 500);
- no login completes that skipped a check (every ID token says ``otp`` and ``mfa``);
- afterwards every account is as it should be: login users keep their factors and password;
  a recovery account has either its old factors, or (once a recovery went through) exactly the
  authenticator that walk enrolled; no password changes;
- the service recovers by itself: ``/readyz`` is 200 again and logins succeed after the outage.

Redis: a ``redis-server`` of the test's own, killed and restarted empty on the same port. PostgreSQL:
a TCP proxy of the test's own in front of the real server (``IDP_TEST_DATABASE_URL``, else the
``scripts/test`` default ``postgresql://postgres@127.0.0.1:5432/test``), closed (listener and every
connection) and reopened. SES and SNS: the ``aws_proxy`` in front of moto answering 503s.
"""

from __future__ import annotations

import os
import random
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pyotp
import pytest
import requests
from conftest import LiveServer, free_port, random_slug
from support.builders import PASSWORD, Realm, make_realm

from idp.messaging.outbox import read_outbox
from production.conftest import RedisServer
from production.walkers import LoginUser, Outcome, RecoveryAccount, UserPool, login, recover, summary

LOGIN_USERS = 40
#: Pause after each login: each user signs in at most once per TOTP step, so an unpaced walk on a fast
#: machine could spend every lendable user before the fault and attempt no login during the outage.
LOGIN_PACE = 0.3
RECOVERY_ACCOUNTS = 8


def _setup(server: LiveServer) -> tuple[Realm, UserPool, list[RecoveryAccount]]:
    services = server.services
    config = {
        "mfa": {"policy": "required"},
        "sms": {"resend_cooldown": 0},
        "flows": {"self-recovery": {"enabled": True, "settings": {"max_requests_per_ip_per_hour": 10000}}},
    }
    realm = make_realm(server, random_slug("out"), config)
    tenant = realm.tenant
    users = []
    for i in range(LOGIN_USERS):
        user = services.users.create(tenant, f"login{i}", PASSWORD, email=f"login{i}@example.org")
        _, uri = services.factors.add_totp(tenant, user)
        users.append(LoginUser(user.username, pyotp.parse_uri(uri)))
    accounts = []
    for i in range(RECOVERY_ACCOUNTS):
        phone = "+3361" + "".join(random.choice("0123456789") for _ in range(7))
        email = f"rec{i}.{tenant.slug}@example.org"
        user = services.users.create(tenant, f"rec{i}", PASSWORD, email=email, phone=phone)
        services.factors.set_phone(tenant, user, phone)
        services.factors.add_totp(tenant, user, label="old phone")
        ids = {f.id for f in services.factors.active(tenant, user)}
        accounts.append(RecoveryAccount(tenant, user, user.username, email, phone, ids))
    return realm, UserPool(users, reserved=6), accounts  # six users kept for the logins after the outage


def _run(
    server: LiveServer,
    realm: Realm,
    pool: UserPool,
    accounts: list[RecoveryAccount],
    fault: Callable[[], None],
    heal: Callable[[], None],
    fault_at: float = 3.0,
    heal_at: float = 6.5,
    run_for: float = 12.0,
    login_threads: int = 2,
) -> tuple[list[Outcome], float, float]:
    """Walk logins (``login_threads``) and recoveries (one thread) until ``run_for`` s, and at least one
    login has succeeded after ``heal`` (at most 25 s more); returns outcomes and the fault/heal times."""
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    start = time.monotonic()
    times = {"fault": float("inf"), "heal": float("inf")}
    stop = threading.Event()

    def record(o: Outcome) -> None:
        with lock:
            outcomes.append(o)

    def logins() -> None:
        while not stop.is_set():
            user = pool.borrow(time.monotonic() + 5)
            if user is None:
                continue
            try:
                outcome = login(realm, user, PASSWORD)
                record(outcome)
            finally:
                pool.give_back(user)
            time.sleep(LOGIN_PACE if outcome.kind == "ok" else 0.2)  # a person tries again a moment later

    def read(to: str, kind: str) -> list[Any]:
        return read_outbox(server.services.settings.outbox_path, to=to, kind=kind)

    def recoveries() -> None:
        while not stop.is_set():
            free = [a for a in accounts if not a.busy and not a.completed_seen and a.new_secret is None]
            if not free:
                time.sleep(0.2)
                continue
            account = free[0]
            account.busy = True
            try:
                outcome = recover(server.url, account, PASSWORD, read)
                record(outcome)
            finally:
                account.busy = False
            if outcome.kind != "ok":
                time.sleep(0.2)

    threads = [threading.Thread(target=logins, daemon=True) for _ in range(login_threads)]
    threads.append(threading.Thread(target=recoveries, daemon=True))
    for t in threads:
        t.start()
    try:
        time.sleep(fault_at)
        times["fault"] = time.monotonic()
        fault()
        time.sleep(heal_at - fault_at)
        heal()
        times["heal"] = time.monotonic()
        pool.release_reserved()
        deadline = start + run_for + 25
        while time.monotonic() < deadline:
            with lock:
                healed = any(o.kind == "ok" and o.what == "login" and o.at > times["heal"] for o in outcomes)
            if healed and time.monotonic() > start + run_for:
                break
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    return outcomes, times["fault"], times["heal"]


def _assert_run(server: LiveServer, realm: Realm, pool: UserPool, accounts: list[RecoveryAccount], outcomes: list[Outcome], healed_at: float) -> None:
    counts = summary(outcomes)
    print("\noutcomes:", dict(counts))
    bad = [o for o in outcomes if o.kind in ("error", "violation")]
    assert not bad, bad[:5]
    assert counts[("login", "ok")] >= 3 and counts[("login", "unavailable")] >= 1, counts
    assert any(o.kind == "ok" and o.what == "login" and o.at > healed_at for o in outcomes), "no login after the outage"
    assert requests.get(f"{server.url}/readyz", timeout=10).status_code == 200
    # every ID token issued during the run proved both factors and verifies against the JWKS
    for o in outcomes:
        if o.token is not None:
            claims = realm.verify(o.token["id_token"])
            assert {"pwd", "otp", "mfa"} <= set(claims["amr"]) and claims["acr"] == "urn:idp:acr:mfa", claims
    services, tenant = server.services, realm.tenant
    # login users: factors and password unchanged
    for u in pool.users:
        user = services.users.by_username(tenant, u.username)
        assert services.users.verify_password(user, PASSWORD)
        active = services.factors.active(tenant, user)
        assert [f.type for f in active] == ["totp"] and services.factors._open(active[0]) == u.totp.secret
    # recovery accounts: the old factors, or only the authenticator their walk enrolled; never a mix
    for a in accounts:
        user = services.users.get(tenant, a.user.id)
        assert services.users.verify_password(user, PASSWORD)
        active = services.factors.active(tenant, user)
        ids = {f.id for f in active}
        if a.completed_seen:
            assert len(active) == 1 and active[0].type == "totp" and services.factors._open(active[0]) == a.new_secret
        elif ids != a.old_factor_ids:
            # only a walk whose final post met the outage may have committed its new authenticator
            assert a.final_post_unclear and len(active) == 1 and services.factors._open(active[0]) == a.new_secret, (a, active)


def _server_errors(server: LiveServer) -> dict[Any, float]:
    """Responses counted with a 5xx status other than 503, by series."""
    from observability.conftest import scrape

    samples = scrape(server.url)
    return {
        k: v
        for k, v in samples.items()
        if k[0] == "idp_http_requests_total" and dict(k[1]).get("status", "").startswith("5") and dict(k[1]).get("status") != "503"
    }


def _no_500s(server: LiveServer, before: dict[Any, float]) -> None:
    """No 5xx but 503 since ``before``: the in-process server shares its process's metrics with every earlier
    test of this pytest worker (one of which provokes a 500 on purpose), so only the run's own count is checked."""
    after = _server_errors(server)
    new = {k: v - before.get(k, 0.0) for k, v in after.items() if v > before.get(k, 0.0)}
    assert not new, new


def test_redis_stopped_and_restarted_during_logins_and_recoveries(make_live_server: Callable[..., LiveServer], redis_server: RedisServer) -> None:
    server = make_live_server(redis_url=redis_server.url)
    realm, pool, accounts = _setup(server)
    errors_before = _server_errors(server)
    outcomes, _, healed = _run(server, realm, pool, accounts, fault=redis_server.stop, heal=redis_server.start)
    _assert_run(server, realm, pool, accounts, outcomes, healed)
    _no_500s(server, errors_before)
    assert summary(outcomes)[("recovery", "ok")] >= 1


# -- PostgreSQL behind a TCP proxy the test can close ----------------------------------------------


class TcpProxy:
    """Forwards a loopback port to PostgreSQL; ``close`` refuses new connections and cuts every open one."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._socks: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.open()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.1)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                self._socks.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            socks, self._socks = self._socks, set()
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


PG_URL = os.environ.get("IDP_TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def pg_behind_proxy() -> Iterator[tuple[str, TcpProxy]]:
    """A fresh schema on the real PostgreSQL, reached through a :class:`TcpProxy`; the app's URL goes through the proxy."""
    try:
        conn = psycopg.connect(PG_URL, connect_timeout=5, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.fail(f"this test needs PostgreSQL ({PG_URL}; scripts/test uses it when it answers): {exc}")
    schema = "t_" + uuid.uuid4().hex[:12]
    conn.execute(f'CREATE SCHEMA "{schema}"')
    info = conn.info
    proxy = TcpProxy((info.host if info.host.startswith("/") is False else "127.0.0.1", info.port))
    user = info.user
    url = f"postgresql://{user}@127.0.0.1:{proxy.port}/{info.dbname}?options=-csearch_path%3D{schema}"
    try:
        yield url, proxy
    finally:
        proxy.close()
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()


def test_postgresql_unreachable_during_logins_and_recoveries(make_live_server: Callable[..., LiveServer], pg_behind_proxy: tuple[str, TcpProxy]) -> None:
    url, proxy = pg_behind_proxy
    server = make_live_server(database_url=url)
    realm, pool, accounts = _setup(server)
    errors_before = _server_errors(server)
    outcomes, _, healed = _run(server, realm, pool, accounts, fault=proxy.close, heal=proxy.open)
    _assert_run(server, realm, pool, accounts, outcomes, healed)
    _no_500s(server, errors_before)


# -- SES and SNS outages -------------------------------------------------------------------------------


def _aws_503(service_json: bool) -> tuple[int, dict[str, str], bytes]:
    if service_json:  # SES v2 (REST-JSON)
        return 503, {"x-amzn-ErrorType": "ServiceUnavailable:http://internal.amazon.com/", "Content-Type": "application/json"}, b'{"message":"Service is unavailable"}'
    body = (
        b'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Receiver</Type>'
        b"<Code>ServiceUnavailable</Code><Message>Service is unavailable</Message></Error>"
        b"<RequestId>5d3c1e2a-0000-4000-8000-000000000001</RequestId></ErrorResponse>"
    )
    return 503, {"Content-Type": "text/xml"}, body


def test_ses_and_sns_outages_leave_the_recovery_retryable_and_the_account_unchanged(
    aws_proxy: Any, aws_env: Any, make_live_server: Callable[..., LiveServer]
) -> None:
    """SES down: the request page answers as always, no link is left valid, nothing changes; when SES is back
    a new request works. SNS down at the SMS step: a clear "cannot send" page, nothing changes; a new run works."""
    from plugins.aws import SES_SEND_EMAIL

    from production.walkers import RecoveryAccount as Acc

    server = make_live_server(mail_backend="ses", sms_backend="sns")
    services = server.services
    tenant = services.tenants.create(
        random_slug("aws"), config={"flows": {"self-recovery": {"enabled": True, "settings": {}}}, "sms": {"resend_cooldown": 0}}
    )
    phone = "+3361" + "".join(secrets.choice("0123456789") for _ in range(7))
    email = f"carol.{tenant.slug}@example.org"
    user = services.users.create(tenant, "carol", PASSWORD, email=email, phone=phone)
    services.factors.set_phone(tenant, user, phone)
    old_totp, _ = services.factors.add_totp(tenant, user, label="old phone")
    before = {f.id for f in services.factors.active(tenant, user)}
    account = Acc(tenant, user, "carol", email, phone, before)

    def read(to: str, kind: str) -> list[Any]:
        if kind == "email":
            return [type("M", (), {"text": m.body})() for m in aws_env.sent_emails(to)]
        return [type("M", (), {"text": m.message})() for m in aws_env.sent_sms(to)]

    # SES down for every attempt of the mailer (it retries)
    aws_proxy.fail_next(SES_SEND_EMAIL, 100, _aws_503(True))
    down = recover(server.url, account, PASSWORD, read, wait=3.0)
    assert down.kind == "lost" and "no link mailed" in down.detail, down
    from flows.self_recovery import requests as recovery_requests

    recovery_requests.drain()
    types = [e.type for e in services.audit.query(tenant.id, user_id=user.id, limit=50)]
    assert "recovery.email_failed" in types and "recovery.email_sent" not in types
    assert {f.id for f in services.factors.active(tenant, user)} == before
    assert len(aws_proxy.calls(SES_SEND_EMAIL)) >= 2  # the mailer retried before giving up

    # SES back, SNS down: the link arrives, the SMS step cannot send; nothing changes
    aws_proxy._rules.clear()
    aws_proxy.fail_next("Publish", 100, _aws_503(False))
    sns_down = recover(server.url, account, PASSWORD, read, wait=3.0)
    assert sns_down.kind == "lost", sns_down
    assert sns_down.detail.startswith(("no SMS page", "no SMS")), sns_down
    assert {f.id for f in services.factors.active(tenant, user)} == before
    assert services.users.verify_password(services.users.get(tenant, user.id), PASSWORD)

    # both back: the same person recovers with a new run
    aws_proxy._rules.clear()
    done = recover(server.url, account, PASSWORD, read, wait=10.0)
    assert done.kind == "ok", done
    active = services.factors.active(tenant, user)
    assert len(active) == 1 and services.factors._open(active[0]) == account.new_secret and old_totp.id not in {f.id for f in active}
