"""The ephemeral store contract, run against both backends (embedded SQLite and Redis)."""

from __future__ import annotations

import multiprocessing
import secrets
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REDIS_URL

from idp.store import EphemeralStore, Guard, GuardMoved
from idp.store.redis_store import RedisStore
from idp.store.sqlite_store import SQLiteStore


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EphemeralStore]:
    s: EphemeralStore = SQLiteStore(tmp_path / "eph.db") if request.param == "sqlite" else RedisStore.from_url(REDIS_URL)
    yield s
    s.close()


def key(kind: str) -> str:
    return f"t-{secrets.token_hex(4)}:{kind}:{secrets.token_hex(8)}"


def test_upsert_find_and_expiry(store: EphemeralStore) -> None:
    k = key("code")
    store.upsert(k, {"user": 1}, expires_in=1)
    assert store.find(k) == {"user": 1}
    time.sleep(1.2)
    assert store.find(k) is None


def test_find_many_in_order_with_gaps(store: EphemeralStore) -> None:
    """Several records in one call (one round trip on Redis): in the order asked, None for absent or expired ones."""
    a, b, gone, short = key("grant"), key("atrev"), key("grant"), key("grant")
    store.upsert(a, {"n": 1}, 60)
    store.upsert(b, {"n": 2}, 60)
    store.upsert(short, {"n": 3}, 1)
    time.sleep(1.2)
    assert store.find_many([b, gone, a, short]) == [{"n": 2}, None, {"n": 1}, None]
    assert store.find_many([]) == []


def test_upsert_replaces(store: EphemeralStore) -> None:
    k = key("flow")
    store.upsert(k, {"n": 1}, 60)
    store.upsert(k, {"n": 2}, 60)
    assert store.find(k) == {"n": 2}


def test_consume_once_then_replay_is_seen(store: EphemeralStore) -> None:
    """R-62: a consumed record stays, so a second redemption is recognised as a replay."""
    k = key("code")
    store.upsert(k, {"c": 1}, 60)
    first, second = store.consume(k), store.consume(k)
    assert first is not None and first.first is True
    assert second is not None and second.first is False and second.payload == {"c": 1}
    assert store.consume(key("code")) is None


def test_a_guarded_consume_spends_nothing_once_its_counter_moved(store: EphemeralStore) -> None:
    """R-62, R-44: the admin revision checked in the redemption's own step: a moved counter leaves the code unspent."""
    k, counter = key("code"), key("revision")
    store.upsert(k, {"c": 1}, 60)
    store.incr(counter, 60)
    stale = Guard(counter, 0)
    with pytest.raises(GuardMoved) as moved:
        store.consume(k, guard=stale)
    assert moved.value.current == 1 and not stale.confirmed
    current = Guard(counter, 1)
    first = store.consume(k, guard=current)
    assert first is not None and first.first is True and current.confirmed
    replay = store.consume(k, guard=Guard(counter, 1))
    assert replay is not None and replay.first is False
    absent = Guard(key("revision"), 0)  # a counter never written reads 0
    assert store.consume(key("code"), guard=absent) is None and absent.confirmed


def test_a_guarded_find_many_reads_nothing_once_its_counter_moved(store: EphemeralStore) -> None:
    """The revision and the records in one read: an answer only while the counter is where the caller saw it."""
    a, counter = key("grant"), key("revision")
    store.upsert(a, {"n": 1}, 60)
    guard = Guard(counter, 0)
    assert store.find_many([a, key("atrev")], guard=guard) == [{"n": 1}, None] and guard.confirmed
    store.incr(counter, 60, amount=3)
    with pytest.raises(GuardMoved) as moved:
        store.find_many([a], guard=Guard(counter, 0))
    assert moved.value.current == 3
    assert store.find_many([a], guard=Guard(counter, 3)) == [{"n": 1}]


def test_consume_is_atomic_across_threads(store: EphemeralStore) -> None:
    k = key("code")
    store.upsert(k, {"c": 1}, 60)
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def go() -> None:
        barrier.wait()
        res = store.consume(k)
        wins.append(bool(res and res.first))

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1


def test_take_gives_the_record_to_exactly_one_caller(store: EphemeralStore) -> None:
    k = key("link")
    store.upsert(k, {"u": 3}, 60)
    assert store.take(k) == {"u": 3}
    assert store.take(k) is None
    assert store.find(k) is None


def test_destroy(store: EphemeralStore) -> None:
    k = key("sess")
    store.upsert(k, {}, 60)
    store.destroy(k)
    assert store.find(k) is None
    store.destroy(k)  # absent: no error


def test_revoke_by_grant_removes_only_that_grant(store: EphemeralStore) -> None:
    g1, g2 = secrets.token_hex(8), secrets.token_hex(8)
    a, b, c = key("rt"), key("at"), key("rt")
    store.upsert(a, {}, 60, grant_id=g1)
    store.upsert(b, {}, 60, grant_id=g1)
    store.upsert(c, {}, 60, grant_id=g2)
    assert store.revoke_by_grant(g1) == 2
    assert store.find(a) is None and store.find(b) is None
    assert store.find(c) == {}
    assert store.revoke_by_grant(g1) == 0


def test_grant_members_lists_the_keys_filed_under_a_grant(store: EphemeralStore) -> None:
    """The account console lists a user's sessions through their grant label: the keys of that grant only, by prefix."""
    g1, g2 = secrets.token_hex(8), secrets.token_hex(8)
    a, b, c = key("sso"), key("code"), key("sso")
    store.upsert(a, {}, 60, grant_id=g1)
    store.upsert(b, {}, 60, grant_id=g1)
    store.upsert(c, {}, 60, grant_id=g2)
    assert sorted(store.grant_members(g1)) == sorted([a, b])
    assert store.grant_members(g1, prefix=a.rsplit(":", 1)[0] + ":") == [a]
    assert store.grant_members(g2) == [c]
    store.revoke_by_grant(g1)
    assert store.grant_members(g1) == []
    assert store.grant_members(secrets.token_hex(8)) == []


def test_counters_expire(store: EphemeralStore) -> None:
    k = key("fail")
    assert [store.incr(k, 1) for _ in range(3)] == [1, 2, 3]
    assert store.counter(k) == 3
    time.sleep(1.2)
    assert store.counter(k) == 0
    assert store.incr(k, 60) == 1


def test_advance_only_moves_forward(store: EphemeralStore) -> None:
    """R-82: the last accepted TOTP step only moves forward, atomically."""
    k = key("totp")
    assert store.advance(k, 100, 90) is True
    assert store.advance(k, 100, 90) is False
    assert store.advance(k, 99, 90) is False
    assert store.advance(k, 101, 90) is True


def _consume_in_process(path: str, k: str, q: "multiprocessing.Queue[bool]") -> None:
    s = SQLiteStore(path)
    res = s.consume(k)
    q.put(bool(res and res.first))


def test_embedded_store_is_shared_by_worker_processes(tmp_path: Path) -> None:
    """The embedded backend is one file for every worker of a host, not a per-process dict."""
    path = str(tmp_path / "eph.db")
    s = SQLiteStore(path)
    k = key("code")
    s.upsert(k, {"c": 1}, 60)
    ctx = multiprocessing.get_context("spawn")
    q: "multiprocessing.Queue[bool]" = ctx.Queue()
    procs = [ctx.Process(target=_consume_in_process, args=(path, k, q)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    results = [q.get(timeout=5) for _ in procs]
    assert results.count(True) == 1


def test_touch_renews_only_a_live_record(store: EphemeralStore) -> None:
    """A session renewed after a revocation must stay revoked (R-34, R-40)."""
    g = secrets.token_hex(8)
    k = key("sso")
    store.upsert(k, {"n": 1}, 60, grant_id=g)
    assert store.touch(k, {"n": 2}, 60) is True
    assert store.find(k) == {"n": 2}
    store.revoke_by_grant(g)
    assert store.touch(k, {"n": 3}, 60) is False
    assert store.find(k) is None


def test_upsert_while_live_files_only_while_the_witness_lives(store: EphemeralStore) -> None:
    """R-34, R-62: a record filed against a witness (a grant against its code) is written only while the witness
    lives, under the grant label, so revoking the label removes both."""
    label, code, grant = f"t:user:{secrets.token_hex(4)}", key("code"), key("grant")
    assert store.upsert_while_live(grant, {"g": 1}, 60, label, witness=code) is False
    assert store.find(grant) is None
    store.upsert(code, {"c": 1}, 60, grant_id=label)
    assert store.upsert_while_live(grant, {"g": 1}, 60, label, witness=code) is True
    assert store.find(grant) == {"g": 1}
    assert store.revoke_by_grant(label) == 2
    assert store.find(grant) is None and store.upsert_while_live(grant, {"g": 2}, 60, label, witness=code) is False


def test_upsert_while_live_against_a_concurrent_revocation(store: EphemeralStore) -> None:
    """R-34: however a revocation and a filing interleave, no filed record outlives the revocation."""
    for _ in range(30):
        label, code, grant = f"t:user:{secrets.token_hex(4)}", key("code"), key("grant")
        store.upsert(code, {"c": 1}, 60, grant_id=label)
        go = threading.Barrier(2)

        def revoke(lbl: str = label, go: threading.Barrier = go) -> None:
            go.wait()
            store.revoke_by_grant(lbl)

        t = threading.Thread(target=revoke)
        t.start()
        go.wait()
        store.upsert_while_live(grant, {"g": 1}, 60, label, witness=code)
        t.join()
        assert store.find(code) is None and store.find(grant) is None


def test_acquire_slot_checks_and_counts_in_one_step(store: EphemeralStore) -> None:
    """R-06, R-27: the slots of a counter are granted while counter + slots stays below the limit, and always one
    when none is taken; a parallel burst gets exactly that many."""
    k = key("throttle")
    granted: list[bool] = []
    lock = threading.Lock()
    go = threading.Barrier(20)

    def take() -> None:
        go.wait()
        ok = store.acquire_slot(k, 5, 30)
        with lock:
            granted.append(ok)

    threads = [threading.Thread(target=take) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert granted.count(True) == 5
    for _ in range(5):
        store.release_slot(k)
    store.release_slot(k)  # one too many: stays at none
    store.incr(k, 60, amount=7)  # past the limit: one at a time
    assert store.acquire_slot(k, 5, 30) is True and store.acquire_slot(k, 5, 30) is False
    store.release_slot(k)
    assert store.acquire_slot(k, 5, 30) is True


def test_slots_expire_by_themselves(store: EphemeralStore) -> None:
    """A caller that died holding a slot frees it when the slots expire."""
    k = key("throttle")
    store.incr(k, 60, amount=9)
    assert store.acquire_slot(k, 5, 1) is True and store.acquire_slot(k, 5, 1) is False
    time.sleep(1.2)
    assert store.acquire_slot(k, 5, 1) is True


def test_destroy_many_removes_records_counters_and_replay_markers(store: EphemeralStore) -> None:
    """The throttle's reset on a success (R-06, R-27): several records and counters gone in one call, others kept."""
    rec, used, count, kept = key("until"), key("code"), key("n"), key("until")
    store.upsert(rec, {"until": 1}, 60)
    store.upsert(used, {"c": 1}, 60)
    assert store.consume(used) is not None
    store.incr(count, 60, amount=4)
    store.upsert(kept, {"until": 2}, 60)
    store.destroy_many([rec, used, count, key("absent")])
    assert store.find(rec) is None and store.counter(count) == 0 and store.find(kept) == {"until": 2}
    store.upsert(used, {"c": 2}, 60)  # the replay marker went with the record: a new record is consumed afresh
    again = store.consume(used)
    assert again is not None and again.first is True
    store.destroy_many([])


def test_release_slots_gives_back_one_slot_of_each_counter(store: EphemeralStore) -> None:
    a, b = key("ip"), key("acct")
    assert store.acquire_slot(a, 3, 30) and store.acquire_slot(a, 3, 30) and store.acquire_slot(b, 3, 30)
    assert not store.acquire_slot(a, 2, 30)  # two held: a limit of 2 is reached
    store.release_slots([a, b])
    assert store.acquire_slot(a, 2, 30)  # one of a's came back
    assert not store.acquire_slot(a, 2, 30)
    assert store.acquire_slot(b, 1, 30)  # b has none held: one is always granted
    assert not store.acquire_slot(b, 1, 30)
    store.release_slots([b, key("never")])  # a counter without slots stays at none
    assert store.acquire_slot(b, 1, 30)
