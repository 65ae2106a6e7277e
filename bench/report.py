"""The results table (Markdown), the raw JSON and the chart (PNG, matplotlib), with the targets of issues 7 and 17."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from bench.wrkrun import Result

#: Keycloak's sizing guide, per vCPU: client-credential and refresh grants, password logins.
KEYCLOAK_PER_VCPU = {"client_credentials": 120, "refresh": 120, "login": 15}
#: Our case → the peer case it is compared with: the same request (code exchange and refresh against the peer's
#: own, measured as ``../shared/peers/grants.py`` does, see :mod:`bench.peer`).
PEER_OF = {
    "discovery": "discovery",
    "jwks": "jwks",
    "client_credentials_rs256": "client_credentials_rs256",
    "client_credentials_es256": "client_credentials_es256",
    "code_exchange": "code_exchange",
    "refresh": "refresh",
    "code_exchange_es256": "code_exchange_es256",
    "refresh_es256": "refresh_es256",
    "userinfo": "userinfo",
    "introspection": "introspection",
}
#: The grant cases (issue 17: ≥ 1.0× the peer's same grant per server core; issue 7: ≥ 10× Keycloak).
GRANT_CASES = ("code_exchange", "code_exchange_es256", "refresh", "refresh_es256")
ORDER = ["discovery", "jwks", "client_credentials_rs256", "client_credentials_es256", "code_exchange", "code_exchange_es256",
         "refresh", "refresh_es256", "userinfo", "introspection", "login", "login_passkey", "recovery"]
#: The multi-step browser flows (measured in flows per second, not against the 50 ms p99 of one request).
FLOW_CASES = ("login", "login_passkey", "recovery")


def _f(v: Any, digits: int = 0) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, (int, float)):
        return f"{v:,.{digits}f}"
    return str(v)


def targets(ours: dict[str, Result], peers: dict[str, Result], extras: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for every target of issue 7 that this run measured."""
    out: list[tuple[str, str, bool | None]] = []

    def per_core_ratio(case: str) -> float | None:
        o, p = ours.get(case), peers.get(PEER_OF.get(case, ""))
        if o is None or p is None or not p.rps_per_core:
            return None
        return o.rps_per_core / p.rps_per_core

    for case in ("client_credentials_rs256", "client_credentials_es256", *GRANT_CASES, "jwks", "userinfo", "introspection"):
        r = per_core_ratio(case)
        if r is not None:
            out.append((f"{case}: ≥ 1.0× peer per server core", f"{r:.2f}×", r >= 1.0))
    for case in GRANT_CASES:
        o = ours.get(case)
        if o is not None and o.rps_per_core:
            out.append((f"{case}: ≥ 10× Keycloak (1,200/s per core)", f"{o.rps_per_core:,.0f}/s per core", o.rps_per_core >= 1200))
    for case in ("discovery",):
        o, p = ours.get(case), peers.get(case)
        if o is not None and p is not None and p.rps:
            out.append((f"{case}: ≥ 0.5× peer", f"{o.rps / p.rps:.2f}× (rps), {o.rps_per_core / p.rps_per_core:.2f}× per core", o.rps / p.rps >= 0.5))
    for case, r in ours.items():
        if case in FLOW_CASES or r.p99_ms is None:
            continue
        out.append((f"{case}: p99 < 50 ms at 16 connections", f"{r.p99_ms:.1f} ms", r.p99_ms < 50))
    argon = extras.get("argon2")
    for case in ("login", "login_passkey"):  # the same bar for the passwordless login (issue 17), which hashes nothing
        login = ours.get(case)
        if login is not None and argon:
            ratio = login.extra.get("logins_per_core", 0) / argon["verifies_per_cpu_s"] if argon["verifies_per_cpu_s"] else 0
            out.append((f"{case}: ≥ 80% of raw argon2id verify rate (per core)", f"{100 * ratio:.0f}%", ratio >= 0.8))
    mem = extras.get("sso_memory")
    if mem:
        out.append(("Redis ≤ 1 KB per SSO session", f"{mem['bytes_per_session']:.0f} B", mem["bytes_per_session"] <= 1024))
    sc = extras.get("scale", {})
    if sc.get("users"):
        a, b = sc["users"][0], sc["users"][-1]
        ok = b["userinfo_p50_ms"] <= max(a["userinfo_p50_ms"] * 1.5, a["userinfo_p50_ms"] + 2) and b["find_by_login_p50_ms"] <= max(
            a["find_by_login_p50_ms"] * 1.5, a["find_by_login_p50_ms"] + 1)
        out.append((f"flat latency {a['users']:,} → {b['users']:,} users",
                    (f"userinfo p50 {a['userinfo_p50_ms']:.1f} → {b['userinfo_p50_ms']:.1f} ms; login look-up p50 "
                    f"{a['find_by_login_p50_ms']:.2f} → {b['find_by_login_p50_ms']:.2f} ms"), ok))
    if sc.get("tenants"):
        a, b = sc["tenants"][0], sc["tenants"][-1]
        ok = b["cc_es256_p50_ms"] <= max(a["cc_es256_p50_ms"] * 1.5, a["cc_es256_p50_ms"] + 2)
        out.append((f"flat latency {a['tenants']:,} → {b['tenants']:,} tenants",
                    (f"client_credentials p50 {a['cc_es256_p50_ms']:.1f} → {b['cc_es256_p50_ms']:.1f} ms; discovery over all tenants p50 "
                    f"{a['discovery_all_p50_ms']:.1f} → {b['discovery_all_p50_ms']:.1f} ms"), ok))
    return out


def table(results: list[Result], extras: dict[str, Any]) -> str:
    ours = {r.case: r for r in results if r.server == "ours"}
    peers = {r.case: r for r in results if r.server.startswith("peer")}
    m = extras["machine"]
    lines = [
        (f"Run of {extras.get('finished') or time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: {m['cores']} cores ({m['cpu']}), Python {m['python']}, "
        f"{extras['backend']}, granian {extras['workers']} workers; wrk 1 thread, 16 connections, {extras['warmup']:g} s warm-up + "
        f"{extras['duration']:g} s; load average {m['load_before']:.1f} before, {m.get('load_after', 0):.1f} after (shared machine)."),
        "",
        "| case | rps | rps / server core | p50 ms | p99 ms | errors | worker RSS MiB | peer rps | peer rps / core | ours / peer (per core) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for case in ORDER:
        r = ours.get(case)
        if r is None:
            continue
        p = peers.get(PEER_OF.get(case, ""))
        ratio = f"{r.rps_per_core / p.rps_per_core:.2f}×" if p is not None and p.rps_per_core else ""
        name = case
        if case in ("login", "login_passkey"):
            name = f"{case} ({r.extra.get('logins_per_s', 0):.1f} logins/s, {r.extra.get('logins_per_core', 0):.1f}/core)"
        if case == "recovery":
            name = f"recovery ({r.extra.get('recoveries_per_s', 0):.2f} recoveries/s)"
        lines.append(
            f"| {name} | {_f(r.rps)} | {_f(r.rps_per_core)} | {_f(r.p50_ms, 1)} | {_f(r.p99_ms, 1)} | {r.errors} | "
            f"{'/'.join(_f(x) for x in r.rss_mb)} | {_f(p.rps) if p else ''} | {_f(p.rps_per_core) if p else ''} | {ratio} |"
        )
    argon = extras.get("argon2")
    if argon:
        lines += ["", (f"Raw argon2id verify (m=19 MiB, t=2, p=1), one process per core: {argon['verifies_per_s']:.1f}/s, "
                      f"{argon['verifies_per_cpu_s']:.1f} per CPU-second ({argon['ms_per_verify']:.1f} ms each).")]
    mem = extras.get("sso_memory")
    if mem:
        lines += [(f"Redis per SSO session ({mem['sessions']:,} sessions through SessionService, {mem['redis']}): "
                  f"{mem['bytes_per_session']:.0f} B (INFO used_memory delta / N); one session key: {mem['session_key_bytes']} B (MEMORY USAGE).")]
    sc = extras.get("scale", {})
    if sc.get("users"):
        lines += ["", "| users | userinfo rps | userinfo p50 / p99 ms | find_by_login p50 / p99 ms |", "|---:|---:|---:|---:|"]
        for s in sc["users"]:
            lines.append(f"| {s['users']:,} | {s['userinfo_rps']:,.0f} | {s['userinfo_p50_ms']:.1f} / {s['userinfo_p99_ms']:.1f} | "
                         f"{s['find_by_login_p50_ms']:.2f} / {s['find_by_login_p99_ms']:.2f} |")
        lines.append(f"Users bulk-seeded to {sc['users_seeded']:,} (target {sc['users_target']:,}) in {sc['users_seed_seconds']} s "
                     "(PostgreSQL COPY or batched INSERTs, one precomputed argon2id hash, then ANALYZE).")
    if sc.get("tenants"):
        lines += ["", "| tenants | discovery over all tenants rps, p50 / p99 ms | client_credentials ES256 rps, p50 / p99 ms |", "|---:|---:|---:|"]
        for s in sc["tenants"]:
            lines.append(f"| {s['tenants']:,} | {s['discovery_all_rps']:,.0f}, {s['discovery_all_p50_ms']:.1f} / {s['discovery_all_p99_ms']:.1f} | "
                         f"{s['cc_es256_rps']:,.0f}, {s['cc_es256_p50_ms']:.1f} / {s['cc_es256_p99_ms']:.1f} |")
    tg = targets(ours, peers, extras)
    if tg:
        lines += ["", "| target | measured | met |", "|---|---|---|"]
        lines += [f"| {t} | {v} | {'yes' if ok else 'no'} |" for t, v, ok in tg]
    notes = [f"{r.server} {r.case}: {r.note}" for r in results if r.note]
    if notes:
        lines += ["", "Notes: " + "; ".join(notes)]
    return "\n".join(lines) + "\n"


def chart(results: list[Result], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ours = {r.case: r for r in results if r.server == "ours"}
    peers = {r.case: r for r in results if r.server.startswith("peer")}
    cases = [c for c in ORDER if c in ours and c not in FLOW_CASES]
    fig, ax = plt.subplots(figsize=(10, 4.8))
    xs = range(len(cases))
    w = 0.38
    ax.bar([x - w / 2 for x in xs], [ours[c].rps_per_core for c in cases], w, label="idp (Flask + Authlib, granian)", color="#2b6cb0")
    peer_vals = [peers[PEER_OF[c]].rps_per_core if PEER_OF.get(c) in peers and c in PEER_OF else 0 for c in cases]
    ax.bar([x + w / 2 for x in xs], peer_vals, w, label="node-oidc-provider (peer, same request)", color="#c05621")
    ax.set_xticks(list(xs))
    ax.set_xticklabels([c.replace("client_credentials", "cc").replace("_", "\n") for c in cases], fontsize=8)
    ax.set_ylabel("requests/s per server core (log scale)")
    ax.set_yscale("log")
    ax.set_title("Throughput per server core, same run (wrk 1 thread, 16 connections)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(results: list[Result], extras: dict[str, Any], out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    text = table(results, extras)
    (out / "latest.md").write_text(text)
    (out / "latest.json").write_text(json.dumps({"results": [r.to_dict() for r in results], **extras}, indent=2, default=str))
    chart(results, out / "throughput.png")
    return text
