"""The persistent layer on each SQL backend: SQLite always, PostgreSQL when ``IDP_TEST_DATABASE_URL`` is set.

The same service code runs on both (issue 2, item 5); these tests walk what the
services write: schema, tenants, users, clients, keys, factors, audit, and a
whole code flow over HTTP.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import database_urls, random_slug

from idp.accounts.users import UserError
from idp.oidc.clients import ClientError
from idp.storage.schema import current_revision, upgrade


@pytest.fixture(params=database_urls())
def db_services(request: pytest.FixtureRequest, make_services: Callable[..., Any]) -> Any:
    return make_services(database_url=request.param)


def _upgrade_in_process(url: str) -> None:
    from idp.storage.database import Database

    db = Database(url)
    upgrade(db)
    db.dispose()


def test_schema_upgrade_is_idempotent_and_safe_from_several_nodes_at_once(db_services: Any) -> None:
    """`idp init` may run twice, and on several nodes at once (separate processes): the schema ends at the head revision."""
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_upgrade_in_process, args=(db_services.db.url,)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    upgrade(db_services.db)
    assert current_revision(db_services.db) == "0001"


def test_users_are_unique_per_tenant_and_emails_case_insensitive(db_services: Any) -> None:
    a = db_services.tenants.create(random_slug("sql"))
    b = db_services.tenants.create(random_slug("sql"))
    alice = db_services.users.create(a, "alice", "correct horse battery staple", email="Alice@Example.org", phone="+33612345678")
    assert alice.email == "alice@example.org" and alice.phone == "+33612345678"
    assert db_services.users.find_by_login(a, "ALICE@example.org").id == alice.id
    db_services.users.create(b, "alice", "correct horse battery staple", email="alice@example.org")  # another tenant: fine
    with pytest.raises(UserError) as dup:
        db_services.users.create(a, "alice", "correct horse battery staple")
    assert dup.value.status == 409
    with pytest.raises(UserError):
        db_services.users.create(a, "alice2", "correct horse battery staple", email="alice@EXAMPLE.org")
    rows, total = db_services.users.search(a, "ali")
    assert total == 1 and rows[0].username == "alice"


def test_clients_keys_factors_and_audit(db_services: Any) -> None:
    t = db_services.tenants.create(random_slug("sql"), config={"tokens": {"signing_alg": "ES256"}})
    _client, secret = db_services.clients.create(t, "web", ["https://rp.example.com/cb"])
    assert secret and db_services.clients.get(t, "web") is not None
    with pytest.raises(ClientError):
        db_services.clients.create(t, "web", ["https://rp.example.com/cb"])
    first = db_services.keys.list(t)
    assert len(first) == 1 and first[0].alg == "ES256"
    db_services.keys.rotate(t, publish_delay=0)
    assert len(db_services.keys.jwks(t)["keys"]) == 2
    user = db_services.users.create(t, "bob", "correct horse battery staple")
    factor, _uri = db_services.factors.add_totp(t, user, label="phone")
    db_services.factors.remove_factor(t, user, factor.id, actor="test")
    assert db_services.factors.active(t, user) == []
    history = db_services.factors.history(t, user)
    assert history[0].removed_at is not None and history[0].removed_by == "test"  # the record stays
    since = datetime.now(UTC) - timedelta(minutes=5)
    types = {e.type for e in db_services.audit.query(t.id, since=since)}
    assert {"factor.enrolled", "factor.removed", "tenant.created"} <= types


def test_a_whole_code_flow_on_the_database(request: pytest.FixtureRequest, make_live_server: Callable[..., Any]) -> None:
    """An RP signs a user in with the code flow against a server on each database (R-62, R-63)."""
    from oidc.support import make_realm

    for url in database_urls():
        server = make_live_server(database_url=url.values[0])
        realm = make_realm(server, random_slug("sqlrp"))
        rp, token = realm.code_flow()
        assert realm.verify(token["id_token"])["sub"] == realm.user.sub
        assert realm.userinfo(token["access_token"]).json()["sub"] == realm.user.sub
        refreshed = rp.refresh_token(realm.endpoint("token"), refresh_token=token["refresh_token"])
        assert refreshed["refresh_token"] != token["refresh_token"]


def test_a_read_only_unit_of_work_sees_committed_rows_and_refuses_changes(db_services: Any) -> None:
    """``Database.read`` (the hot paths' reads, no COMMIT): it reads what was committed, and a change made in
    it by mistake is refused and never written (nothing half-written)."""
    from sqlalchemy import select

    from idp.storage.models import User

    tenant = db_services.tenants.create(random_slug("sql"))
    alice = db_services.users.create(tenant, "alice", "correct horse battery staple")
    db = db_services.db
    with db.read() as s:
        assert s.get(User, alice.id).username == "alice"
    with pytest.raises(RuntimeError, match="read-only"), db.read() as s:
        s.get(User, alice.id).given_name = "Mallory"
    with pytest.raises(RuntimeError, match="read-only"), db.read() as s:
        s.get(User, alice.id).given_name = "Mallory"
        s.scalar(select(User).where(User.id == alice.id))  # a later query must not flush the change away unseen
    assert db_services.users.get(tenant, alice.id).given_name == ""
    with db.read() as s:  # the connection went back to the pool clean: the next read works
        assert s.get(User, alice.id).given_name == ""


@pytest.mark.parametrize("url", [p for p in database_urls() if p.values[0] == "postgresql"] or [pytest.param("", marks=pytest.mark.skip("no PostgreSQL"))])
def test_pooled_connections_lost_while_idle_cost_at_most_one_503(url: str, make_services: Callable[..., Any]) -> None:
    """R-95: pooled PostgreSQL connections lost while idle (a database restart) fail at most the request that
    meets one first, with the outage error the app answers 503 to (never a raw driver error); the pool is
    then replaced and the next request works."""
    import sqlalchemy.exc

    services = make_services(database_url=url)
    tenant = services.tenants.create(random_slug("sql"))  # a write: its connection goes back transactional
    services.users.find_by_login(tenant, "nobody")  # a read: one that stays in autocommit
    pooled = list(services.db.engine.pool._pool.queue)  # type: ignore[attr-defined]
    assert pooled
    for p in pooled:
        p.dbapi_connection.close()  # the server went away while they sat in the pool
    failures = 0
    for _ in range(3):
        try:
            assert services.users.find_by_login(tenant, "nobody") is None
        except sqlalchemy.exc.OperationalError:
            failures += 1
    assert failures <= 1
