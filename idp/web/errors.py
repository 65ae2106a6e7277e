"""Error pages: generic, in the user's language, never a stack trace (R-45).

- HTTP errors (404, 405, 400...) render ``404.html``, ``400.html`` or ``error.html``;
- a failed CSRF check (:class:`idp.web.csrf.CsrfError`) is a 400 page;
- :class:`idp.store.StoreUnavailable` is a 503 page with ``Retry-After`` (fail closed, R-95);
- anything else is logged and answered with a generic 500 page.

Clients that ask for JSON only (``Accept: application/json``) get
``{"error": ..., "error_description": ...}`` instead of a page.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from idp.store import StoreUnavailable
from idp.web.csrf import CsrfError
from idp.web.messages import message_for
from idp.web.pages import render_page

#: HTTP status → (template, message id).
PAGES: dict[int, tuple[str, str]] = {
    400: ("400.html", "bad_request"),
    404: ("404.html", "not_found"),
    405: ("error.html", "method_not_allowed"),
    500: ("error.html", "server_error"),
    503: ("503.html", "service_unavailable"),
}


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not request.accept_mimetypes.accept_html


def error_response(status: int, error: str | None = None) -> Response:
    """The error page (or JSON) for ``status``, with the message of ``error`` (default: the page's own)."""
    template, default = PAGES.get(status, ("error.html", "bad_request" if status < 500 else "server_error"))
    error = error or default
    if _wants_json():
        response = jsonify(error=error, error_description=message_for(error))
        response.status_code = status
        return response
    return render_page(template, status=status, error=error)


def _http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    return error_response(status)


def _csrf_error(exc: CsrfError) -> Response:
    return error_response(400, "csrf_failed")


def _store_unavailable(exc: StoreUnavailable) -> Response:
    current_app.logger.error("ephemeral store unavailable: %s", exc)
    response = error_response(503)
    response.headers["Retry-After"] = "30"
    return response


def _unexpected(exc: Exception) -> Response:
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500)


def init_app(app: Flask) -> None:
    app.register_error_handler(CsrfError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(StoreUnavailable, _store_unavailable)
    app.register_error_handler(Exception, _unexpected)
