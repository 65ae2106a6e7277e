"""``python -m bench [--quick]``: the whole benchmark in one command (see the README's "Performance" section).

Starts the IdP in its production shape (``idp serve``: granian, one worker process per core), on PostgreSQL + Redis
when they answer (a fresh schema) else the embedded default; seeds tenants, clients and users; measures every
case with wrk (1 thread, 16 connections, loopback) or a threaded load generator for the browser flows; runs
node-oidc-provider (RS256 and ES256) with the same wrk settings; prints and writes ``bench/results/``.
Every server it starts is stopped on the way out, failures included.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from bench import extra, flows, peer, procs, report, seed
from bench.env import BenchEnv, free_port, make_env
from bench.wrkrun import Result, add_rss, pool_case, wrk

RESULTS = Path(__file__).resolve().parent / "results"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "load_before": os.getloadavg()[0],
    }


def real_tokens(base: str, t: seed.Tenant, services: Any) -> dict[str, Any]:
    """One real code exchange through the token endpoint (a code minted by the service)."""
    code = seed.mint_codes(services, t, 1)[0]
    r = requests.post(
        f"{base}/realms/{t.slug}/protocol/openid-connect/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": seed.REDIRECT_URI, "code_verifier": seed.CODE_VERIFIER},
        auth=(t.client_id, t.secret), timeout=30,
    )
    r.raise_for_status()
    return dict(r.json())


def cpu_around(pid: int, fn: Callable[[], Any]) -> tuple[Any, float]:
    c0, w0 = procs.cpu_seconds(pid), time.monotonic()
    value = fn()
    return value, (procs.cpu_seconds(pid) - c0) / (time.monotonic() - w0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short runs and smaller scale steps (about 3 minutes)")
    ap.add_argument("--duration", type=float, help="seconds measured per wrk case (default 10, quick 4)")
    ap.add_argument("--warmup", type=float, help="unrecorded seconds before each wrk case (default 2, quick 1)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="server worker processes (default: cores)")
    ap.add_argument("--backend", choices=("auto", "embedded"), default="auto")
    ap.add_argument("--no-peer", action="store_true", help="skip node-oidc-provider")
    ap.add_argument("--users", type=int, help="user count of the scale step (default 1,000,000, quick 20,000)")
    ap.add_argument("--tenants", type=int, help="tenant count of the scale step (default 10,000, quick 1,000)")
    ap.add_argument("--seed-budget", type=float, default=180.0, help="seconds allowed for bulk-seeding users (stops early)")
    ap.add_argument("--only", help="comma-separated case names to run (smoke tests)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    q = args.quick
    duration = args.duration or (4.0 if q else 10.0)
    warmup = args.warmup if args.warmup is not None else (1.0 if q else 2.0)
    flow_seconds = max(duration * 2, 4.0)
    users_target = args.users or (20_000 if q else 1_000_000)
    tenants_target = args.tenants or (1_000 if q else 10_000)
    only = set(args.only.split(",")) if args.only else None

    def wanted(name: str) -> bool:
        return only is None or name in only

    mach = machine()
    raw = Path(tempfile.mkdtemp(prefix="bench-raw-"))
    env: BenchEnv = make_env(args.backend)
    log(f"state: {env.description}; server {env.public_url}, {args.workers} server workers; raw wrk output in {raw}")
    results: list[Result] = []
    extras: dict[str, Any] = {"machine": mach, "backend": env.description, "workers": args.workers, "duration": duration, "warmup": warmup}
    server = None
    services = None
    started = time.monotonic()
    try:
        services = seed.open_services(env.settings())
        rs = seed.make_tenant(services, "bench-rs", "RS256")
        es = seed.make_tenant(services, "bench-es", "ES256")
        rec = seed.make_tenant(services, "bench-rec", "RS256", recovery=True)
        tiny = duration < 3
        n_login = 40 if tiny else (400 if q else 1500)
        took = seed.bulk_users(services, rs, 1000)
        seed.bulk_users(services, es, 100)
        n_rec = 8 if tiny else (40 if q else 150)
        seed.bulk_users(services, rec, n_rec, prefix="r", phone=True)
        log(f"seeded 1,000 users in {took:.1f}s; adding TOTP factors for {n_login} login users and {n_rec} recovery users")
        if n_login > len(rs.users):
            seed.bulk_users(services, rs, n_login - len(rs.users), prefix="u")
        if wanted("login"):
            seed.add_factors(services, rs, rs.users[:n_login])
        if wanted("recovery"):
            seed.add_factors(services, rec, rec.users, sms=True)
        passkeys: list[Any] = []
        if wanted("login_passkey"):
            n_pk = 20 if tiny else (200 if q else 600)
            seed.bulk_users(services, es, n_pk, prefix="pk")  # on bench-es: bench-rs's user count is the scale step's start
            passkeys = seed.add_passkeys(services, es, es.users[-n_pk:])

        server = procs.start_idp(env.environ(), env.port, args.workers, raw / "idp.log")
        base = env.public_url
        procs.wait_http(f"{base}/realms/bench-rs/.well-known/openid-configuration", 90, server.proc)
        pid = server.pid
        log(f"idp serve up (main process {pid}, workers {server.workers()})")
        realm = f"{base}/realms/bench-rs"
        proto = f"{realm}/protocol/openid-connect"
        basic_rs = base64.b64encode(f"bench:{rs.secret}".encode()).decode()
        basic_es = base64.b64encode(f"bench:{es.secret}".encode()).decode()

        def run(case: str, url: str, script: str, env_: dict[str, str] | None = None) -> None:
            if wanted(case):
                log(f"case {case}")
                results.append(wrk(case, "ours", url, script, pid, duration, warmup, env_, raw))

        run("discovery", f"{realm}/.well-known/openid-configuration", "get.lua")
        run("jwks", f"{proto}/certs", "get.lua")
        run("client_credentials_rs256", f"{proto}/token", "client_credentials.lua", {"WRK_BASIC": basic_rs, "WRK_SCOPE": "profile"})
        run("client_credentials_es256", f"{base}/realms/bench-es/protocol/openid-connect/token", "client_credentials.lua",
            {"WRK_BASIC": basic_es, "WRK_SCOPE": "profile"})
        first = 200 if tiny else (600 if q else 3000)
        if wanted("code_exchange"):
            log("case code_exchange (codes minted with TokenService.save_code)")
            body = f"grant_type=authorization_code&code={{}}&redirect_uri={seed.REDIRECT_URI}&code_verifier={seed.CODE_VERIFIER}"
            results.append(pool_case("code_exchange", f"{proto}/token", lambda n: seed.mint_codes(services, rs, n), body, basic_rs,
                                     '"id_token"', pid, duration, warmup, raw, first))
        if wanted("code_exchange_es256"):
            log("case code_exchange_es256 (tenant signing with ES256)")
            body = f"grant_type=authorization_code&code={{}}&redirect_uri={seed.REDIRECT_URI}&code_verifier={seed.CODE_VERIFIER}"
            results.append(pool_case("code_exchange_es256", f"{base}/realms/bench-es/protocol/openid-connect/token",
                                     lambda n: seed.mint_codes(services, es, n), body, basic_es, '"id_token"', pid, duration, warmup, raw, first))
        if wanted("refresh"):
            log("case refresh (grants filed with TokenService.save_grant)")
            results.append(pool_case("refresh", f"{proto}/token", lambda n: seed.mint_refresh_tokens(services, rs, n),
                                     "grant_type=refresh_token&refresh_token={}", basic_rs, '"refresh_token"', pid, duration, warmup, raw, first))
        if wanted("refresh_es256"):
            log("case refresh_es256 (tenant signing with ES256)")
            results.append(pool_case("refresh_es256", f"{base}/realms/bench-es/protocol/openid-connect/token",
                                     lambda n: seed.mint_refresh_tokens(services, es, n), "grant_type=refresh_token&refresh_token={}",
                                     basic_es, '"refresh_token"', pid, duration, warmup, raw, first))
        if wanted("userinfo") or wanted("introspection"):
            tok = real_tokens(base, rs, services)
            run("userinfo", f"{proto}/userinfo", "bearer.lua", {"WRK_TOKEN": tok["access_token"], "WRK_EXPECT": '"sub"'})
            run("introspection", f"{proto}/token/introspect", "bearer.lua",
                {"WRK_BASIC": basic_rs, "WRK_BODY": f"token={tok['access_token']}", "WRK_EXPECT": '"client_id"'})

        if wanted("login"):
            log(f"case login (authorize, login page, password, TOTP, code, token; {flow_seconds:.0f}s, 8 threads)")
            names = [u[1] for u in rs.users[:n_login]]
            res, cores = cpu_around(pid, lambda: flows.run_load(
                lambda i, b: flows.login_once(base, "bench-rs", rs.client_id, rs.secret, names[i], b), 8, flow_seconds, len(names)))
            s = res.summary()
            r = Result("login", "ours", rps=s["rps"], p50_ms=s["p50_ms"], p99_ms=s["p99_ms"], errors=s["errors"], requests=res.requests,
                       server_cores=round(cores, 3), note=res.first_error[:200])
            r.extra = {"logins_per_s": s["flows_per_s"], "logins": s["done"], "logins_per_core": s["flows_per_s"] / cores if cores else 0.0}
            r.rps_per_core = round(r.rps / cores, 1) if cores else 0.0
            results.append(r)
            log("raw argon2id verify rate (one process per core, server idle)")
            extras["argon2"] = extra.argon2_rate(seed.precomputed_hash(), seed.PASSWORD, os.cpu_count() or 2, 1.0 if tiny else (3.0 if q else 5.0))
        if wanted("login_passkey"):
            log(f"case login_passkey (authorize, login page, passwordless passkey, code, token; {flow_seconds:.0f}s, 8 threads)")
            res, cores = cpu_around(pid, lambda: flows.run_load(
                lambda i, b: flows.passkey_login_once(base, "bench-es", es.client_id, es.secret, passkeys[i], b), 8, flow_seconds, len(passkeys)))
            s = res.summary()
            r = Result("login_passkey", "ours", rps=s["rps"], p50_ms=s["p50_ms"], p99_ms=s["p99_ms"], errors=s["errors"], requests=res.requests,
                       server_cores=round(cores, 3), note=res.first_error[:200])
            r.extra = {"logins_per_s": s["flows_per_s"], "logins": s["done"], "logins_per_core": s["flows_per_s"] / cores if cores else 0.0}
            r.rps_per_core = round(r.rps / cores, 1) if cores else 0.0
            results.append(r)
        if wanted("recovery"):
            log(f"case recovery (request, link, password, SMS code, enrolment; {flow_seconds:.0f}s, 4 threads)")
            outbox = flows.Outbox(env.instance / "outbox")
            rows = []
            for uid, name in rec.users:
                u = services.users.get(rec.view, uid)
                rows.append((name, u.email, u.phone))
            res, cores = cpu_around(pid, lambda: flows.run_load(
                lambda i, b: flows.recovery_once(base, "bench-rec", rows[i][0], rows[i][1], rows[i][2], outbox, b), 4, flow_seconds, len(rows)))
            s = res.summary()
            r = Result("recovery", "ours", rps=s["rps"], p50_ms=s["p50_ms"], p99_ms=s["p99_ms"], errors=s["errors"], requests=res.requests,
                       server_cores=round(cores, 3), note=res.first_error[:200])
            r.rps_per_core = round(r.rps / cores, 1) if cores else 0.0
            r.extra = {"recoveries_per_s": s["flows_per_s"], "recoveries": s["done"]}
            results.append(r)
        workers = server.workers()
        for r in results:
            add_rss(r, workers)

        if wanted("scale"):
            extras["scale"] = scale(services, rs, es, base, pid, raw, users_target, tenants_target, args.seed_budget, q)
        if wanted("sso_memory") and env.redis_url:
            log("Redis memory per SSO session")

            def factory(url: str) -> Any:
                from dataclasses import replace

                return seed.build_services(replace(env.settings(), redis_url=url), services.registry)

            extras["sso_memory"] = extra.sso_memory(factory, rs.view, rs.users, 200 if tiny else (2000 if q else 10000))
    finally:
        if server is not None:
            server.stop()
            log("idp stopped")
        if services is not None:
            services.close()
        env.drop()

    if not args.no_peer:
        why = peer.available()
        if why:
            log(f"peer skipped: {why}")
            extras["peer_skipped"] = why
        else:
            for alg, cases in (("RS256", ("discovery", "jwks", "client_credentials_rs256", "code_exchange", "refresh")),
                               ("ES256", ("client_credentials_es256", "code_exchange_es256", "refresh_es256"))):
                cases = tuple(c for c in cases if wanted(c))
                if cases:
                    log(f"peer node-oidc-provider {alg}: {', '.join(cases)}")
                    results.extend(peer.run(alg, free_port(), duration, warmup, raw, cases, mint_port=free_port()))
            cases = tuple(c for c in peer.RESOURCE_CASES if wanted(c))
            if cases:
                log(f"peer node-oidc-provider RS256 with introspection enabled: {', '.join(cases)}")
                results.extend(peer.run_resource("RS256", free_port(), free_port(), duration, warmup, raw, cases))
    extras["machine"]["load_after"] = os.getloadavg()[0]
    extras["seconds"] = round(time.monotonic() - started)
    extras["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    table = report.write(results, extras, args.out)
    print(table)
    return 0


def scale(services: Any, rs: seed.Tenant, es: seed.Tenant, base: str, pid: int, raw: Path, users_target: int,
          tenants_target: int, budget: float, quick: bool) -> dict[str, Any]:
    """Latency of keyed look-ups as users grow 1,000 → N and tenants grow to M (bulk SQL seeding)."""
    from bench.wrkrun import wrk as run_wrk
    from idp.oidc.tokens import GrantUser

    out: dict[str, Any] = {}
    d = 3.0 if quick else 5.0
    tokens = services.tokens
    client = services.clients.get(rs.view, rs.client_id)
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))

    def userinfo_tokens(n: int) -> str:
        picks = random.sample(rs.users, min(n, len(rs.users)))
        subs = seed._subs(services, rs, picks)
        lines = []
        for uid, _ in picks:
            g = seed.Grant(gid=os.urandom(12).hex(), client_id=rs.client_id, user_id=uid, sub=subs[uid], scope=seed.SCOPE, sid="s",
                           auth_time=int(time.time()), acr="", amr=("pwd",), expires_at=int(time.time()) + 3600)
            tokens.save_grant(rs.view, g)
            user = GrantUser(uid, subs[uid], g.gid, "s", g.auth_time, "", ("pwd",))
            lines.append(tokens.issue_access_token(rs.view, client, seed.SCOPE, user, 3600))
        path = tmp / f"tokens-{len(rs.users)}.txt"
        path.write_text("\n".join(lines) + "\n")
        return str(path)

    def measure_users(label: str) -> dict[str, Any]:
        r = run_wrk(f"userinfo@{label}", "ours", f"{base}/realms/bench-rs/protocol/openid-connect/userinfo", "bearer_pool.lua", pid, d, 1,
                    {"WRK_POOL": userinfo_tokens(300), "WRK_EXPECT": '"sub"'}, raw)
        look = extra.lookup_latency(services, rs.view, [u[1] for u in rs.users])
        return {"users": len(rs.users), "userinfo_rps": r.rps, "userinfo_p50_ms": r.p50_ms, "userinfo_p99_ms": r.p99_ms,
                "userinfo_errors": r.errors, "find_by_login_p50_ms": look["p50_ms"], "find_by_login_p99_ms": look["p99_ms"]}

    log(f"scale: users at {len(rs.users):,}")
    steps = [measure_users("small")]
    log(f"scale: bulk-seeding users towards {users_target:,} (budget {budget:.0f}s)")
    t = time.monotonic()
    chunk = 50_000
    while len(rs.users) < users_target and time.monotonic() - t < budget:
        seed.bulk_users(services, rs, min(chunk, users_target - len(rs.users)), prefix="u")
    seconds = time.monotonic() - t
    out["users_seeded"] = len(rs.users)
    out["users_seed_seconds"] = round(seconds, 1)
    out["users_target"] = users_target
    steps.append(measure_users("large"))
    out["users"] = steps

    def measure_tenants(label: str) -> dict[str, Any]:
        slugs = extra.tenant_slugs(services)
        random.shuffle(slugs)
        path = tmp / f"paths-{len(slugs)}.txt"
        path.write_text("\n".join(f"/realms/{s}/.well-known/openid-configuration" for s in slugs[:20000]) + "\n")
        disc = run_wrk(f"discovery-all@{label}", "ours", f"{base}/", "paths.lua", pid, d, 0, {"WRK_POOL": str(path)}, raw)
        basic = base64.b64encode(f"bench:{es.secret}".encode()).decode()
        cc = run_wrk(f"cc_es256@{label}", "ours", f"{base}/realms/bench-es/protocol/openid-connect/token", "client_credentials.lua", pid, d, 1,
                     {"WRK_BASIC": basic, "WRK_SCOPE": "profile"}, raw)
        return {"tenants": len(slugs), "discovery_all_rps": disc.rps, "discovery_all_p50_ms": disc.p50_ms, "discovery_all_p99_ms": disc.p99_ms,
                "discovery_errors": disc.errors, "cc_es256_rps": cc.rps, "cc_es256_p50_ms": cc.p50_ms, "cc_es256_p99_ms": cc.p99_ms}

    log("scale: tenants at the seeded few")
    tsteps = [measure_tenants("small")]
    log(f"scale: bulk-seeding {tenants_target:,} tenants")
    out["tenants_seed_seconds"] = round(extra.bulk_tenants(services, tenants_target), 1)
    tsteps.append(measure_tenants("large"))
    out["tenants"] = tsteps
    return out


if __name__ == "__main__":
    sys.exit(main())
