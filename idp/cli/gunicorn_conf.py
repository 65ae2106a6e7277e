"""Gunicorn settings for ``idp serve`` (``gunicorn -c python:idp.cli.gunicorn_conf idp.wsgi:app``).

Shipped inside the package so an installed server needs no source checkout;
``deploy/gunicorn.conf.py`` imports it for deployments that run gunicorn directly.
Command-line options (``--bind``, ``--workers``) override these values.
Settings of the IdP itself come from ``IDP_*`` variables, read by every worker.
"""

from __future__ import annotations

import os

#: Loopback by default: put a TLS-terminating proxy in front in production.
bind = ["127.0.0.1:8080"]
#: Worker processes; gunicorn's ``WEB_CONCURRENCY`` is honoured.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
#: Threads per worker: requests wait on password hashing and the database, not the CPU alone.
worker_class = "gthread"
threads = 4
#: No preloading: each worker opens its own database engine and store connection after the fork.
preload_app = False
timeout = 30
graceful_timeout = 30
keepalive = 5
#: Reject oversized requests early (the app refuses bodies over 64 KiB as well).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
#: No gunicorn access line: the app writes one JSON line per request itself (``idp.access``: request ID,
#: endpoint, status, duration, redacted path), so a second, plain line per request was pure overhead
#: (about a tenth of a token request's CPU time in the benchmark's profile, issue 7).
accesslog = None
errorlog = "-"
#: Used only if an operator turns gunicorn's access log back on: never log query strings (codes, tokens).
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
#: Proxy headers are handled by the app (``IDP_PROXY_COUNT``), not by gunicorn.
forwarded_allow_ips = "127.0.0.1"
proc_name = "idp"
#: Recent gunicorn versions open a control socket at one fixed path in the home folder by default, which two
#: servers on one host would share; the IdP needs none (older gunicorns ignore this name).
control_socket_disable = True


# -- server hooks: multiprocess metrics (see idp.observability.gunicorn_hooks) ---------------------------


def on_starting(server):  # type: ignore[no-untyped-def]
    """In the master before the first fork: empty ``PROMETHEUS_MULTIPROC_DIR`` of a previous run's values."""
    from idp.observability import gunicorn_hooks

    gunicorn_hooks.on_starting(server)


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """In the master after a worker exits (graceful reload, crash, timeout): drop its live gauges."""
    from idp.observability import gunicorn_hooks

    gunicorn_hooks.child_exit(server, worker)
