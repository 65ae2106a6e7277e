"""Embedded ephemeral store: one SQLite file shared by every worker process of a host.

WAL mode lets readers run beside one writer; atomic operations take the write
lock first (``BEGIN IMMEDIATE``), so two processes never both consume a record.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from idp.store.base import Consumed, EphemeralStore, Guard, GuardMoved, StoreUnavailable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,
    payload TEXT NOT NULL,
    grant_id TEXT,
    expires_at REAL NOT NULL,
    consumed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ix_entries_grant ON entries (grant_id);
CREATE INDEX IF NOT EXISTS ix_entries_expiry ON entries (expires_at);
CREATE TABLE IF NOT EXISTS counters (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL,
    expires_at REAL NOT NULL
);
"""

#: One sweep of expired rows every this many writes (per process).
_SWEEP_EVERY = 500


class SQLiteStore(EphemeralStore):
    """The embedded backend (no service to run)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._writes = 0
        self._conn().executescript(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as exc:  # pragma: no cover - disk gone
                raise StoreUnavailable(str(exc)) from exc
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn()
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield conn
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreUnavailable(str(exc)) from exc
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            self._sweep()

    def _sweep(self) -> None:
        now = time.time()
        conn = self._conn()
        conn.execute("DELETE FROM entries WHERE expires_at <= ?", (now,))
        conn.execute("DELETE FROM counters WHERE expires_at <= ?", (now,))

    def upsert(self, key: str, payload: dict[str, Any], expires_in: int, grant_id: str | None = None) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO entries (key, payload, grant_id, expires_at, consumed) VALUES (?, ?, ?, ?, 0)",
                (key, json.dumps(payload, separators=(",", ":")), grant_id, time.time() + expires_in),
            )

    def touch(self, key: str, payload: dict[str, Any], expires_in: int) -> bool:
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE entries SET payload = ?, expires_at = ? WHERE key = ? AND expires_at > ?",
                (json.dumps(payload, separators=(",", ":")), time.time() + expires_in, key, time.time()),
            )
            return cur.rowcount == 1

    def find(self, key: str) -> dict[str, Any] | None:
        row = self._conn().execute(
            "SELECT payload FROM entries WHERE key = ? AND expires_at > ?", (key, time.time())
        ).fetchone()
        return json.loads(row[0]) if row else None

    def find_many(self, keys: list[str], guard: Guard | None = None) -> list[dict[str, Any] | None]:
        """One ``SELECT ... IN`` for all the keys (after the guard's counter: a local read, no round trip)."""
        self._check(guard)
        if not keys:
            return []
        marks = ",".join("?" * len(keys))
        rows = self._conn().execute(
            f"SELECT key, payload FROM entries WHERE key IN ({marks}) AND expires_at > ?", (*keys, time.time())
        ).fetchall()
        found = {k: json.loads(p) for k, p in rows}
        return [found.get(k) for k in keys]

    def consume(self, key: str, guard: Guard | None = None) -> Consumed | None:
        with self._tx() as conn:
            if guard is not None:
                found = conn.execute("SELECT value FROM counters WHERE key = ? AND expires_at > ?", (guard.key, time.time())).fetchone()
                current = int(found[0]) if found else 0
                if current != guard.expected:
                    raise GuardMoved(current)  # the transaction rolls back: nothing consumed
                guard.confirmed = True
            row = conn.execute(
                "SELECT payload, consumed FROM entries WHERE key = ? AND expires_at > ?", (key, time.time())
            ).fetchone()
            if row is None:
                return None
            if not row[1]:
                conn.execute("UPDATE entries SET consumed = 1 WHERE key = ?", (key,))
            return Consumed(json.loads(row[0]), first=not row[1])

    def take(self, key: str) -> dict[str, Any] | None:
        with self._tx() as conn:
            row = conn.execute(
                "SELECT payload FROM entries WHERE key = ? AND expires_at > ?", (key, time.time())
            ).fetchone()
            conn.execute("DELETE FROM entries WHERE key = ?", (key,))
            return json.loads(row[0]) if row else None

    def destroy(self, key: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM entries WHERE key = ?", (key,))
            conn.execute("DELETE FROM counters WHERE key = ?", (key,))

    def destroy_many(self, keys: list[str]) -> None:
        if not keys:
            return
        marks = ",".join("?" * len(keys))
        with self._tx() as conn:
            conn.execute(f"DELETE FROM entries WHERE key IN ({marks})", keys)
            conn.execute(f"DELETE FROM counters WHERE key IN ({marks})", keys)

    def revoke_by_grant(self, grant_id: str) -> int:
        with self._tx() as conn:
            cur = conn.execute(
                "DELETE FROM entries WHERE grant_id = ? AND expires_at > ?", (grant_id, time.time())
            )
            live = cur.rowcount
            conn.execute("DELETE FROM entries WHERE grant_id = ?", (grant_id,))
            return live

    def grant_members(self, grant_id: str, prefix: str = "") -> list[str]:
        rows = self._conn().execute(
            "SELECT key FROM entries WHERE grant_id = ? AND expires_at > ? AND substr(key, 1, ?) = ?",
            (grant_id, time.time(), len(prefix), prefix),
        ).fetchall()
        return [str(r[0]) for r in rows]

    def incr(self, key: str, expires_in: int, amount: int = 1) -> int:
        now = time.time()
        with self._tx() as conn:
            conn.execute("DELETE FROM counters WHERE key = ? AND expires_at <= ?", (key, now))
            conn.execute(
                "INSERT INTO counters (key, value, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
                (key, amount, now + expires_in),
            )
            return int(conn.execute("SELECT value FROM counters WHERE key = ?", (key,)).fetchone()[0])

    def counter(self, key: str) -> int:
        row = self._conn().execute(
            "SELECT value FROM counters WHERE key = ? AND expires_at > ?", (key, time.time())
        ).fetchone()
        return int(row[0]) if row else 0

    def upsert_while_live(
        self, key: str, payload: dict[str, Any], expires_in: int, grant_id: str, witness: str
    ) -> bool:
        """Look and write in one write transaction: a revocation runs wholly before or wholly after it."""
        now = time.time()
        with self._tx() as conn:
            if conn.execute("SELECT 1 FROM entries WHERE key = ? AND expires_at > ?", (witness, now)).fetchone() is None:
                return False
            conn.execute(
                "INSERT OR REPLACE INTO entries (key, payload, grant_id, expires_at, consumed) VALUES (?, ?, ?, ?, 0)",
                (key, json.dumps(payload, separators=(",", ":")), grant_id, now + expires_in),
            )
            return True

    def acquire_slot(self, key: str, limit: int, expires_in: int) -> bool:
        now = time.time()
        slots_key = key + ":slots"
        with self._tx() as conn:
            rows = dict(
                conn.execute("SELECT key, value FROM counters WHERE key IN (?, ?) AND expires_at > ?", (key, slots_key, now)).fetchall()
            )
            slots, tally = int(rows.get(slots_key, 0)), int(rows.get(key, 0))
            if slots > 0 and tally + slots >= limit:
                return False
            conn.execute(
                "INSERT OR REPLACE INTO counters (key, value, expires_at) VALUES (?, ?, ?)", (slots_key, slots + 1, now + expires_in)
            )
            return True

    def release_slot(self, key: str) -> None:
        with self._tx() as conn:
            conn.execute("UPDATE counters SET value = value - 1 WHERE key = ?", (key + ":slots",))
            conn.execute("DELETE FROM counters WHERE key = ? AND value <= 0", (key + ":slots",))

    def release_slots(self, keys: list[str]) -> None:
        """Every slot given back in one write transaction."""
        if not keys:
            return
        names = [k + ":slots" for k in keys]
        with self._tx() as conn:
            for name in names:
                conn.execute("UPDATE counters SET value = value - 1 WHERE key = ?", (name,))
            conn.execute(f"DELETE FROM counters WHERE key IN ({','.join('?' * len(names))}) AND value <= 0", names)

    def advance(self, key: str, value: int, expires_in: int) -> bool:
        now = time.time()
        with self._tx() as conn:
            row = conn.execute(
                "SELECT value FROM counters WHERE key = ? AND expires_at > ?", (key, now)
            ).fetchone()
            if row is not None and int(row[0]) >= value:
                return False
            conn.execute(
                "INSERT OR REPLACE INTO counters (key, value, expires_at) VALUES (?, ?, ?)",
                (key, value, now + expires_in),
            )
            return True

    def ping(self) -> None:
        try:
            self._conn().execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            raise StoreUnavailable(str(exc)) from exc

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
