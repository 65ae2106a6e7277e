"""Create or upgrade the database schema with Alembic; safe to run twice, and from several nodes at once.

On PostgreSQL an advisory lock serialises concurrent upgrades, so nodes
starting together run each migration once; on SQLite (one host) a lock file does.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

from idp.storage.database import Database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_LOCK_ID = 0x1D9_5C4E  # advisory lock id for schema upgrades
_INIT_LOCK_ID = 0x1D9_5C4F  # advisory lock id for the whole of ``idp init`` (schema, then master tenant and key)


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # Alembic's options go through ConfigParser interpolation: a literal "%" (a percent-encoded password,
    # ``?options=-csearch_path%3D...``) must be doubled. env.py uses the engine below, not this URL.
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    cfg.attributes["engine"] = db.engine
    return cfg


def upgrade(db: Database) -> None:
    """Bring the schema to the newest revision."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _LOCK_ID})
            try:
                cfg = alembic_config(db)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                conn.commit()
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _LOCK_ID})
                conn.commit()
        return
    # SQLite: one host; a lock file next to the database serialises concurrent `idp init` runs
    path = db.engine.url.database
    if path and path != ":memory:":
        with open(f"{path}.migrate.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                command.upgrade(alembic_config(db), "head")
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return
    command.upgrade(alembic_config(db), "head")


def current_revision(db: Database) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def initialisation_lock(db: Database) -> Iterator[None]:
    """Hold a lock that every node's ``idp init`` takes, so only one initialises at a time.

    :func:`upgrade` alone is serialised, but what ``idp init`` does after it (create the ``master``
    tenant, its first signing key) must be too, or nodes started together race on them. PostgreSQL:
    a session advisory lock (its own id, so :func:`upgrade` can take its lock inside). SQLite: an
    exclusive ``flock`` on a file beside the database (every node of a SQLite set-up shares the host).
    """
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _INIT_LOCK_ID})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _INIT_LOCK_ID})
                conn.commit()
        return
    database = db.engine.url.database
    if db.engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    lock_path = Path(database).with_name(Path(database).name + ".init-lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
