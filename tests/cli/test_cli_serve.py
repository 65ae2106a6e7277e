"""``idp serve``: granian (several worker processes) and ``--dev`` (Flask's reloader), on real loopback ports."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from cli.support import Idp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    pytest.fail(f"server did not answer at {url} within {timeout} s:\n{log.read_text()}")


@pytest.fixture
def start(initialised: Idp, tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    procs: list[subprocess.Popen[bytes]] = []

    def run(*args: str) -> tuple[str, subprocess.Popen[bytes], Path]:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
        env.update({k: v for k, v in initialised.env.items() if v is not None})
        env["IDP_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
        log = tmp_path / f"serve-{port}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "idp.cli", "serve", "--port", str(port), *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: the reloader's child and the server's workers stop with it
            )
        procs.append(proc)
        return f"http://127.0.0.1:{port}", proc, log

    yield run
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def test_serve_runs_worker_processes(start) -> None:  # type: ignore[no-untyped-def]
    url, proc, log = start("--workers", "2")
    wait_until_up(f"{url}/healthz", proc, log)
    ready = requests.get(f"{url}/readyz", timeout=5)
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {"database": "ok", "store": "ok"}
    # both workers up (the second may start later on a loaded host): a SIGTERM that meets a worker still importing
    # the app waits for granian's workers-kill-timeout (30 s) before that worker is killed
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and log.read_text().count("Started worker-") < 2:
        time.sleep(0.2)
    assert log.read_text().count("Spawning worker-") == 2 and log.read_text().count("Started worker-") == 2
    workers = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    assert len(workers) == 2  # `idp serve` became the server's main process, which runs two workers
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(15) == 0


def test_serve_refuses_oversized_headers_before_the_app(start) -> None:  # type: ignore[no-untyped-def]
    url, proc, log = start("--workers", "1")
    wait_until_up(f"{url}/healthz", proc, log)
    assert requests.get(f"{url}/healthz", headers={"X-Padding": "a" * 8000}, timeout=5).status_code == 200
    assert requests.get(f"{url}/healthz", headers={"X-Padding": "a" * 100_000}, timeout=5).status_code == 431


def test_serve_dev_uses_the_reloader(start) -> None:  # type: ignore[no-untyped-def]
    url, proc, log = start("--dev")
    wait_until_up(f"{url}/healthz", proc, log)
    assert "restarting with" in log.read_text().lower()  # werkzeug's reloader started a watched child


def test_serve_refuses_before_init(idp: Idp) -> None:
    line = idp.refused("serve", "--port", "1")
    assert line.startswith("error: the database has no schema") and "idp init" in line


def test_serve_refuses_production_without_secret(initialised: Idp) -> None:
    initialised.env.update({"IDP_ENV": "production", "IDP_SECRET_KEY": None})
    line = initialised.refused("serve")
    assert line == "error: IDP_SECRET_KEY must be set (32 characters or more) when IDP_ENV=production"
