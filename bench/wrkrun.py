"""wrk runs with server CPU accounting (as ../shared/peers/bench.sh does): one thread, 16 connections, loopback only."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bench.procs import cpu_seconds, rss_mb

LUA = Path(__file__).resolve().parent / "lua"
THREADS = 1
CONNECTIONS = 16


@dataclass
class Result:
    """One measured case."""

    case: str
    server: str
    rps: float = 0.0
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    requests: int = 0
    server_cores: float = 0.0
    rps_per_core: float = 0.0
    rss_mb: list[float] = field(default_factory=list)
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def require_wrk() -> str:
    path = shutil.which("wrk")
    if not path:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    return path


def _check_loopback(url: str) -> None:
    host = urlparse(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"the bench only loads loopback addresses, not {host}")


_RESULT = re.compile(r"^RESULT (.*)$", re.MULTILINE)


def parse(out: str) -> dict[str, float]:
    m = _RESULT.findall(out)
    if not m:
        return {}
    return {k: float(v) for k, v in (kv.split("=") for kv in m[-1].split())}


def wrk(
    case: str,
    server: str,
    url: str,
    script: str,
    server_pid: int | None,
    duration: float,
    warmup: float,
    env: dict[str, str] | None = None,
    raw_dir: Path | None = None,
    before_measure: Callable[[], dict[str, str]] | None = None,
) -> Result:
    """Warm up (unrecorded), then measure ``duration`` seconds; CPU of ``server_pid`` and its children over the run."""
    _check_loopback(url)
    exe = require_wrk()
    full_env = {**os.environ, "WRK_THREADS": str(THREADS), **(env or {})}
    args = [exe, f"-t{THREADS}", f"-c{CONNECTIONS}", "-s", str(LUA / script)]
    if warmup > 0:
        subprocess.run([*args, f"-d{max(1, round(warmup))}s", url], check=False, env=full_env, capture_output=True, timeout=warmup + 30)  # whole seconds
    if before_measure is not None:
        full_env.update(before_measure())
    t0 = cpu_seconds(server_pid) if server_pid else 0.0
    w0 = time.monotonic()
    proc = subprocess.run(
        [*args, f"-d{duration:g}s", "--latency", url], check=False, env=full_env, capture_output=True, text=True, timeout=duration + 60
    )
    w1 = time.monotonic()
    t1 = cpu_seconds(server_pid) if server_pid else 0.0
    if raw_dir is not None:
        raw_dir.mkdir(parents=True, exist_ok=True)
        (raw_dir / f"{server}-{case}.txt").write_text(proc.stdout + proc.stderr)
    values = parse(proc.stdout)
    res = Result(case=case, server=server)
    if not values:
        res.note = "wrk failed: " + (proc.stderr or proc.stdout)[-300:]
        return res
    res.rps = values["rps"]
    res.p50_ms = values["p50_ms"]
    res.p99_ms = values["p99_ms"]
    res.errors = int(values["errors"])
    res.requests = int(values["requests"])
    if values.get("exhausted"):
        res.note = f"pool exhausted for {int(values['exhausted'])} requests"
    if server_pid:
        cores = (t1 - t0) / (w1 - w0)
        res.server_cores = round(cores, 3)
        res.rps_per_core = round(res.rps / cores, 1) if cores > 0 else 0.0
    return res


def add_rss(res: Result, worker_pids: list[int]) -> Result:
    res.rss_mb = [round(x, 1) for x in rss_mb(worker_pids)]
    return res


def pool_case(
    case: str, url: str, make: Callable[[int], list[str]], body: str, basic: str, expect: str,
    pid: int, duration: float, warmup: float, raw: Path, first: int, server: str = "ours",
) -> Result:
    """A wrk case that consumes single-use items: a probe (the warm-up) sizes the measured run's pool."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-pool-"))
    env = {"WRK_BODY": body, "WRK_BASIC": basic, "WRK_EXPECT": expect}

    def write(items: list[str]) -> str:
        path = tmp / f"pool-{len(items)}-{time.monotonic_ns()}.txt"
        path.write_text("\n".join(items) + "\n")
        return str(path)

    t = time.monotonic()
    probe_pool = write(make(first))
    mint_rate = first / (time.monotonic() - t)
    probe = subprocess.run(
        # wrk takes whole seconds (a "0.5s" run does not start): the probe runs one second at least
        [require_wrk(), f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{max(1, round(warmup))}s", "-s", str(LUA / "pool.lua"), url],
        check=False, env={**os.environ, **env, "WRK_POOL": probe_pool, "WRK_THREADS": str(THREADS)}, capture_output=True, text=True,
    )
    rate = parse(probe.stdout).get("rps")
    if rate is None:
        raise RuntimeError(f"the {case} probe failed: {(probe.stderr or probe.stdout)[-300:]}")
    need = int(max(rate, 200) * duration * 3) + 1000  # the probe may run slower than the measured run (a shared machine)
    items = make(need)
    res = wrk(case, server, url, "pool.lua", pid, duration, 0, {**env, "WRK_POOL": write(items)}, raw)
    res.extra.update({"pool": need, "probe_rps": rate, "mint_per_s": round(mint_rate)})
    return res
