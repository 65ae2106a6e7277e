"""The benchmark harness runs end to end on tiny durations, so it cannot rot (issue 7).

One run of ``python -m bench`` on the embedded default (no PostgreSQL or Redis needed): every HTTP case,
the login and self-recovery flows, the raw argon2id rate and both scale steps, then the table, JSON and chart.
The figures of such a short run mean nothing; only that every case ran without an error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CASES = ("discovery", "jwks", "client_credentials_rs256", "client_credentials_es256", "code_exchange", "code_exchange_es256",
         "refresh", "refresh_es256", "userinfo", "introspection", "login", "login_passkey", "recovery")


def test_bench_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--backend", "embedded", "--no-peer", "--duration", "1", "--warmup", "0.5",
         "--workers", "1", "--users", "3000", "--tenants", "30", "--out", str(out)],
        check=False, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "embedded SQLite + embedded SQLite store" in proc.stderr
    data = json.loads((out / "latest.json").read_text())
    ours = {r["case"]: r for r in data["results"] if r["server"] == "ours"}
    assert set(CASES) <= set(ours)
    for case in CASES:
        r = ours[case]
        assert r["errors"] == 0 and r["rps"] > 0 and r["requests"] > 0, r
        assert r["server_cores"] > 0 and r["rss_mb"], r
    assert ours["login"]["extra"]["logins"] >= 1 and ours["recovery"]["extra"]["recoveries"] >= 1
    assert ours["login_passkey"]["extra"]["logins"] >= 1  # passwordless passkey sign-ins (issue 14)
    assert data["argon2"]["verifies_per_s"] > 0
    assert [s["users"] for s in data["scale"]["users"]] == [1000, 3000]
    assert data["scale"]["tenants"][-1]["tenants"] >= 30 and data["scale"]["tenants"][-1]["discovery_errors"] == 0
    assert (out / "throughput.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (out / "latest.md").read_text()
    assert "| client_credentials_rs256 |" in table and "| target | measured | met |" in table
