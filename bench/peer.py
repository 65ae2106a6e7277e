"""The reference peer, node-oidc-provider (``../shared/peers/node-oidc``), started and stopped by the bench.

Besides discovery, JWKS and ``client_credentials`` (``../shared/peers/bench.sh``), it measures the peer's own code
exchange and refresh rotation as ``../shared/peers/grants.py`` does: the peer is started with ``MINT_PORT`` (its
loopback side server mints single-use codes, PKCE S256, and refresh tokens in its own store, as its authorization
endpoint would), and wrk spends each once with the same pool script and settings as our code exchange and refresh
(on free ports, with the bench's durations, instead of grants.py's fixed 3100/3101 and 10 s).
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path

from bench.procs import Server, wait_http
from bench.wrkrun import Result, add_rss, pool_case, wrk

PEERS = Path(os.environ.get("BENCH_PEERS", Path(__file__).resolve().parents[2] / "shared" / "peers"))
#: The peer's bench client redirect URI and PKCE verifier (``node-oidc/server.mjs``, ``grants.py``).
REDIRECT_URI = "http%3A%2F%2F127.0.0.1%3A9999%2Fcb"
VERIFIER = "bench-verifier-0123456789-0123456789-0123456789-0123"
#: The peer's grant cases: what its side server mints for each, and the form that spends one.
GRANTS = {
    "code_exchange": ("code", f"grant_type=authorization_code&code={{}}&redirect_uri={REDIRECT_URI}&code_verifier={VERIFIER}", '"id_token"'),
    "refresh": ("refresh", "grant_type=refresh_token&refresh_token={}", '"refresh_token"'),
}
#: The peer set up for UserInfo and introspection (its own server.mjs has neither for its access tokens).
RESOURCE_SERVER = Path(__file__).resolve().parent / "peer_resource.mjs"
#: The cases measured on :data:`RESOURCE_SERVER`, with the same wrk script and expectations as ours.
RESOURCE_CASES = ("userinfo", "introspection")
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
    shutil.copy(RESOURCE_SERVER, PEER_HOME / RESOURCE_SERVER.name)
    if not (PEER_HOME / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEER_HOME, check=True, capture_output=True, timeout=600)


def _minter(mint_port: int, kind: str) -> Callable[[int], list[str]]:
    def mint(n: int) -> list[str]:
        out: list[str] = []
        while n > 0:
            k = min(n, 5000)
            with urllib.request.urlopen(f"http://127.0.0.1:{mint_port}/mint?kind={kind}&n={k}", timeout=300) as r:
                out += r.read().decode().split()
            n -= k
        return out

    return mint


def run(alg: str, port: int, duration: float, warmup: float, raw: Path, cases: tuple[str, ...], mint_port: int = 0) -> list[Result]:
    """Start node-oidc-provider with ``alg`` (as ``node-oidc/run.sh`` does, under our own pid), measure, stop.

    ``cases`` may name the grant cases (``code_exchange``, ``refresh``, with the ``_es256`` suffix for ES256);
    they need ``mint_port``, a free port for the peer's minting side server."""
    _install()
    env = {**os.environ, "NODE_ENV": "production", "PORT": str(port), "ALG": alg, "ACCESS_TOKEN_FORMAT": "jwt"}
    if mint_port:
        env["MINT_PORT"] = str(mint_port)
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
        suffix = "" if alg == "RS256" else f"_{alg.lower()}"
        for case in cases:
            grant = case.removesuffix(suffix) if suffix else case
            if grant in GRANTS and mint_port:
                kind, body, expect = GRANTS[grant]
                first = 600 if duration < 8 else 3000
                res = pool_case(case, f"{base}/token", _minter(mint_port, kind), body, basic, expect, server.pid, duration, warmup, raw,
                                first, server=label)
            else:
                url, script, extra = plan[case]
                res = wrk(case, label, url, script, server.pid, duration, warmup, extra, raw)
            out.append(add_rss(res, [server.pid]))
    finally:
        server.stop()
    return out


def run_resource(alg: str, port: int, mint_port: int, duration: float, warmup: float, raw: Path, cases: tuple[str, ...]) -> list[Result]:
    """UserInfo (``GET /me``) and introspection of the peer (:data:`RESOURCE_SERVER`), one minted access token each,
    as our cases call ours (``bearer.lua``: the same token on every request)."""
    _install()
    env = {**os.environ, "NODE_ENV": "production", "PORT": str(port), "MINT_PORT": str(mint_port), "ALG": alg}
    server = Server(f"peer-resource-{alg}", ["node", RESOURCE_SERVER.name], env, raw / f"peer-resource-{alg}.log", cwd=str(PEER_HOME))
    base = f"http://127.0.0.1:{port}"
    out: list[Result] = []
    try:
        wait_http(f"{base}/.well-known/openid-configuration", 60, server.proc)
        token = _minter(mint_port, "access")(1)[0]
        basic = base64.b64encode(b"bench:bench-secret").decode()
        plan = {
            "userinfo": (f"{base}/me", {"WRK_TOKEN": token, "WRK_EXPECT": '"sub"'}),
            "introspection": (f"{base}/token/introspection", {"WRK_BASIC": basic, "WRK_BODY": f"token={token}", "WRK_EXPECT": '"client_id"'}),
        }
        for case in cases:
            url, extra = plan[case]
            res = wrk(case, f"peer-{alg.lower()}", url, "bearer.lua", server.pid, duration, warmup, extra, raw)
            out.append(add_rss(res, [server.pid]))
    finally:
        server.stop()
    return out
