"""``idp serve`` as operators run it (granian): the multiprocess metrics folder, a worker crash, a graceful reload.

One node (two worker processes) on a SQLite file and a Redis of the test's own, with
``PROMETHEUS_MULTIPROC_DIR`` set as the image sets it.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import requests
from conftest import free_port

from production.conftest import RedisServer
from production.nodes import Deployment


def _workers(master_pid: int) -> set[int]:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children")
    return {int(p) for p in children.read_text().split()} if children.exists() else set()


def _wait(predicate, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    """Polls ``predicate`` until it holds; the timeout only bounds a hung server (a loaded machine can be slow)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=30).status_code == 200
    except requests.ConnectionError:
        return False


def test_metrics_folder_reload_and_a_crashed_worker(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    (metrics / "counter_4242.db").write_bytes(b"values of a previous run")  # must not be counted (nor break /metrics)
    redis_server = RedisServer(free_port())
    redis_server.start()
    d = Deployment(tmp_path, f"sqlite:///{tmp_path / 'idp.db'}", redis_server.url, "http://127.0.0.1:9", tmp_path / "instance")
    try:
        assert d.run_cli("init").returncode == 0
        node = d.start_node("a", workers=2, PROMETHEUS_MULTIPROC_DIR=str(metrics))
        assert not (metrics / "counter_4242.db").exists()  # idp serve emptied the folder before its workers started
        assert requests.get(f"{node.url}/metrics", timeout=10).status_code == 200
        # both workers up (a worker lost while the server is still starting stops the server, for the
        # orchestrator to restart: a crash at start-up is a bad deployment, not a worker to replace)
        _wait(lambda: len(_workers(node.proc.pid)) == 2 and node.log_text().count("Started worker-") == 2)
        first = _workers(node.proc.pid)

        # a worker dies: the server starts another, the service goes on
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        _wait(lambda: victim not in _workers(node.proc.pid) and len(_workers(node.proc.pid)) == 2)
        _wait(lambda: _answers(f"{node.url}/readyz"))

        # graceful reload (SIGHUP): workers respawned one by one, requests keep being answered throughout;
        # each worker listens on its own SO_REUSEPORT socket, so a connection still waiting in the accept
        # queue of a worker as it stops is reset (at most a few, for the client or load balancer to retry)
        before = _workers(node.proc.pid)
        os.kill(node.proc.pid, signal.SIGHUP)
        statuses, resets = [], 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (_workers(node.proc.pid) and _workers(node.proc.pid).isdisjoint(before)):
            try:
                statuses.append(requests.get(f"{node.url}/healthz", timeout=30).status_code)
            except requests.ConnectionError:
                resets += 1
        assert _workers(node.proc.pid).isdisjoint(before)
        # every request sent while the workers were replaced was answered (however many the machine's
        # speed allowed), but for at most one reset per stopping worker
        assert statuses and set(statuses) <= {200} and resets <= 2, (statuses, resets)
        assert requests.get(f"{node.url}/metrics", timeout=10).status_code == 200
    finally:
        d.close()
        redis_server.stop()
