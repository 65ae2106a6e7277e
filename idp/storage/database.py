"""The persistent database: one engine per process, short sessions per unit of work.

On PostgreSQL, a unit of work that only reads costs one round trip per query
(the hot paths read one row: the user of a code exchange or of userinfo):

- **Reads run outside a transaction until the first write.** A pooled connection
  is handed out in autocommit mode; the first statement that is not a plain
  ``SELECT`` (a write, DDL, ``SELECT ... FOR UPDATE``, an advisory lock, a
  sequence) switches it back to transactional mode before it runs, so psycopg
  sends ``BEGIN`` and everything from there commits or rolls back as one unit.
  Under PostgreSQL's default READ COMMITTED isolation every statement takes its
  own snapshot anyway and a plain ``SELECT`` takes no row lock, so a read before
  the ``BEGIN`` sees exactly what it would have seen inside it. A read-only
  unit of work thus sends neither ``BEGIN`` nor ``COMMIT`` (3 round trips → 1).
- **A pooled connection is pinged only after it sat idle** for
  :data:`PING_AFTER_IDLE` seconds, instead of on every checkout
  (``pool_pre_ping``: one more round trip per unit of work). A connection that
  fails the ping is replaced, as ``pool_pre_ping`` does; one that breaks while
  busy fails its request (503, R-95) and SQLAlchemy recycles the whole pool.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

#: Seconds a pooled PostgreSQL connection may sit idle before its next checkout pings it.
PING_AFTER_IDLE = 10.0
#: A statement that may run outside a transaction: a ``SELECT`` that takes no lock and changes nothing.
_PLAIN_READ = re.compile(r"\s*SELECT\b", re.IGNORECASE)
_NOT_PLAIN = re.compile(r"\bFOR\s+(?:UPDATE|SHARE|NO\s+KEY|KEY)\b|pg_advisory|nextval|setval|\bINTO\b", re.IGNORECASE)
_IDLE_SINCE = "idp_idle_since"


def make_engine(url: str) -> Engine:
    """Create the engine for ``url``: SQLite in WAL mode, or a pooled PostgreSQL (psycopg 3)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    # a bounded connect time: an unreachable database host must give a 503 quickly, not hang a worker
    # READ COMMITTED whatever the server's default: reads before a unit of work's first write run outside its
    # transaction (module docstring), which sees the same rows only at this isolation level
    engine = create_engine(
        url,
        pool_size=10,
        max_overflow=10,
        pool_recycle=1800,
        pool_timeout=5,
        connect_args={"connect_timeout": 3},
        isolation_level="READ COMMITTED",
    )
    if engine.dialect.name == "postgresql":
        _reads_outside_transactions(engine)
    return engine


def _reads_outside_transactions(engine: Engine) -> None:
    """Autocommit until the first statement that is not a plain read; ping only idle connections (module docstring)."""

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_conn: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:
        idle_since = record.info.pop(_IDLE_SINCE, None)
        try:
            if not dbapi_conn.autocommit:
                # idle here: the previous unit of work committed or rolled back (a connection that is not,
                # or that broke while pooled, refuses the switch and is replaced below)
                dbapi_conn.autocommit = True
            if idle_since is not None and time.monotonic() - idle_since > PING_AFTER_IDLE:
                with dbapi_conn.cursor() as cur:
                    cur.execute("SELECT 1")
        except Exception as error:
            # the pool discards this connection and checks out another (up to three attempts); a raw
            # driver error here would escape SQLAlchemy's wrapping and the outage handler
            raise exc.DisconnectionError(f"unusable pooled connection: {error.__class__.__name__}") from error

    @event.listens_for(engine, "before_cursor_execute")
    def _begin_before_first_write(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        dbapi_conn = cursor.connection
        if dbapi_conn.autocommit and (not _PLAIN_READ.match(statement) or _NOT_PLAIN.search(statement)):
            dbapi_conn.autocommit = False  # psycopg sends BEGIN before this statement


class Database:
    """Owns the engine and hands out sessions; one instance per app."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        #: Read-only units of work never flush: a change made in one stays pending, so :meth:`read` sees and refuses it.
        self._readers = sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        #: SQL of the statements :meth:`first` ran on PostgreSQL, by statement (module-level constants).
        self._compiled: dict[int, tuple[Any, str, tuple[str, ...]]] = {}
        #: SQL of the statements :meth:`write` ran on PostgreSQL, by statement and parameter names.
        self._compiled_writes: dict[tuple[int, tuple[str, ...]], tuple[Any, str]] = {}
        #: The session of the :meth:`transaction` this context runs in, if any (one per database).
        self._shared: ContextVar[Session | None] = ContextVar(f"idp_db_transaction_{id(self)}", default=None)
        #: What :meth:`after_transaction` asked to run once that transaction has committed.
        self._after: ContextVar[list[Callable[[], None]] | None] = ContextVar(f"idp_db_after_{id(self)}", default=None)

    def in_transaction(self) -> bool:
        """Whether this context runs inside :meth:`transaction` (its units of work join it)."""
        return self._shared.get() is not None

    def after_transaction(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once the enclosing :meth:`transaction` has committed (not if it rolls back).

        Outside one it does nothing: a unit of work commits at its own end, where its caller acts. Services
        use it for what must follow the real commit, e.g. telling other workers a change is visible."""
        pending = self._after.get()
        if pending is not None and callback not in pending:
            pending.append(callback)

    @contextmanager
    def transaction(self, commit: bool = True) -> Iterator[Session]:
        """One transaction around several services' units of work: each :meth:`session` and :meth:`read`
        opened inside it joins it. Commits at the end, or rolls back when ``commit`` is false (a dry run)
        or on any error, so a multi-step change (``idp tenant import``) is written whole or not at all."""
        if self._shared.get() is not None:
            raise RuntimeError("Database.transaction() does not nest")
        session = self._sessions()
        token = self._shared.set(session)
        after: list[Callable[[], None]] = []
        after_token = self._after.set(after)
        try:
            yield session
            if commit:
                session.commit()
            else:
                session.rollback()
                after.clear()
        except BaseException:
            session.rollback()
            after.clear()
            raise
        finally:
            self._shared.reset(token)
            self._after.reset(after_token)
            session.close()
        for callback in after:
            callback()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any error (nothing half-written).

        Inside :meth:`transaction` it is that transaction's session: flushed here, committed there."""
        shared = self._shared.get()
        if shared is not None:
            yield shared
            shared.flush()
            return
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A unit of work that only reads: nothing is committed, so no COMMIT is sent (about a third of a
        one-row read's CPU time). Adding, changing or deleting an object in it is a programming error.
        Inside :meth:`transaction` it is that transaction's session, so it sees the changes made so far."""
        shared = self._shared.get()
        if shared is not None:
            yield shared
            return
        session = self._readers()
        try:
            yield session
            if session.new or session.dirty or session.deleted:
                raise RuntimeError("a read-only unit of work changed objects: use Database.session()")
        finally:
            session.close()

    def first(self, statement: Any, params: dict[str, Any]) -> dict[str, Any] | None:
        """The first row of a Core ``select`` as ``{column key: value}`` (or None), without an ORM session: for the
        hot protocol reads that need a few columns, not an object. Inside :meth:`transaction` it runs on that
        transaction's session, so it sees the changes made so far.

        On PostgreSQL it runs the statement's SQL (compiled once) on a pooled driver connection: psycopg returns
        every column type we map (text, integer, boolean, ``timestamptz`` as an aware datetime) as SQLAlchemy
        would, and the plain read needs none of Core's execution machinery (about half the CPU of a Core
        execution, a third of an ORM one). Elsewhere (SQLite stores datetimes as text) it is a Core execution."""
        shared = self._shared.get()
        if shared is not None:
            row = shared.execute(statement, params).first()
            return dict(row._mapping) if row is not None else None
        if self.engine.dialect.name != "postgresql":
            with self.engine.connect() as conn:
                row = conn.execute(statement, params).first()
            return dict(row._mapping) if row is not None else None
        compiled = self._compiled.get(id(statement))
        if compiled is None or compiled[0] is not statement:
            sql = str(statement.compile(dialect=self.engine.dialect))
            compiled = (statement, sql, tuple(c.key for c in statement.selected_columns))
            self._compiled[id(statement)] = compiled
        _, sql, keys = compiled
        conn = self.engine.raw_connection()
        try:
            cursor = conn.cursor()
            try:
                cursor.execute(sql, params)
                values = cursor.fetchone()
            finally:
                cursor.close()
        finally:
            conn.close()
        return dict(zip(keys, values, strict=True)) if values is not None else None

    def write(self, *operations: tuple[Any, dict[str, Any]]) -> None:
        """Run Core ``insert``/``update`` statements (module-level constants, as for :meth:`first`), each with its
        parameters, as one transaction: all of them or none. Inside :meth:`transaction` they run on that
        transaction's session and commit with it.

        For the hot writes that need no ORM object back (an audit event, a factor's last use): on PostgreSQL they run
        as compiled SQL on a pooled driver connection, which the pool hands out in autocommit mode (module docstring):
        one statement is its own transaction (one round trip, no ``BEGIN``/``COMMIT``), several run between ``BEGIN``
        and ``COMMIT``. A ``dict`` or ``list`` value is sent as JSON, as SQLAlchemy's ``JSON`` type sends it (the
        same ``json.dumps``). About a fifth of the CPU of the same insert through an ORM session. Elsewhere it is a
        Core execution in one transaction."""
        shared = self._shared.get()
        if shared is not None:
            for statement, params in operations:
                shared.execute(statement, params)
            return
        if self.engine.dialect.name != "postgresql":
            with self.engine.begin() as conn:
                for statement, params in operations:
                    conn.execute(statement, params)
            return
        from psycopg.types.json import Json

        prepared = []
        for statement, params in operations:
            keys = tuple(sorted(params))
            compiled = self._compiled_writes.get((id(statement), keys))
            if compiled is None or compiled[0] is not statement:
                compiled = (statement, str(statement.compile(dialect=self.engine.dialect, column_keys=list(keys))))
                self._compiled_writes[(id(statement), keys)] = compiled
            values = {k: Json(v) if isinstance(v, (dict, list)) else v for k, v in params.items()}
            prepared.append((compiled[1], values))
        raw = self.engine.raw_connection()
        try:
            driver = raw.driver_connection
            cursor = raw.cursor()
            try:
                if len(prepared) == 1 and driver.autocommit:  # type: ignore[union-attr]
                    cursor.execute(*prepared[0])
                else:
                    with driver.transaction():  # type: ignore[union-attr]
                        for sql, values in prepared:
                            cursor.execute(sql, values)
            finally:
                cursor.close()
        finally:
            raw.close()

    def dispose(self) -> None:
        self.engine.dispose()
