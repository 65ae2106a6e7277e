"""IdP nodes as real processes: ``idp init`` and ``idp serve`` (granian) with their own ports, one database.

The database is PostgreSQL when ``IDP_TEST_DATABASE_URL`` is set (a fresh schema per deployment, as
``tests/conftest.py`` does), otherwise one SQLite file that every node opens. Every node shares the
secret key and the public URL, as replicas behind a load balancer do. :meth:`Deployment.close` stops
every process it started (SIGTERM to the process group, then SIGKILL), even after a failure.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from conftest import PG_URL, _pg_schema_url, free_port

from idp import Settings, create_app
from idp.services import Services

SECRET_KEY = "production-test-secret-" + "s" * 32


def shared_database_url(folder: Path) -> str:
    """A fresh PostgreSQL schema when the test run has PostgreSQL, else one SQLite file in ``folder``."""
    if PG_URL:
        return _pg_schema_url(PG_URL)
    return f"sqlite:///{folder / 'shared.db'}"


def node_env(database_url: str, redis_url: str, public_url: str, instance: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_") and k not in ("WEB_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR")}
    env.update(
        {
            "IDP_DATABASE_URL": database_url,
            "IDP_REDIS_URL": redis_url,
            "IDP_SECRET_KEY": SECRET_KEY,
            "IDP_PUBLIC_URL": public_url,
            "IDP_INSTANCE_PATH": str(instance),
            "IDP_LOG_LEVEL": "WARNING",
            "PYTHONWARNINGS": "ignore",
        }
    )
    env.update(extra)
    return env


@dataclass
class Node:
    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def realm(self, slug: str) -> str:
        return f"{self.url}/realms/{slug}"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Deployment:
    """Nodes sharing one database and one Redis, plus the test's own service layer on the same state."""

    folder: Path
    database_url: str
    redis_url: str
    public_url: str
    instance: Path
    nodes: list[Node] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    services: Services | None = None

    def env(self, **extra: str) -> dict[str, str]:
        return node_env(self.database_url, self.redis_url, self.public_url, self.instance, **extra)

    def run_cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([sys.executable, "-m", "idp.cli", *args], env=self.env(), capture_output=True, timeout=timeout, check=False)

    def start_node(self, name: str, port: int | None = None, workers: int = 1, **extra_env: str) -> Node:
        port = port or free_port()
        log = self.folder / f"{name}.log"
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "idp.cli", "serve", "--port", str(port), "--workers", str(workers)],
                env=self.env(**extra_env),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.folder,
                start_new_session=True,
            )
        self.procs.append(proc)
        node = Node(name, f"http://127.0.0.1:{port}", proc, log)
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"node {name} exited with {proc.returncode}:\n{node.log_text()[-3000:]}")
            try:
                if requests.get(f"{node.url}/readyz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"node {name} did not become ready:\n{node.log_text()[-3000:]}")
            time.sleep(0.1)
        self.nodes.append(node)
        return node

    def test_services(self) -> Services:
        """The service layer of the test itself, on the same database, Redis, secret and public URL."""
        if self.services is None:
            settings = Settings.from_env(
                environ={},
                instance_path=str(self.instance),
                secret_key=SECRET_KEY,
                database_url=self.database_url,
                redis_url=self.redis_url,
                public_url=self.public_url,
            )
            self.services = create_app(settings).extensions["idp"]
        return self.services

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if self.services is not None:
            self.services.close()


def outbox(services: Services, to: str, kind: str) -> list[Any]:
    from idp.messaging.outbox import read_outbox

    return read_outbox(services.settings.outbox_path, to=to, kind=kind)


def wait_for_message(services: Services, to: str, kind: str, count: int, timeout: float = 20) -> Any:
    """The ``count``-th message of ``kind`` to ``to`` in the shared dev outbox (written by a node process)."""
    deadline = time.monotonic() + timeout
    while True:
        messages = outbox(services, to, kind)
        if len(messages) >= count:
            return messages[count - 1]
        if time.monotonic() > deadline:
            raise AssertionError(f"no {kind} #{count} to {to} within {timeout}s (have {len(messages)})")
        time.sleep(0.05)
