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
from alembic.script import ScriptDirectory
from conftest import database_urls, random_slug

from idp.accounts.users import UserError
from idp.oidc.clients import ClientError
from idp.storage.schema import alembic_config, current_revision, upgrade


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
    head = ScriptDirectory.from_config(alembic_config(db_services.db)).get_current_head()
    assert head is not None and current_revision(db_services.db) == head


def test_users_are_unique_per_tenant_and_emails_case_insensitive(db_services: Any) -> None:
    a = db_services.tenants.create(random_slug("sql"))
    b = db_services.tenants.create(random_slug("sql"))
    alice = db_services.users.create(a, "alice", "correct horse battery staple", email="Alice@Example.org", phone="+33612345678")
    assert alice.email == "Alice@example.org" and alice.phone == "+33612345678"
    assert db_services.users.find_by_login(a, "ALICE@example.org").id == alice.id
    db_services.users.create(b, "alice", "correct horse battery staple", email="alice@example.org")  # another tenant: fine
    with pytest.raises(UserError) as dup:
        db_services.users.create(a, "alice", "correct horse battery staple")
    assert dup.value.status == 409
    with pytest.raises(UserError):
        db_services.users.create(a, "alice2", "correct horse battery staple", email="alice@EXAMPLE.org")
    rows, total = db_services.users.search(a, "ali")
    assert total == 1 and rows[0].username == "alice"


def test_one_identifier_names_one_account_across_usernames_and_emails(db_services: Any) -> None:
    """R-28, R-44 (issue 12 item 2): a username equal to another user's email, or the reverse, is refused at
    creation and update, and a login string finds exactly one account."""
    users = db_services.users
    t = db_services.tenants.create(random_slug("sql"))
    carol = users.create(t, "carol", "correct horse battery staple", email="Carol.Martin@Example.org")
    dave = users.create(t, "dave", "correct horse battery staple", email="dave@example.org")
    for username in ("carol.martin@example.org", "CAROL.MARTIN@example.ORG"):
        with pytest.raises(UserError) as taken:
            users.create(t, username, "correct horse battery staple")
        assert taken.value.status == 409 and taken.value.field == "username"
    users.create(t, "henry@example.org", "correct horse battery staple")
    with pytest.raises(UserError) as taken:
        users.create(t, "erin", "correct horse battery staple", email="Henry@Example.org")  # another user's username
    assert taken.value.status == 409 and taken.value.field == "email"
    with pytest.raises(UserError) as taken:
        users.update(t, dave, email="Carol.Martin@example.org")
    assert taken.value.status == 409 and taken.value.field == "email"
    assert users.get(t, dave.id).email == "dave@example.org"  # nothing half-written
    assert users.find_by_login(t, "carol.martin@EXAMPLE.org").id == carol.id
    assert users.find_by_login(t, "Carol").id == carol.id and users.by_username(t, "CAROL").id == carol.id
    assert users.find_by_login(t, "dave@example.org").id == dave.id
    # a user whose username is their own email holds it once, and can change the email away and back
    frank = users.create(t, "frank@example.org", "correct horse battery staple", email="Frank@example.org")
    users.update(t, frank, email="frank.new@example.org")
    assert users.find_by_login(t, "frank@example.org").id == frank.id and users.find_by_login(t, "frank.new@example.org").id == frank.id
    users.update(t, frank, email="frank@example.org")
    with pytest.raises(UserError):
        users.create(t, "gina", "correct horse battery staple", email="frank@example.org")
    assert users.create(t, "gina", "correct horse battery staple", email="frank.new@example.org").username == "gina"  # freed


def test_a_username_and_an_email_claimed_at_the_same_moment_give_one_account(db_services: Any) -> None:
    """Issue 12 item 2: the uniqueness holds under concurrency (a unique index, not a check then an insert)."""
    import threading

    t = db_services.tenants.create(random_slug("sql"))
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def claim(i: int) -> None:
        barrier.wait()
        try:
            if i % 2:
                db_services.users.create(t, f"user{i}", None, email="shared@example.org")
            else:
                db_services.users.create(t, "Shared@Example.org" if i else "shared@example.org", None)
            outcomes.append("created")
        except UserError as exc:
            outcomes.append(str(exc.status))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(outcomes) == ["409", "409", "409", "created"]
    assert db_services.users.search(t, "")[1] == 1


@pytest.mark.parametrize(
    ("username", "reason"),
    [
        ("pt\u200bconf", "invisible characters"),  # zero-width space
        ("pt\u200dconf", "invisible characters"),  # zero-width joiner
        ("pt\u00adconf", "invisible characters"),  # soft hyphen
        ("\u0440t-conf", "different scripts"),  # Cyrillic er beside Latin letters
        ("p\u0442-conf", "different scripts"),  # Cyrillic te
        ("pt conf", "spaces"),
        ("pt\u2122", "RFC 8265"),  # a compatibility symbol
    ],
)
def test_confusable_usernames_are_refused(db_services: Any, username: str, reason: str) -> None:
    """Issue 12 item 3 (RFC 8265): invisible characters and mixed scripts are refused, nothing is written."""
    t = db_services.tenants.create(random_slug("sql"))
    with pytest.raises(UserError) as refused:
        db_services.users.create(t, username, "correct horse battery staple")
    assert refused.value.field == "username" and reason in str(refused.value)
    assert db_services.users.search(t, "")[1] == 0


def test_usernames_that_only_look_different_name_the_same_account(db_services: Any) -> None:
    """Issue 12 item 3 (RFC 8265 UsernameCaseMapped): case and width variants are the same username, at creation
    and at look-up; the username keeps the form it was created with for display; scripts written alone are fine."""
    users = db_services.users
    t = db_services.tenants.create(random_slug("sql"))
    conf = users.create(t, "pt-conf", "correct horse battery staple")
    for variant in ("PT-CONF", "Pt-Conf", "\uff50\uff54-\uff43\uff4f\uff4e\uff46", "\uff30\uff34\uff0d\uff23\uff2f\uff2e\uff26"):
        with pytest.raises(UserError) as taken:
            users.create(t, variant, "correct horse battery staple")
        assert taken.value.status == 409
        assert users.find_by_login(t, variant).id == conf.id
    assert users.find_by_login(t, "pt\u200bconf") is None and users.find_by_login(t, "\u0440t-conf") is None
    shown = users.create(t, "Zo\u00e9.Dupont", "correct horse battery staple")
    assert shown.username == "Zo\u00e9.Dupont" and users.find_by_login(t, "zo\u00e9.dupont").id == shown.id
    assert users.create(t, "\u0438\u0432\u0430\u043d", "correct horse battery staple")  # Cyrillic alone
    assert users.create(t, "\u5c71\u7530\u305f\u308d\u3046", "correct horse battery staple")  # Han with Hiragana


def test_the_identifier_migration_files_existing_users_and_refuses_collisions(db_services: Any) -> None:
    """Issue 12 items 2 and 3: revision 0002 gives existing rows their canonical identifiers; when existing users
    already collide it stops, names them, and writes nothing."""
    from alembic import command
    from sqlalchemy import text

    from idp.storage.schema import alembic_config

    t = db_services.tenants.create(random_slug("sql"))
    cfg = alembic_config(db_services.db)
    command.downgrade(cfg, "0001")
    insert = text(
        "INSERT INTO users (tenant_id, sub, username, email, email_verified, phone_verified, given_name, family_name,"
        " password_hash, status, roles, created_at, updated_at) VALUES (:t, :sub, :u, :e, false, false, '', '', '', 'active', '[]',"
        " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    rows = [("Alice", "alice@example.org"), ("bob@example.org", None), ("Bob", "BOB@example.org"), ("\u0440aul", None)]
    with db_services.db.engine.begin() as conn:
        for i, (u, e) in enumerate(rows):
            conn.execute(insert, {"t": t.id, "sub": f"{t.slug}-{i}", "u": u, "e": e})
    with pytest.raises(Exception, match=r"existing accounts collide .*'bob@example.org' is held by users"):
        command.upgrade(cfg, "head")
    assert current_revision(db_services.db) == "0001"
    with db_services.db.engine.begin() as conn:
        conn.execute(text("UPDATE users SET email = 'robert@example.org' WHERE username = 'Bob'"))
    command.upgrade(cfg, "head")
    users = db_services.users
    assert users.find_by_login(t, "ALICE").username == "Alice" and users.find_by_login(t, "Alice@Example.org").username == "Alice"
    assert users.find_by_login(t, "Robert@example.org").username == "Bob"
    assert users.find_by_login(t, "\u0440aul").username == "\u0440aul"  # refused today, kept working as a legacy username
    with pytest.raises(UserError):
        users.create(t, "ALICE", "correct horse battery staple")


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
    from support.builders import make_realm

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


def test_recovery_codes_are_single_use_even_when_two_workers_race(db_services: Any) -> None:
    """Issue 14 item 3: ten codes of 80 bits, kept as keyed digests, each spent once (one of two racing
    attempts wins); a new set voids the old one; the set goes with its last code."""
    import threading

    from idp.storage.models import RecoveryCode

    tenant = db_services.tenants.create(random_slug("sql"))
    user = db_services.users.create(tenant, "rc-user", "correct horse battery staple")
    factors = db_services.factors
    codes = factors.generate_recovery_codes(tenant, user)
    assert len(set(codes)) == 10 and all(len(c.replace("-", "")) == 16 for c in codes)
    with db_services.db.read() as s:
        stored = [r.digest for r in s.query(RecoveryCode).filter_by(user_id=user.id)]
    assert len(stored) == 10 and not set(stored) & {c.replace("-", "") for c in codes}  # never the codes themselves
    wins: list[bool] = []
    racers = [threading.Thread(target=lambda: wins.append(bool(factors.use_recovery_code(tenant, user, codes[0])))) for _ in range(2)]
    for t in racers:
        t.start()
    for t in racers:
        t.join()
    assert sorted(wins) == [False, True] and factors.recovery_codes_left(tenant, user) == 9
    assert factors.use_recovery_code(tenant, user, " " + codes[1].upper().replace("-", " ") + " ").ok  # as typed
    fresh = factors.generate_recovery_codes(tenant, user, actor="test")
    assert not factors.use_recovery_code(tenant, user, codes[2]).ok  # the old set is void
    for code in fresh:
        assert factors.use_recovery_code(tenant, user, code).ok
    assert factors.recovery_codes_left(tenant, user) == 0 and not factors.has_recovery_codes(tenant, user)  # spent: gone


def test_the_users_profile_read_gives_the_orm_rows_values(db_services: Any) -> None:
    """UserService.profile (one Core select, a driver cursor on PostgreSQL) answers what the ORM row holds, types included."""
    services = db_services
    upgrade(services.db)
    tenant = services.tenants.create(random_slug("profile"))
    user = services.users.create(tenant, "grace", "correct-horse-battery-9", email="grace@example.org", given_name="Grace", family_name="H")
    services.users.update(tenant, user, address={"locality": "Paris", "country": "FR"})
    row = services.users.get(tenant, user.id)
    profile = services.users.profile(tenant, user.id)
    assert profile is not None
    for name in ("id", "sub", "username", "email", "email_verified", "phone", "phone_verified", "given_name", "family_name", "locale",
                 "status", "updated_at", "name", "address"):
        assert getattr(profile, name) == getattr(row, name), name
        assert type(getattr(profile, name)) is type(getattr(row, name)), name
    assert services.users.profile(tenant, user.id + 10_000) is None
    other = services.tenants.create(random_slug("profile"))
    assert services.users.profile(other, user.id) is None  # another tenant's user is not found


def test_consents_are_remembered_widened_listed_and_removed(db_services: Any) -> None:
    """Issue 15 item 3 (R-76) on each database: a grant is one row per (user, client) whose scopes widen, two first
    grants racing end in one row holding both; the list names the client; revoking and removing the client forget it."""
    import threading

    from idp.oidc.consent import ConsentError

    consents = db_services.consents
    t, other = db_services.tenants.create(random_slug("sql")), db_services.tenants.create(random_slug("sql"))
    db_services.clients.create(t, "partner", ["https://rp.example.com/cb"], name="Partner", consent_required=True)
    db_services.clients.create(t, "gallery", ["https://rp.example.com/cb"], consent_required=True)
    user = db_services.users.create(t, "consenting", "correct horse battery staple")
    racers = [threading.Thread(target=consents.grant, args=(t, user.id, "partner", [scope])) for scope in ("openid", "email")]
    for r in racers:
        r.start()
    for r in racers:
        r.join()
    assert consents.granted(t, user.id, "partner") == {"openid", "email"}
    assert consents.grant(t, user.id, "partner", ["openid", "phone"]) == {"openid", "email", "phone"}
    consents.grant(t, user.id, "gallery", ["openid"])
    listed = consents.list_for_user(t, user.id)
    assert [(c.client_id, c.client_name) for c in listed] == [("gallery", ""), ("partner", "Partner")]
    assert listed[1].granted_at is not None and listed[1].updated_at >= listed[1].granted_at
    assert consents.list_for_user(other, user.id) == []  # another tenant's view of the same id: nothing
    with pytest.raises(ConsentError):
        consents.revoke(other, user.id, "partner", actor="test")
    consents.revoke(t, user.id, "partner", actor="test")
    assert consents.granted(t, user.id, "partner") == set()
    with pytest.raises(ConsentError) as missing:
        consents.revoke(t, user.id, "partner", actor="test")
    assert missing.value.status == 404
    db_services.clients.delete(t, "gallery")
    assert consents.list_for_user(t, user.id) == []


def test_hot_writes_without_an_orm_session_store_what_the_orm_reads_back_all_or_nothing(db_services: Any) -> None:
    """``Database.write`` (an audit event, a factor's last use; compiled SQL on a driver connection on PostgreSQL)
    stores what the ORM reads back, types included, never a secret (R-46); its statements commit together or not at
    all, and inside a rolled-back ``Database.transaction()`` not at all (R-14: the factor's last use)."""
    import psycopg
    import sqlalchemy.exc

    from idp.accounts.totp import _TOUCH
    from idp.audit import AuditLog

    services = db_services
    upgrade(services.db)
    tenant = services.tenants.create(random_slug("write"))
    user = services.users.create(tenant, "ada", "correct-horse-battery-9")
    fields = {"user_id": user.id, "client_ip": "203.0.113.9", "user_agent": "UA/1", "flow": "browser-login", "factor": "password"}
    with services.db.session() as s:  # the ORM unit of work, as before
        services.audit.record(tenant.id, "login.password_ok", session=s, **fields, password="never stored")
    services.audit.record(tenant.id, "login.password_ok", **fields, password="never stored")  # on its own: Database.write
    core, orm = services.audit.query(tenant.id, type="login.password_ok")
    assert core.id > orm.id and core.details == {"flow": "browser-login", "factor": "password"}
    for name in ("tenant_id", "type", "user_id", "actor", "client_ip", "user_agent", "details"):
        assert getattr(core, name) == getattr(orm, name), name
    for name in ("tenant_id", "type", "user_id", "actor", "client_ip", "user_agent", "details", "created_at"):
        assert type(getattr(core, name)) is type(getattr(orm, name)), name
    assert core.created_at.tzinfo == orm.created_at.tzinfo and timedelta(0) <= core.created_at - orm.created_at < timedelta(seconds=5)

    factor, _uri = services.factors.add_totp(tenant, user, label="phone")
    used = datetime.now(UTC).replace(microsecond=0)
    touch = (_TOUCH, {"factor_id": factor.id, "used_at": used})
    orphan = AuditLog.insert(tenant.id + 10_000, "login.second_factor_ok", user_id=user.id, factor="totp")  # no such tenant
    with pytest.raises((sqlalchemy.exc.IntegrityError, psycopg.IntegrityError)):
        services.db.write(touch, (AuditLog.INSERT, orphan))
    assert services.factors.get(tenant, user, factor.id).last_used_at is None  # the update went with the failed insert
    with services.db.transaction(commit=False):
        services.db.write(touch)
    assert services.factors.get(tenant, user, factor.id).last_used_at is None

    services.db.write(touch, (AuditLog.INSERT, AuditLog.insert(tenant.id, "login.second_factor_ok", user_id=user.id, factor="totp")))
    last_used = services.factors.get(tenant, user, factor.id).last_used_at
    assert last_used is not None and last_used.replace(tzinfo=UTC) == used  # SQLite gives its datetimes back naive
    assert [e.details for e in services.audit.query(tenant.id, type="login.second_factor_ok")] == [{"factor": "totp"}]
