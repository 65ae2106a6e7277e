"""Where the benchmarked IdP keeps its state: PostgreSQL and Redis when they answer, else the embedded default."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
#: Fixed bench secret (32+ characters); the bench server runs with IDP_ENV=development for http on loopback.
SECRET_KEY = "bench-secret-key-" + "b" * 32


def reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1.0):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_ok(url: str) -> bool:
    if not reachable(url, 5432):
        return False
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:
        return False


def _redis_ok(url: str) -> bool:
    if not reachable(url, 6379):
        return False
    try:
        import redis

        redis.Redis.from_url(url, socket_timeout=2).ping()
        return True
    except Exception:
        return False


@dataclass
class BenchEnv:
    """The settings of one bench run's IdP (an instance folder, a database, an ephemeral store)."""

    instance: Path
    database_url: str
    redis_url: str
    schema: str = ""
    port: int = field(default_factory=free_port)

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def description(self) -> str:
        db = f"PostgreSQL (schema {self.schema})" if self.schema else "embedded SQLite"
        store = "Redis" if self.redis_url else "embedded SQLite store"
        return f"{db} + {store}"

    def environ(self) -> dict[str, str]:
        env = {
            "IDP_ENV": "development",
            "IDP_INSTANCE_PATH": str(self.instance),
            "IDP_SECRET_KEY": SECRET_KEY,
            "IDP_PUBLIC_URL": self.public_url,
            "IDP_MAIL_BACKEND": "outbox",
            "IDP_SMS_BACKEND": "outbox",
            "IDP_LOG_LEVEL": "INFO",
            "PROMETHEUS_MULTIPROC_DIR": str(self.instance / "metrics"),
        }
        if self.database_url:
            env["IDP_DATABASE_URL"] = self.database_url
        if self.schema:
            env["PGOPTIONS"] = f"-c search_path={self.schema}"
        if self.redis_url:
            env["IDP_REDIS_URL"] = self.redis_url
        return env

    def settings(self):  # type: ignore[no-untyped-def]
        from idp.settings import Settings

        return Settings.from_env(environ=self.environ())

    def drop(self) -> None:
        """Remove the schema this run created (the instance folder is a temporary one)."""
        if self.schema:
            import psycopg

            try:
                with psycopg.connect(self.database_url, autocommit=True, options="") as conn:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
            except Exception:
                pass


def make_env(backend: str = "auto") -> BenchEnv:
    """``auto``: PostgreSQL + Redis when both answer, else the embedded default; ``embedded`` forces it."""
    instance = Path(tempfile.mkdtemp(prefix="idp-bench-")) / "instance"
    instance.mkdir(parents=True)
    use_pg = backend != "embedded" and _pg_ok(PG_URL)
    use_redis = backend != "embedded" and _redis_ok(REDIS_URL)
    if use_pg:
        import psycopg

        schema = "bench_" + uuid.uuid4().hex[:10]
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        # The schema goes in libpq's PGOPTIONS, not in the URL: Alembic's config refuses a '%' in a URL.
        os.environ["PGOPTIONS"] = f"-c search_path={schema}"
        return BenchEnv(instance, PG_URL, REDIS_URL if use_redis else "", schema)
    return BenchEnv(instance, "", REDIS_URL if use_redis else "")
