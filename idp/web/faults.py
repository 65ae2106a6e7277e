"""Outages become a clean 503, counted and logged, never a stack trace (R-95).

When Redis (:class:`~idp.store.StoreUnavailable`, or a raw redis connection
error) or the database (SQLAlchemy ``OperationalError``/``InterfaceError``, pool
``TimeoutError``) cannot be reached while a request is served, the request
fails closed: nothing after the failed call runs, so no check is skipped.

- Protocol paths (``/realms/<tenant>/protocol/...``) and JSON clients get
  ``{"error": "temporarily_unavailable"}`` with status 503, ``Cache-Control:
  no-store`` and ``Retry-After``.
- Pages get the pages' 503 page (:func:`idp.web.errors.error_response`) when it
  renders, else a 503 template, else a minimal HTML page.

Handlers that other modules registered earlier for the same exception classes
keep working for pages; they are wrapped so every such 503 is counted, and
protocol paths always answer in JSON.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import psycopg
import redis.exceptions
import sqlalchemy.exc
from flask import Flask, Response, jsonify, render_template, request
from jinja2 import TemplateNotFound
from markupsafe import escape

from idp.observability import metrics
from idp.store import StoreUnavailable
from idp.web.errors import error_response

log = logging.getLogger("idp.faults")

#: Exception classes that mean "a dependency is down", with the dependency they name.
OUTAGES: dict[type[Exception], str] = {
    StoreUnavailable: "store",
    redis.exceptions.ConnectionError: "store",
    redis.exceptions.TimeoutError: "store",
    sqlalchemy.exc.OperationalError: "database",
    sqlalchemy.exc.InterfaceError: "database",
    sqlalchemy.exc.TimeoutError: "database",
    # the driver's own connection errors, should one ever escape SQLAlchemy's wrapping (a pool event)
    psycopg.OperationalError: "database",
    psycopg.InterfaceError: "database",
}
#: Templates the pages may provide for a 503, tried in order.
TEMPLATES = ("errors/503.html", "503.html", "errors/unavailable.html")
RETRY_AFTER = "5"

_PROTOCOL_PATH = re.compile(r"^/realms/[^/]+/protocol/")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Temporarily unavailable</title></head>
<body><h1>Temporarily unavailable</h1>
<p>The service cannot complete your request right now. Nothing was changed; please try again in a moment.</p>
<p><small>Reference: {ref}</small></p></body></html>
"""


def _dependency(exc: BaseException) -> str:
    for cls in type(exc).__mro__:
        if cls in OUTAGES:
            return OUTAGES[cls]
    return "unknown"


def wants_json() -> bool:
    """Protocol endpoints and clients that asked for JSON get an OAuth error body."""
    if _PROTOCOL_PATH.match(request.path):
        return True
    best = request.accept_mimetypes.best
    return best == "application/json" or request.is_json


def unavailable_json() -> Response:
    response = jsonify(error="temporarily_unavailable", error_description="The service is temporarily unavailable; try again.")
    response.status_code = 503
    response.headers["Cache-Control"] = "no-store"
    response.headers["Retry-After"] = RETRY_AFTER
    return response


def unavailable_page() -> Response:
    """The pages' own 503 (``idp.web.errors``) when it renders, else the first template found, else a plain page."""
    from flask import g

    response: Response | None = None
    try:
        response = error_response(503)
    except Exception:
        log.warning("the pages' 503 page failed to render", exc_info=True)
    if response is None or response.status_code != 503:
        ref = g.get("request_id", "")
        body: str | None = None
        for name in TEMPLATES:
            try:
                body = render_template(name, request_id=ref)
                break
            except TemplateNotFound:
                continue
            except Exception:
                break
        response = Response(body if body is not None else _PAGE.format(ref=escape(ref)), status=503, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Retry-After"] = RETRY_AFTER
    return response


def _note(exc: BaseException) -> str:
    dependency = _dependency(exc)
    metrics.count_unavailable(dependency)
    # Only the class name: driver messages may carry host names or connection strings.
    log.warning("dependency unavailable", extra={"dependency": dependency, "error": type(exc).__name__})
    return dependency


def handle_outage(exc: BaseException) -> Response:
    """Our handler for classes nobody else handles."""
    _note(exc)
    return unavailable_json() if wants_json() else unavailable_page()


def _wrap(existing: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def counted(exc: BaseException) -> Any:
        _note(exc)
        if _PROTOCOL_PATH.match(request.path):
            return unavailable_json()
        return existing(exc)

    counted.__wrapped__ = existing  # type: ignore[attr-defined]
    counted._idp_counted = True  # type: ignore[attr-defined]
    return counted


def _count_then(existing: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def counted(exc: BaseException) -> Any:
        _note(exc)
        return existing(exc)

    counted.__wrapped__ = existing  # type: ignore[attr-defined]
    counted._idp_counted = True  # type: ignore[attr-defined]
    return counted


def init_app(app: Flask) -> None:
    """Register 503 handlers for outage classes nobody handles; wrap (count) those already registered.

    Call it after the blueprints are registered: a blueprint's own handler (the protocol
    blueprint answers ``temporarily_unavailable`` for the store itself) is kept and counted.
    """
    app_scope = app.error_handler_spec.setdefault(None, {}).setdefault(None, {})
    for cls in OUTAGES:
        existing = app_scope.get(cls)
        if existing is None:
            app.register_error_handler(cls, handle_outage)
        elif not getattr(existing, "_idp_counted", False) and existing is not handle_outage:
            app_scope[cls] = _wrap(existing)
    for scope_name, scope in app.error_handler_spec.items():
        if scope_name is None:
            continue
        handlers = scope.get(None, {})
        for cls in OUTAGES:
            existing = handlers.get(cls)
            if existing is not None and not getattr(existing, "_idp_counted", False):
                handlers[cls] = _count_then(existing)
