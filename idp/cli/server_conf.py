"""Settings of the HTTP server behind ``idp serve``: granian, its WSGI interface, one process per worker.

Why granian and not gunicorn: its HTTP/1.1 handling is Rust (hyper), so a request costs the Python
interpreter only the app's own work. Measured with the benchmark (issue 7), the same app and load gave
1.6-1.8x the requests per server core on the token endpoint and 1.8-4.7x on discovery and JWKS.

Each worker is a process that imports :mod:`idp.wsgi` itself after it starts (no preloading: each opens
its own database engine and store connections) and runs the app in ``THREADS`` threads: requests wait on
password hashing (argon2 releases the GIL), the database and Redis, not on the CPU alone.
Any other granian option can be set through its own ``GRANIAN_*`` environment variable.
"""

from __future__ import annotations

import os
import sys

#: Loopback by default: put a TLS-terminating proxy in front in production.
HOST = "127.0.0.1"
PORT = 8080
#: Threads running the app in each worker process.
THREADS = 4
#: Seconds a stopping worker may take to finish the requests it has (SIGTERM, or SIGHUP's rolling respawn);
#: the orchestrator's grace period must be longer (deploy/k8s/deployment.yaml).
GRACEFUL_TIMEOUT = 30
#: Connections waiting to be accepted.
BACKLOG = 1024
#: granian's HTTP/1.1 read buffer: a request whose line and headers pass about twice this size is answered
#: 431 before the app sees it (measured; granian's default buffer lets about 800 KiB through). Bodies are
#: capped by the app (64 KiB).
HTTP1_BUFFER_BYTES = 32 * 1024


def default_workers() -> int:
    """Worker processes: ``WEB_CONCURRENCY`` when set (the usual variable of Python servers), else 2."""
    return int(os.environ.get("WEB_CONCURRENCY", "2"))


def argv(host: str, port: int, workers: int | None = None, threads: int | None = None) -> list[str]:
    """The command that runs the IdP's WSGI app (:mod:`idp.wsgi`) under granian."""
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "wsgi",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers or default_workers()),
        "--blocking-threads",
        str(threads or THREADS),
        "--backlog",
        str(BACKLOG),
        "--no-ws",
        # HTTP/1.1 only: the load balancer in front speaks it; no cleartext HTTP/2 on the workers' port
        "--http",
        "1",
        "--http1-buffer-size",
        str(HTTP1_BUFFER_BYTES),
        # a worker that dies (a crash, the OOM killer) is replaced; SIGHUP respawns them one by one
        "--respawn-failed-workers",
        "--workers-kill-timeout",
        f"{GRACEFUL_TIMEOUT}s",
        # no server access line: the app writes one JSON line per request itself (idp.access: request ID,
        # endpoint, status, duration, redacted path); a raw line would carry codes and tokens in query strings
        "--no-access-log",
        "idp.wsgi:app",
    ]
