"""A thin WSGI lane in front of Flask for the two static protocol documents (issue 7).

``GET /realms/<t>/.well-known/openid-configuration`` and ``GET /realms/<t>/protocol/openid-connect/certs``
are the same bytes for every request until the tenant or its key set changes. Through Flask each cost
a request context, routing, three after-request hooks and a response object: several times the work of
answering. This lane answers them from the same per-process caches the Flask views use, with the
same response, byte for byte:

- the body, ``Content-Type``, ``Content-Length``, the strong ``ETag`` and ``Cache-Control`` of
  :func:`idp.oidc.blueprint._cacheable`;
- the security headers of :mod:`idp.web.security_headers` (the policy without a nonce), in the same order;
- ``X-Request-ID`` (:mod:`idp.observability.request_id`), one latency observation and one response
  count labelled by the Flask endpoint, and one access-log line (:func:`idp.observability.log_access`).

It answers only when everything comes from a fresh cache: a plain ``GET`` without a query string or
``If-None-Match``, of a tenant and keys this process holds (the same :data:`~idp.tenants.service.CACHE_TTL`
and :data:`~idp.oidc.keys.CACHE_TTL` as the views, so the same invalidation). Anything else (a cache
miss, an unknown tenant, ``HEAD``, a conditional request, every error) goes to Flask unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from idp.observability import log_access
from idp.observability.logs import redact
from idp.observability.request_id import HEADER, request_id_from
from idp.oidc.keys import JWKS_MAX_AGE
from idp.oidc.server import DISCOVERY_MAX_AGE
from idp.web.security_headers import CSP_WITHOUT_NONCE, FIXED_HEADERS, HSTS

if TYPE_CHECKING:  # pragma: no cover
    from flask import Flask

_REALMS = "/realms/"
_DISCOVERY = ".well-known/openid-configuration"
_CERTS = "protocol/openid-connect/certs"
#: Flask endpoint and rule of each document (the labels and log fields of the Flask views).
_ROUTES = {
    _DISCOVERY: ("oidc.discovery", "/realms/<tenant>/.well-known/openid-configuration"),
    _CERTS: ("oidc.certs", "/realms/<tenant>/protocol/openid-connect/certs"),
}

StartResponse = Callable[..., Any]


class ProtocolFastLane:
    """WSGI middleware: the discovery document and the JWKS from the caches, else the wrapped app."""

    def __init__(self, app: "Flask", wsgi_app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.next = wsgi_app
        self.services = app.extensions["idp"]
        self.provider = app.extensions["idp.oidc"]
        self.timer = app.extensions["idp.observability"]["timer"]
        security = [("Content-Security-Policy", CSP_WITHOUT_NONCE), *FIXED_HEADERS]
        if self.services.settings.public_url.startswith("https://"):
            security.append(("Strict-Transport-Security", HSTS))
        self.security = security
        self.cache_control = {_DISCOVERY: f"public, max-age={DISCOVERY_MAX_AGE}", _CERTS: f"public, max-age={JWKS_MAX_AGE}"}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        path = environ.get("PATH_INFO", "")
        if path.startswith(_REALMS) and environ.get("REQUEST_METHOD") == "GET" and not environ.get("QUERY_STRING") and "HTTP_IF_NONE_MATCH" not in environ:
            slug, _, document = path[len(_REALMS) :].partition("/")
            if document in _ROUTES:
                body = self._document(slug, document)
                if body is not None:
                    return self._answer(environ, start_response, started, path, slug, document, *body)
        return self.next(environ, start_response)

    def _document(self, slug: str, document: str) -> tuple[bytes, str] | None:
        tenant = self.services.tenants.cached(slug)
        if tenant is None:
            return None
        if document == _DISCOVERY:
            return self.provider.discovery_document(tenant)  # type: ignore[no-any-return]
        return self.services.keys.cached_jwks_document(tenant)  # type: ignore[no-any-return]

    def _answer(
        self, environ: dict[str, Any], start_response: StartResponse, started: float, path: str, slug: str, document: str, body: bytes, etag: str
    ) -> list[bytes]:
        request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        length = len(body)
        headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(length)),
            ("ETag", etag),
            ("Cache-Control", self.cache_control[document]),
            *self.security,
            (HEADER, request_id),
        ]
        endpoint, route = _ROUTES[document]
        elapsed = time.perf_counter() - started
        self.timer.observe(endpoint, "GET", 200, elapsed)
        log_access(request_id, "GET", redact(path), route, endpoint, slug, 200, elapsed, environ.get("REMOTE_ADDR"), length)
        start_response("200 OK", headers)
        return [body]


def init_app(app: "Flask") -> None:
    """Put the lane in front of ``app``'s WSGI callable (inside any proxy middleware added later)."""
    app.wsgi_app = ProtocolFastLane(app, app.wsgi_app)  # type: ignore[method-assign]
