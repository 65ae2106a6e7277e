"""The reference peer, node-oidc-provider (``../shared/peers/node-oidc``), started and stopped by the bench."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from pathlib import Path

from bench.procs import Server, wait_http
from bench.wrkrun import Result, add_rss, wrk

PEERS = Path(os.environ.get("BENCH_PEERS", Path(__file__).resolve().parents[2] / "shared" / "peers"))
PEER_HOME = Path(os.environ.get("PEER_HOME", Path.home() / ".cache" / "idp-peers" / "node-oidc"))


def available() -> str:
    """Empty when the peer can run here, else why not."""
    if not (PEERS / "node-oidc" / "server.mjs").is_file():
        return f"no peer at {PEERS}/node-oidc"
    if not shutil.which("node") or not shutil.which("npm"):
        return "node/npm not found"
    return ""


def _install() -> None:
    PEER_HOME.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json", "server.mjs"):
        shutil.copy(PEERS / "node-oidc" / name, PEER_HOME / name)
    if not (PEER_HOME / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEER_HOME, check=True, capture_output=True, timeout=600)


def run(alg: str, port: int, duration: float, warmup: float, raw: Path, cases: tuple[str, ...]) -> list[Result]:
    """Start node-oidc-provider with ``alg`` (as ``node-oidc/run.sh`` does, under our own pid), measure, stop."""
    _install()
    env = {**os.environ, "NODE_ENV": "production", "PORT": str(port), "ALG": alg, "ACCESS_TOKEN_FORMAT": "jwt"}
    server = Server(f"peer-{alg}", ["node", "server.mjs"], env, raw / f"peer-{alg}.log", cwd=str(PEER_HOME))
    base = f"http://127.0.0.1:{port}"
    out: list[Result] = []
    try:
        wait_http(f"{base}/.well-known/openid-configuration", 60, server.proc)
        basic = base64.b64encode(b"bench:bench-secret").decode()
        label = f"peer-{alg.lower()}"
        plan = {
            "discovery": (f"{base}/.well-known/openid-configuration", "get.lua", {}),
            "jwks": (f"{base}/jwks", "get.lua", {}),
            f"client_credentials_{alg.lower()}": (f"{base}/token", "client_credentials.lua", {"WRK_BASIC": basic, "WRK_SCOPE": "api:read"}),
        }
        for case in cases:
            url, script, extra = plan[case]
            res = wrk(case, label, url, script, server.pid, duration, warmup, extra, raw)
            out.append(add_rss(res, [server.pid]))
    finally:
        server.stop()
    return out
