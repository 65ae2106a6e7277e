"""Several worker processes, one ``/metrics``: with ``PROMETHEUS_MULTIPROC_DIR`` set, every worker
writes its values to that folder and whichever worker answers the scrape reports the sum.

The server is the deployment's own: granian with :mod:`idp.cli.server_conf`'s command
(what ``idp serve`` and the image run), two workers, on a free loopback port. Its stderr is
also where the JSON request lines go, so the log format is checked on a real server too (R-46).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from conftest import free_port

from idp.cli import server_conf
from observability.conftest import scrape, value

N_REQUESTS = 60


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    tmp_path = tmp_path_factory.mktemp("server")
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    log = tmp_path / "server.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "PROMETHEUS_"))},
        "IDP_INSTANCE_PATH": str(tmp_path / "instance"),
        "IDP_SECRET_KEY": "multiprocess-test-" + "k" * 32,
        "IDP_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    argv = server_conf.argv("127.0.0.1", port, workers=2, threads=2)
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                if requests.get(f"{url}/metrics", timeout=10).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        yield url, metrics_dir, log
    finally:
        proc.send_signal(signal.SIGINT)  # quick shutdown
        proc.wait(30)


def _worker_pids(metrics_dir: Path) -> set[str]:
    return {p.stem.rsplit("_", 1)[1] for p in metrics_dir.glob("histogram_*.db")}


def test_counts_from_two_workers_add_up(server: tuple[str, Path, Path]) -> None:
    url, metrics_dir, _log = server
    labels = {"endpoint": "health.healthz", "method": "GET"}
    before = value(scrape(url), "idp_http_request_duration_seconds_count", **labels)

    def hit(_: int) -> int:
        # A new connection each time, several at once: both workers accept some.
        with requests.Session() as s:
            return s.get(f"{url}/healthz", headers={"Connection": "close"}, timeout=10).status_code

    deadline = time.monotonic() + 30
    sent = 0
    while len(_worker_pids(metrics_dir)) < 2 or sent == 0:
        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(hit, range(N_REQUESTS))) == {200}
        sent += N_REQUESTS
        assert time.monotonic() < deadline, "only one worker ever answered"

    assert len(_worker_pids(metrics_dir)) == 2
    # Whichever worker answers the scrape reports the sum over both.
    for _ in range(6):
        samples = scrape(url)
        assert value(samples, "idp_http_request_duration_seconds_count", **labels) - before == sent
        assert value(samples, "idp_http_requests_total", status="200", **labels) - before == sent


def test_request_lines_on_a_real_server_are_json_with_request_ids(server: tuple[str, Path, Path]) -> None:
    url, _metrics_dir, log = server
    rid = "trace-0123456789abcdef"
    secret_code = "Sp1iOx7cQ9zLr"
    response = requests.get(
        f"{url}/healthz",
        params={"code": secret_code, "login_hint": "alice.martin@example.com", "note": "call +33612345678"},
        headers={"X-Request-ID": rid},
        timeout=10,
    )
    assert response.headers["X-Request-ID"] == rid
    # Probes log at DEBUG; a page logs at INFO.
    page = requests.get(f"{url}/no-such-page", params={"state": secret_code}, timeout=10)
    assert page.status_code == 404 and len(page.headers["X-Request-ID"]) == 32
    deadline = time.monotonic() + 10
    while True:
        lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        mine = [r for r in lines if r.get("request_id") == page.headers["X-Request-ID"]]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    (record,) = mine
    assert record["logger"] == "idp.access" and record["status"] == 404 and record["endpoint"] == "unmatched"
    assert record["path"] == "/no-such-page?state=[redacted]"
    text = log.read_text()
    assert secret_code not in text
    assert "alice.martin@example.com" not in text and "33612345678" not in text
