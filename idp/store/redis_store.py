"""Redis backend of the ephemeral store (single node, Sentinel, Cluster, TLS).

Keys are ``idp:{KEY}`` with the whole logical key as the hash tag, so a record
and its replay marker always share a cluster slot. Atomic steps use Lua or
``GETDEL``; one round trip where one will do.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlparse

import redis
from redis.exceptions import (
    ClusterDownError,
    ReadOnlyError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from idp.store.base import Consumed, EphemeralStore, Guard, GuardMoved, StoreUnavailable

T = TypeVar("T")

#: Errors that mean "Redis cannot serve this now", not a bug: unreachable or timed out, a Cluster
#: with a slot whose master is down (``CLUSTERDOWN``, ``TRYAGAIN``, no node for the slot), or a
#: master demoted by a Sentinel failover that now refuses writes (``READONLY``).
_OUTAGES = (RedisConnectionError, RedisTimeoutError, ClusterDownError, TryAgainError, ReadOnlyError, SlotNotCoveredError, OSError)

_CONSUME = """
local v = redis.call('GET', KEYS[1])
if not v then return nil end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 1 then ttl = 1 end
local first = redis.call('SET', KEYS[2], '1', 'NX', 'PX', ttl)
if first then return {v, 1} end
return {v, 0}
"""

#: ``_CONSUME`` behind a guard (KEYS[3] its counter, ARGV[1] the value expected): ``{-1, current}`` and nothing
#: consumed when the counter moved.
_GUARDED_CONSUME = """
local g = tonumber(redis.call('GET', KEYS[3]) or '0')
if g ~= tonumber(ARGV[1]) then return {-1, g} end
local v = redis.call('GET', KEYS[1])
if not v then return nil end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 1 then ttl = 1 end
local first = redis.call('SET', KEYS[2], '1', 'NX', 'PX', ttl)
if first then return {v, 1} end
return {v, 0}
"""

_ADVANCE = """
local cur = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > cur then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 1
end
return 0
"""

_UPSERT_WHILE_LIVE = """
if redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[2], 'GT')
redis.call('EXPIRE', KEYS[2], ARGV[2], 'NX')
return 1
"""

_ACQUIRE_SLOT = """
local slots = tonumber(redis.call('GET', KEYS[2]) or '0')
local tally = tonumber(redis.call('GET', KEYS[1]) or '0')
if slots > 0 and tally + slots >= tonumber(ARGV[1]) then return 0 end
redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[2])
return 1
"""

_RELEASE_SLOT = """
for _, key in ipairs(KEYS) do
  if redis.call('DECR', key) <= 0 then redis.call('DEL', key) end
end
return 1
"""


def _k(key: str) -> str:
    return "idp:{" + key + "}"


class RedisStore(EphemeralStore):
    """Ephemeral state on Redis."""

    def __init__(self, client: redis.Redis[bytes] | redis.RedisCluster[bytes]) -> None:
        self.client = client
        self._consume = client.register_script(_CONSUME)
        self._guarded_consume = client.register_script(_GUARDED_CONSUME)
        #: A Cluster spreads a record and a guard's counter over different slots: the guard is a round trip of its own.
        self._one_node = not isinstance(client, redis.RedisCluster)
        self._advance = client.register_script(_ADVANCE)
        self._upsert_while_live = client.register_script(_UPSERT_WHILE_LIVE)
        self._acquire_slot = client.register_script(_ACQUIRE_SLOT)
        self._release_slot = client.register_script(_RELEASE_SLOT)

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        """``redis://``, ``rediss://`` (TLS), ``redis+sentinel://host:port[,host:port]/service``,
        or ``redis+cluster://host:port``."""
        from redis.backoff import ExponentialWithJitterBackoff
        from redis.retry import Retry

        # redis-py 6+ retries a failed command by itself (ten times, up to a second apart, in 8.x): that would
        # hold a request through a whole outage instead of failing closed with a 503 the client can retry
        # . Two quick retries still ride over a stale pooled connection after a restart or fail-over.
        opts: dict[str, Any] = {
            "socket_timeout": 2.0,
            "socket_connect_timeout": 2.0,
            "health_check_interval": 30,
            "retry": Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 2),
        }
        parsed = urlparse(url)
        if parsed.scheme in ("redis+sentinel", "rediss+sentinel"):
            from redis.sentinel import Sentinel

            hosts = [(h.split(":")[0], int(h.split(":")[1]) if ":" in h else 26379) for h in parsed.netloc.split("@")[-1].split(",")]
            service = parsed.path.strip("/") or "mymaster"
            sentinel = Sentinel(hosts, password=parsed.password, ssl=parsed.scheme.startswith("rediss"), **opts)
            return cls(sentinel.master_for(service, password=parsed.password, **opts))
        if parsed.scheme in ("redis+cluster", "rediss+cluster"):
            plain = url.replace("+cluster", "", 1)
            # the same retry policy also bounds redis-py's CLUSTERDOWN retries (ten by default, about 2 s per call)
            cluster_opts = {k: v for k, v in opts.items() if k != "health_check_interval"}
            return cls(redis.RedisCluster.from_url(plain, **cluster_opts))
        return cls(redis.Redis.from_url(url, **opts))

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except _OUTAGES as exc:
            from idp.observability.metrics import count_store_error

            count_store_error("redis")
            raise StoreUnavailable(f"redis unavailable: {exc.__class__.__name__}") from exc

    def upsert(self, key: str, payload: dict[str, Any], expires_in: int, grant_id: str | None = None) -> None:
        data = json.dumps(payload, separators=(",", ":"))

        def run() -> None:
            if grant_id is None:
                self.client.set(_k(key), data, ex=max(1, int(expires_in)))
                return
            pipe = self.client.pipeline(transaction=False)
            pipe.set(_k(key), data, ex=max(1, int(expires_in)))
            gk = _k("grant:" + grant_id)
            pipe.sadd(gk, key)
            pipe.expire(gk, max(1, int(expires_in)), gt=True)
            pipe.expire(gk, max(1, int(expires_in)), nx=True)
            pipe.execute()

        self._call(run)

    def touch(self, key: str, payload: dict[str, Any], expires_in: int) -> bool:
        data = json.dumps(payload, separators=(",", ":"))
        return bool(self._call(lambda: self.client.set(_k(key), data, ex=max(1, int(expires_in)), xx=True)))

    def find(self, key: str) -> dict[str, Any] | None:
        raw = self._call(lambda: self.client.get(_k(key)))
        return json.loads(raw) if raw is not None else None

    def find_many(self, keys: list[str], guard: Guard | None = None) -> list[dict[str, Any] | None]:
        """One ``MGET``, the guard's counter included (per slot on a Cluster, where each key is its own hash tag
        and the guard is read first)."""
        names = [_k(k) for k in keys]
        if not self._one_node:
            self._check(guard)
            return [json.loads(r) if r is not None else None for r in self._call(lambda: self.client.mget_nonatomic(names))] if names else []
        if guard is None:
            if not names:
                return []
            raws = self._call(lambda: self.client.mget(names))
        else:
            *raws, counted = self._call(lambda: self.client.mget([*names, _k(guard.key)]))
            current = int(counted) if counted is not None else 0
            if current != guard.expected:
                raise GuardMoved(current)
            guard.confirmed = True
        return [json.loads(r) if r is not None else None for r in raws]

    def consume(self, key: str, guard: Guard | None = None) -> Consumed | None:
        names = [_k(key), _k(key) + ":used"]
        if guard is None or not self._one_node:
            self._check(guard)
            res = self._call(lambda: self._consume(keys=names))
        else:
            res = self._call(lambda: self._guarded_consume(keys=[*names, _k(guard.key)], args=[guard.expected]))
            if res is not None and isinstance(res[0], int):
                raise GuardMoved(int(res[1]))
            guard.confirmed = True
        if res is None:
            return None
        return Consumed(json.loads(res[0]), first=bool(int(res[1])))

    def take(self, key: str) -> dict[str, Any] | None:
        raw = self._call(lambda: self.client.getdel(_k(key)))
        return json.loads(raw) if raw is not None else None

    def destroy(self, key: str) -> None:
        self._call(lambda: self.client.delete(_k(key), _k(key) + ":used"))

    def destroy_many(self, keys: list[str]) -> None:
        """One ``DEL`` of every record and its replay marker (per key on a Cluster, whose slots they span)."""
        if not self._one_node:
            super().destroy_many(keys)
            return
        names = [n for k in keys for n in (_k(k), _k(k) + ":used")]
        if names:
            self._call(lambda: self.client.delete(*names))

    def revoke_by_grant(self, grant_id: str) -> int:
        gk = _k("grant:" + grant_id)

        def run() -> int:
            # SPOP until the set is empty: a record filed while this runs is either popped and deleted
            # here or stays in the set for the next revocation; none can fall out of it unrevoked
            live = 0
            while True:
                members = self.client.spop(gk, 256)
                if not members:
                    return live
                pipe = self.client.pipeline(transaction=False)
                for m in members:
                    pipe.delete(_k(m.decode() if isinstance(m, bytes) else m))
                live += sum(int(n) for n in pipe.execute())

        return self._call(run)

    def grant_members(self, grant_id: str, prefix: str = "") -> list[str]:
        members = self._call(lambda: self.client.smembers(_k("grant:" + grant_id)))
        keys = (m.decode() if isinstance(m, bytes) else str(m) for m in members or ())
        return [k for k in keys if k.startswith(prefix)]

    def incr(self, key: str, expires_in: int, amount: int = 1) -> int:
        def run() -> int:
            pipe = self.client.pipeline(transaction=False)
            pipe.incrby(_k(key), amount)
            pipe.expire(_k(key), max(1, int(expires_in)), nx=True)
            return int(pipe.execute()[0])

        return self._call(run)

    def counter(self, key: str) -> int:
        raw = self._call(lambda: self.client.get(_k(key)))
        return int(raw) if raw is not None else 0

    def upsert_while_live(
        self, key: str, payload: dict[str, Any], expires_in: int, grant_id: str, witness: str
    ) -> bool:
        """One Lua script on a single node; on a Cluster, whose slots the three keys may span: file, then look
        for the witness and undo when it is gone (a revocation that ran meanwhile removed one or the other)."""
        ttl = max(1, int(expires_in))
        if not isinstance(self.client, redis.RedisCluster):
            data = json.dumps(payload, separators=(",", ":"))
            keys = [_k(key), _k("grant:" + grant_id), _k(witness)]
            return bool(self._call(lambda: self._upsert_while_live(keys=keys, args=[data, ttl, key])))
        self.upsert(key, payload, ttl, grant_id=grant_id)
        if self._call(lambda: self.client.exists(_k(witness))):
            return True
        self.destroy(key)
        return False

    def acquire_slot(self, key: str, limit: int, expires_in: int) -> bool:
        keys = [_k(key), _k(key) + ":slots"]  # one hash tag: one Cluster slot
        return bool(self._call(lambda: self._acquire_slot(keys=keys, args=[limit, max(1, int(expires_in))])))

    def release_slot(self, key: str) -> None:
        self._call(lambda: self._release_slot(keys=[_k(key) + ":slots"]))

    def release_slots(self, keys: list[str]) -> None:
        """One script giving back every slot (per key on a Cluster, whose slots they span)."""
        if not self._one_node:
            super().release_slots(keys)
            return
        if keys:
            self._call(lambda: self._release_slot(keys=[_k(k) + ":slots" for k in keys]))

    def advance(self, key: str, value: int, expires_in: int) -> bool:
        return bool(self._call(lambda: self._advance(keys=[_k(key)], args=[value, max(1, int(expires_in))])))

    def ping(self) -> None:
        self._call(self.client.ping)

    def close(self) -> None:
        self.client.close()
