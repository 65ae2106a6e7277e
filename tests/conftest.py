"""Shared fixtures: real servers on loopback ports, real SQLite/PostgreSQL and Redis.

- ``make_services`` / ``services``: the service layer on a fresh instance folder (SQLite files).
- ``live_server``: the app served by a real HTTP server on a free loopback port, in a thread.
- ``tenant_factory``: tenants with random names, so tests never share state in Redis.
- ``IDP_TEST_DATABASE_URL`` (set by the test command when PostgreSQL answers) adds PostgreSQL runs
  to tests parametrised with ``database_url``.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from idp import Settings, create_app
from idp.services import Services
from idp.storage.schema import upgrade

pytest_plugins = ("plugins.aws", "plugins.axe", "plugins.browser")

REDIS_URL = os.environ.get("IDP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_URL = os.environ.get("IDP_TEST_DATABASE_URL", "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_schema_url(base: str) -> str:
    """A fresh schema in the test database, so runs never see each other's rows."""
    schema = "t_" + uuid.uuid4().hex[:12]
    eng = create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with eng.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    eng.dispose()
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def database_urls() -> list[Any]:
    params = [pytest.param("sqlite", id="sqlite")]
    if PG_URL:
        params.append(pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres))
    return params


@pytest.fixture
def instance_path(tmp_path: Path) -> Path:
    return tmp_path / "instance"


@pytest.fixture
def make_settings(instance_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        base: dict[str, Any] = {"instance_path": str(instance_path), "secret_key": "test-secret-" + "x" * 32}
        base.update(overrides)
        if base.get("database_url") == "postgresql":
            base["database_url"] = _pg_schema_url(PG_URL)
        elif base.get("database_url") == "sqlite":
            base["database_url"] = ""
        return Settings.from_env(environ={}, **base)

    return make


@pytest.fixture
def make_services(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., Services]]:
    made: list[Services] = []

    def make(**overrides: Any) -> Services:
        app = create_app(make_settings(**overrides))
        services: Services = app.extensions["idp"]
        upgrade(services.db)
        made.append(services)
        return services

    yield make
    for s in made:
        s.close()


@pytest.fixture
def services(make_services: Callable[..., Services]) -> Services:
    return make_services()


@dataclass
class LiveServer:
    url: str
    app: Any
    services: Services

    def realm(self, slug: str) -> str:
        return f"{self.url}/realms/{slug}"


@pytest.fixture
def make_live_server(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., LiveServer]]:
    servers: list[tuple[Any, threading.Thread, Services]] = []

    def make(registry: Any = None, **overrides: Any) -> LiveServer:
        """A server on a free port; ``overrides`` are settings, ``registry`` a flow registry of the test's own."""
        port = free_port()
        overrides.setdefault("public_url", f"http://127.0.0.1:{port}")
        app = create_app(make_settings(**overrides), registry=registry)
        services: Services = app.extensions["idp"]
        upgrade(services.db)
        server = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread, services))
        return LiveServer(url=f"http://127.0.0.1:{port}", app=app, services=services)

    yield make
    for server, thread, services in servers:
        server.shutdown()
        thread.join(5)
        services.close()


@pytest.fixture
def live_server(make_live_server: Callable[..., LiveServer]) -> LiveServer:
    return make_live_server()


def random_slug(prefix: str = "t") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@pytest.fixture
def tenant_factory() -> Callable[..., Any]:
    def make(services: Services, slug: str | None = None, **kwargs: Any) -> Any:
        return services.tenants.create(slug or random_slug(), **kwargs)

    return make
