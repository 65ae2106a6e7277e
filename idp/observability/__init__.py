"""Observability: Prometheus metrics at ``/metrics``, JSON request logs with request IDs, outage handling.

:func:`init_app` is called once by :func:`idp.app.create_app`. It adds, per request:

- a request ID (``X-Request-ID`` from the client when well-formed, else new),
  echoed on the response and attached to every log line of the request;
- one latency observation and one response count, labelled by Flask endpoint;
- one JSON access-log line (R-46: the path's query string and any code or
  token in the URL are redacted; emails and phone numbers masked).

It also serves ``/metrics``, (the outage 503s, R-95, are :mod:`idp.web.faults`),
counts database connection errors as store errors, and counts every committed
audit event (:mod:`.audit_metrics`: logins, MFA, recoveries, messages).

Helpers for the rest of the IdP live in :mod:`idp.observability.metrics`
(``count_login``, ``count_mfa``, ``count_recovery``, ``count_message``,
``count_store_error``).
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import unquote

import sqlalchemy.exc
from flask import Flask, Request, Response, g, request
from sqlalchemy import event

from idp.observability import audit_metrics, metrics
from idp.observability.logs import configure_logging, redact
from idp.observability.request_id import HEADER, request_id_from

__all__ = ["configure_logging", "init_app", "metrics"]

access_log = logging.getLogger("idp.access")

#: Endpoints hit by probes and scrapers: logged at DEBUG so they do not drown the log.
QUIET_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "observability.metrics"})
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: URL variables that may carry a secret in a path (a link token); never logged.
_SECRET_VIEW_ARGS = ("token", "code", "secret", "link", "ticket")


def _start() -> None:
    ctx = g._get_current_object()  # type: ignore[attr-defined]
    ctx.request_started = time.perf_counter()
    ctx.request_id = request_id_from(request.headers.get(HEADER))


def _logged_path(req: Request) -> str:
    path = req.path
    view_args = req.view_args or {}
    for name, value in view_args.items():
        if isinstance(value, str) and value and any(s in name.lower() for s in _SECRET_VIEW_ARGS):
            path = path.replace(value, "[redacted]")
    # Decoded (``%40`` to ``@``, ``%2B`` to ``+``) so that masking sees addresses and numbers.
    query = unquote(req.query_string.decode("latin-1"))
    return redact(f"{path}?{query}") if query else redact(path)


def log_access(
    request_id: str | None,
    method: str,
    path: str,
    route: str | None,
    endpoint: str,
    tenant: Any,
    status: int,
    elapsed: float,
    remote_addr: str | None,
    content_length: int | None,
) -> None:
    """The one JSON access line of a request (``path`` already redacted); also used by :mod:`idp.web.fastlane`."""
    level = logging.DEBUG if endpoint in QUIET_ENDPOINTS else logging.INFO
    if not access_log.isEnabledFor(level):
        return
    # makeRecord + handle is logger.log without the caller look-up (a stack walk per request).
    record = access_log.makeRecord(
        access_log.name,
        level,
        __file__,
        0,
        "request",
        (),
        None,
        extra={
            "request_id": request_id,
            "method": method,
            "path": path,
            "route": route,
            "endpoint": endpoint,
            "tenant": redact(tenant) if isinstance(tenant, str) else None,
            "status": status,
            "duration_ms": round(elapsed * 1000, 3),
            "remote_addr": remote_addr,
            "bytes": content_length,
            # Every field above is fixed or already redacted: the filter skips this record.
            "_idp_redacted": True,
        },
    )
    access_log.handle(record)


def _finish(timer: metrics.RequestTimer) -> Any:
    def finish(response: Response) -> Response:
        # The real objects once: each access through Flask's proxies costs a context look-up.
        req: Request = request._get_current_object()  # type: ignore[attr-defined]
        ctx = g._get_current_object()  # type: ignore[attr-defined]
        started = getattr(ctx, "request_started", None)
        elapsed = time.perf_counter() - started if started is not None else 0.0
        rule = req.url_rule
        endpoint = rule.endpoint if rule is not None else "unmatched"
        method = req.method if req.method in _METHODS else "other"
        status = response.status_code
        timer.observe(endpoint, method, status, elapsed)
        request_id = getattr(ctx, "request_id", None)
        if request_id:
            response.headers[HEADER] = request_id
        tenant = (req.view_args or {}).get("tenant")
        log_access(
            request_id, method, _logged_path(req), rule.rule if rule is not None else None, endpoint,
            tenant, status, elapsed, req.remote_addr, response.content_length,
        )  # fmt: skip
        return response

    return finish


def metrics_view() -> Response:
    """The Prometheus text exposition (all workers' values in multiprocess mode)."""
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})


def _count_db_error(context: Any) -> None:
    if context.is_disconnect or isinstance(context.sqlalchemy_exception, sqlalchemy.exc.OperationalError):
        metrics.count_store_error("database")


def init_app(app: Flask) -> None:
    """Wire logging, request IDs, request metrics and ``/metrics`` into ``app``."""
    services = app.extensions["idp"]
    configure_logging(services.settings)
    timer = metrics.RequestTimer()
    # First before-request hook and last after-request hook: the timing covers the others.
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request_funcs.setdefault(None, []).insert(0, _finish(timer))
    app.add_url_rule("/metrics", endpoint="observability.metrics", view_func=metrics_view, methods=["GET"])
    audit_metrics.install()
    event.listen(services.db.engine, "handle_error", _count_db_error)
    app.extensions["idp.observability"] = {"timer": timer}
