"""The ephemeral store on real Redis topologies: Sentinel, Cluster, TLS with a password (issue 6, item 1).

The session starts its own servers (see :mod:`production.redis_topologies`): a master, a replica and a
Sentinel; a three-master Cluster made by ``redis-cli --cluster create``; a TLS-only server with
``requirepass`` and a certificate made here with ``cryptography``. The contract tests of
``tests/test_store_contract.py`` run unchanged against each URL, then a whole authorization code flow
runs through a live server on Sentinel and on Cluster, and a Sentinel failover is survived.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

# The contract, reused as it is: these functions take a ``store`` fixture, given below per topology.
from test_store_contract import (  # noqa: F401 - collected here with this module's ``store``
    test_a_guarded_consume_spends_nothing_once_its_counter_moved,
    test_a_guarded_find_many_reads_nothing_once_its_counter_moved,
    test_advance_only_moves_forward,
    test_consume_is_atomic_across_threads,
    test_consume_once_then_replay_is_seen,
    test_counters_expire,
    test_destroy,
    test_destroy_many_removes_records_counters_and_replay_markers,
    test_release_slots_gives_back_one_slot_of_each_counter,
    test_revoke_by_grant_removes_only_that_grant,
    test_take_gives_the_record_to_exactly_one_caller,
    test_upsert_find_and_expiry,
    test_upsert_replaces,
)

from idp.store import EphemeralStore, StoreUnavailable
from idp.store.redis_store import RedisStore
from production.redis_topologies import (
    ClusterSetup,
    SentinelSetup,
    TlsSetup,
    start_cluster,
    start_sentinel,
    start_tls,
    wait_until,
)


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSetup]:
    setup = start_sentinel(tmp_path_factory.mktemp("sentinel"))
    yield setup
    setup.procs.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterSetup]:
    setup = start_cluster(tmp_path_factory.mktemp("cluster"))
    yield setup
    setup.procs.close()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsSetup]:
    setup = start_tls(tmp_path_factory.mktemp("tls"), password=secrets.token_urlsafe(16))
    yield setup
    setup.procs.close()


@pytest.fixture(params=["sentinel", "cluster", "tls+password"])
def store(request: pytest.FixtureRequest) -> Iterator[EphemeralStore]:
    name = {"tls+password": "tls"}.get(request.param, request.param)
    setup = request.getfixturevalue(name)
    s = RedisStore.from_url(setup.url)
    yield s
    s.close()


def test_cluster_keys_of_one_record_share_a_slot_and_grants_span_slots(cluster: ClusterSetup) -> None:
    """A record and its replay marker share one slot (Lua needs it); a grant's records lie on several nodes."""
    s = RedisStore.from_url(cluster.url)
    try:
        grant = secrets.token_hex(8)
        keys = [f"t-{secrets.token_hex(4)}:rt:{secrets.token_hex(8)}" for _ in range(12)]
        for k in keys:
            s.upsert(k, {"k": k}, 60, grant_id=grant)
            assert s.consume(k) is not None
        client = s.client
        assert isinstance(client, redis.RedisCluster)
        slots = {client.keyslot("idp:{" + k + "}") for k in keys}
        assert all(client.keyslot("idp:{" + k + "}") == client.keyslot("idp:{" + k + "}:used") for k in keys)
        nodes = {client.get_node_from_key("idp:{" + k + "}").name for k in keys}
        assert len(slots) > 1 and len(nodes) > 1  # the grant really spans nodes
        assert s.revoke_by_grant(grant) == len(keys)
        assert all(s.find(k) is None and s.consume(k) is None for k in keys)
    finally:
        s.close()


def test_tls_requires_the_right_password_and_a_trusted_certificate(tls: TlsSetup, tmp_path: Path) -> None:
    """A wrong password, or a certificate not signed by the CA we trust, is an unavailable store (fail closed)."""
    good = RedisStore.from_url(tls.url)
    good.ping()
    good.close()
    wrong = RedisStore.from_url(tls.url.replace(tls.password, "not-the-password"))
    with pytest.raises(StoreUnavailable):
        wrong.ping()
    wrong.close()
    other_ca = tmp_path / "other-ca.pem"
    from production.redis_topologies import _self_signed

    other_ca.write_bytes(_self_signed(tmp_path)[0].read_bytes())
    untrusted = RedisStore.from_url(tls.url.replace(str(tls.ca_file), str(other_ca)))
    with pytest.raises(StoreUnavailable):
        untrusted.ping()
    untrusted.close()


@pytest.mark.parametrize("topology", ["sentinel", "cluster"])
def test_code_flow_through_a_live_server(topology: str, request: pytest.FixtureRequest, make_live_server: Callable[..., Any]) -> None:
    """A whole authorization code flow (code consumed once, refresh, revocation by grant) on Sentinel and Cluster."""
    from conftest import random_slug
    from support.builders import make_realm

    setup = request.getfixturevalue(topology)
    realm = make_realm(make_live_server(redis_url=setup.url), random_slug("topo"))
    rp, token = realm.code_flow()
    assert realm.verify(token["id_token"])["sub"]
    assert realm.userinfo(token["access_token"]).status_code == 200
    refreshed = rp.refresh_token(realm.endpoint("token"), refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    assert realm.services.sessions.revoke_user(realm.tenant, realm.user.id) >= 1
    assert realm.userinfo(refreshed["access_token"]).status_code == 401


def test_sentinel_failover_is_followed(tmp_path: Path) -> None:
    """The master dies; Sentinel promotes the replica; the store fails closed meanwhile, then writes to the new master."""
    setup = start_sentinel(tmp_path / "failover")
    s = RedisStore.from_url(setup.url)
    try:
        k = f"t-{secrets.token_hex(4)}:sess:{secrets.token_hex(8)}"
        s.upsert(k, {"v": 1}, 120)
        replica = redis.Redis(port=setup.replica_port, socket_timeout=1)
        wait_until(lambda: replica.get("idp:{" + k + "}") is not None, 10, "replication of the record")
        replica.close()
        setup.procs.kill("master")
        outcomes: list[str] = []

        def written() -> bool:
            try:
                s.upsert(k + ":after", {"v": 2}, 120)
                outcomes.append("ok")
                return True
            except StoreUnavailable:
                outcomes.append("unavailable")
                time.sleep(0.2)
                return False

        wait_until(written, 30, "a write to the promoted master")
        assert setup.master_addr() == ("127.0.0.1", setup.replica_port)
        assert s.find(k) == {"v": 1}  # what was replicated before the failover is still there
        assert s.find(k + ":after") == {"v": 2}
        assert set(outcomes) <= {"ok", "unavailable"}
    finally:
        s.close()
        setup.procs.close()


def test_cluster_with_a_master_down_fails_closed_and_heals(tmp_path: Path) -> None:
    """A master dies: every operation is StoreUnavailable (before and after the cluster says CLUSTERDOWN),
    never a raw Redis error; when the node is back, the same store works again without a restart."""
    setup = start_cluster(tmp_path / "cluster")
    s = RedisStore.from_url(setup.url)
    try:
        keys = [f"t-{secrets.token_hex(4)}:code:{i}" for i in range(12)]
        grant = secrets.token_hex(8)
        for k in keys:
            s.upsert(k, {"k": k}, 60, grant_id=grant)
        victim = f"node{setup.ports[1]}"
        setup.procs.kill(victim)
        ops: list[Callable[[str], Any]] = [
            s.find,
            lambda k: s.upsert(k, {}, 60, grant_id=grant),
            s.consume,
            s.take,
            s.destroy,
            lambda k: s.incr(k + ":n", 60),
            s.counter,
            lambda k: s.advance(k + ":step", 5, 60),
            lambda k: s.revoke_by_grant(grant),
        ]

        def every_op_fails_closed(keys: list[str]) -> None:
            for op in ops:
                for k in keys:
                    try:
                        op(k)
                    except StoreUnavailable:
                        pass

        every_op_fails_closed(keys)  # the node is gone, the cluster has not noticed yet

        def cluster_says_down() -> bool:
            client = redis.Redis(port=setup.ports[0], socket_timeout=1)
            try:
                return bool(client.cluster("info")["cluster_state"] == "fail")
            finally:
                client.close()

        wait_until(cluster_says_down, 20, "cluster_state:fail")
        with pytest.raises(StoreUnavailable):
            for k in keys:  # at least one key lives on a slot of a healthy node: CLUSTERDOWN there
                s.incr(k + ":n", 60)
        every_op_fails_closed(keys[:3])  # each failing call takes about 0.5 s (two quick retries)

        setup.procs.restart(victim)

        def healed() -> bool:
            try:
                for k in keys:
                    s.upsert(k, {"again": True}, 60)
                return all(s.find(k) == {"again": True} for k in keys)
            except StoreUnavailable:
                time.sleep(0.2)
                return False

        wait_until(healed, 30, "the store to work again")
    finally:
        s.close()
        setup.procs.close()
