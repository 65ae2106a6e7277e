"""Two IdP nodes, one Redis, one database: state follows the browser, limits add up (issue 6, tests).

Two ``idp serve`` processes (granian; node A with two workers, node B with one) on their own ports
share a Redis of the test's own and one database: PostgreSQL (a fresh schema) when
``IDP_TEST_DATABASE_URL`` is set, which ``scripts/test`` does when PostgreSQL answers; otherwise one
SQLite file that both nodes open (same host, so the proof of shared state still holds, but not the
PostgreSQL path). Both nodes have the same secret key and public URL, as replicas behind a load
balancer; the test plays the load balancer by choosing the node of every request. Mail and SMS go
to the dev outbox in a folder both nodes share.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pyotp
import pytest
import requests
from conftest import LiveServer, free_port, random_slug
from sqlalchemy import create_engine, text
from support.builders import PASSWORD, make_realm
from support.walkers import fresh_totp

from idp.security.throttle import FREE_FAILURES
from production.browsing import browser, mfa_login, nodes_cycle, on, submit
from production.conftest import RedisServer
from production.nodes import (
    Deployment,
    Node,
    outbox,
    shared_database_url,
    wait_for_message,
)

PHONE = "+33612345678"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    folder = tmp_path_factory.mktemp("two-nodes")
    redis_server = RedisServer(free_port())
    redis_server.start()
    port_a = free_port()
    d = Deployment(folder, shared_database_url(folder), redis_server.url, f"http://127.0.0.1:{port_a}", folder / "instance")
    try:
        init = d.run_cli("init")
        assert init.returncode == 0, init.stderr.decode()
        d.start_node("a", port_a, workers=2)
        d.start_node("b")
        yield d
    finally:
        d.close()
        redis_server.stop()


@pytest.fixture
def a(deployment: Deployment) -> Node:
    return deployment.nodes[0]


@pytest.fixture
def b(deployment: Deployment) -> Node:
    return deployment.nodes[1]


def _realm(deployment: Deployment, config: dict[str, Any] | None = None) -> Any:
    services = deployment.test_services()
    return make_realm(LiveServer(url=deployment.nodes[0].url, app=None, services=services), random_slug("two"), config)


def test_a_login_started_on_a_finishes_on_b(deployment: Deployment, a: Node, b: Node) -> None:
    """Authorization request and sign-in page on A, password on B, TOTP on A, resume and token on B."""
    realm = _realm(deployment, {"mfa": {"policy": "required"}})
    _, uri = realm.services.factors.add_totp(realm.tenant, realm.user)
    session = browser()
    hops = iter([a.url, a.url, b.url, a.url, b.url, b.url, b.url, b.url])
    token, claims = mfa_login(realm, session, hops, "alice", PASSWORD, pyotp.parse_uri(uri))
    assert set(claims["amr"]) >= {"pwd", "otp", "mfa"} and claims["acr"] == "urn:idp:acr:mfa"
    # the token from B works at A, and the SSO session made on B is seen by A: no new sign-in there
    assert requests.get(on(a.url, realm.endpoint("userinfo")), headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10).status_code == 200
    rp = realm.rp("web")
    url, _ = rp.create_authorization_url(on(a.url, realm.endpoint("auth")), code_verifier="v" * 48, nonce="n" * 16)
    again = session.get(url, allow_redirects=False, timeout=10)
    assert again.status_code == 302 and again.headers["Location"].startswith("https://rp.example.com/callback?code=")
    # both nodes publish the same keys
    assert requests.get(on(a.url, realm.endpoint("certs")), timeout=10).json() == requests.get(on(b.url, realm.endpoint("certs")), timeout=10).json()


def test_a_recovery_link_requested_on_a_is_used_on_b(deployment: Deployment, a: Node, b: Node) -> None:
    """R-96..R-98 across nodes: link requested on A (sent by A's worker), opened on B, password on A, SMS on B, new TOTP on A."""
    services = deployment.test_services()
    tenant = services.tenants.create(
        random_slug("rec"), config={"flows": {"self-recovery": {"enabled": True, "settings": {}}}, "sms": {"resend_cooldown": 0}}
    )
    email = f"bob.{tenant.slug}@example.org"
    user = services.users.create(tenant, "bob", PASSWORD, email=email, phone=PHONE)
    services.factors.set_phone(tenant, user, PHONE)
    old_totp, _ = services.factors.add_totp(tenant, user, label="old phone")
    old_session = services.sessions.establish(tenant, user.id, ["pwd", "otp", "mfa"], "urn:idp:acr:mfa")

    session = browser()
    page = session.get(f"{a.realm(tenant.slug)}/flow/self-recovery", timeout=30)
    assert page.status_code == 200
    sent = submit(session, page, a.url, login="bob")
    assert sent.status_code in (200, 303), sent.text[:500]
    mail = wait_for_message(services, email, "email", 1)
    link = html.unescape(re.search(r"https?://\S+/flow/self-recovery/enter\?token=[A-Za-z0-9_\-]+", mail.text).group(0))
    assert link.startswith(a.url)  # built from the public URL, whichever node sent it
    opened = session.get(on(b.url, link), timeout=30)
    assert opened.status_code == 200 and "token=" not in opened.url and on(b.url, opened.url) == opened.url
    choice = submit(session, opened, b.url, path="second-factor")
    page = session.get(on(b.url, urljoin_location(choice)), timeout=30) if choice.status_code in (302, 303) else choice
    assert 'type="password"' in page.text
    r = submit(session, page, a.url, password=PASSWORD)
    page = session.get(on(a.url, urljoin_location(r)), timeout=30) if r.status_code in (302, 303) else r
    assert 'name="code"' in page.text, page.text[:1000]
    sms = wait_for_message(services, PHONE, "sms", 1)
    code = re.search(r"\b(\d{6})\b", sms.text).group(1)
    r = submit(session, page, b.url, code=code)
    page = session.get(on(b.url, urljoin_location(r)), timeout=30) if r.status_code in (302, 303) else r
    key = re.search(r'<code[^>]*class="[^"]*secret[^"]*"[^>]*>([A-Z2-7 ]+)</code>', page.text)
    assert key, page.text[:1000]
    new_totp = pyotp.TOTP(key.group(1).replace(" ", ""))
    r = submit(session, page, a.url, code=fresh_totp(new_totp))
    page = session.get(on(a.url, urljoin_location(r)), timeout=30) if r.status_code in (302, 303) else r
    assert "Your account is recovered" in page.text, page.text[:1000]

    active = services.factors.active(tenant, user)
    assert [f.type for f in active] == ["totp"] and active[0].id != old_totp.id
    assert services.sessions.find(tenant, old_session.token) is None  # the old session is gone on every node
    # the link was single use on every node
    assert session.get(on(a.url, link), timeout=30).status_code == 400


def urljoin_location(response: requests.Response) -> str:
    return urljoin(response.url, response.headers["Location"])


def test_password_failures_add_up_across_nodes(deployment: Deployment, a: Node, b: Node) -> None:
    """R-06: failures on A and B are counted once for both; past the free ones a wait is imposed, on either node."""
    realm = _realm(deployment)
    services, tenant, user = realm.services, realm.tenant, realm.user
    session = browser()
    hops = nodes_cycle(a.url, b.url)
    page = session.get(on(next(hops), f"{realm.base}/login"), timeout=30)
    assert page.status_code == 200 and 'name="password"' in page.text
    for n in range(1, FREE_FAILURES + 2):  # the free failures, then the one that imposes the first wait
        r = submit(session, page, next(hops), username="alice", password=f"wrong password {n}")
        assert r.status_code == 200 and "Invalid username or password." in r.text, (n, r.status_code)
        assert services.throttle.failures(tenant, user.id, "password", "127.0.0.1") == (n, n)
    blocked = submit(session, page, next(hops), username="alice", password="wrong again")
    assert blocked.status_code == 429 and "Too many attempts" in blocked.text
    right = submit(session, page, next(hops), username="alice", password=PASSWORD)
    assert right.status_code == 429  # even the right password waits, on the other node too
    assert int(right.headers["Retry-After"]) > 0 and 'value="alice"' in right.text  # the wait, and the username kept


def test_sms_daily_cap_adds_up_across_nodes(deployment: Deployment, a: Node, b: Node) -> None:
    """R-89: a per-account cap of 2 SMS a day: one sent through A, one through B, the third (on A) refused."""
    realm = _realm(deployment, {"sms": {"resend_cooldown": 0, "per_account_daily_cap": 2}, "mfa": {"policy": "required"}})
    services, tenant, user = realm.services, realm.tenant, realm.user
    phone = "+3361" + "".join(secrets.choice("0123456789") for _ in range(7))  # this test's own number in the shared outbox
    services.factors.set_phone(tenant, user, phone)

    def sign_in_on(node: Node) -> requests.Response:
        session = browser()
        page = session.get(f"{node.realm(tenant.slug)}/login", timeout=30)
        return submit(session, page, node.url, username="alice", password=PASSWORD)

    first, second, third = sign_in_on(a), sign_in_on(b), sign_in_on(a)
    assert 'name="code"' in first.text and 'name="code"' in second.text
    assert "Too many codes were sent today." in html.unescape(third.text), third.text[:1500]
    wait_for_message(services, phone, "sms", 2)
    assert [m.text for m in outbox(services, phone, "sms")][2:] == []
    assert "sms.cap_reached" in [e.type for e in services.audit.query(tenant.id, user_id=user.id, limit=100)]


def test_idp_init_from_three_nodes_at_once(tmp_path: Path) -> None:
    """Three ``idp init`` started together on an empty database: all succeed, the schema is made once,
    ``master`` exists once with one signing key (advisory lock on PostgreSQL; one SQLite file otherwise)."""
    url = shared_database_url(tmp_path)
    d = Deployment(tmp_path, url, "", "http://127.0.0.1:9", tmp_path / "instance")
    env = d.env()
    env.pop("IDP_REDIS_URL")
    procs = [
        subprocess.Popen([sys.executable, "-m", "idp.cli", "init", "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    results = [(*p.communicate(timeout=120), p.returncode) for p in procs]
    assert all(code == 0 for _, _, code in results), [err.decode()[-2000:] for _, err, _ in results]

    outputs = [json.loads(out) for out, _, _ in results]
    assert sum(o["master_created"] for o in outputs) == 1
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
            assert conn.execute(text("SELECT count(*) FROM tenants WHERE slug = 'master'")).scalar() == 1
    finally:
        engine.dispose()
    services = d.test_services()
    try:
        master = services.tenants.require("master")
        assert len(list(services.keys.list(master))) == 1
    finally:
        services.close()
