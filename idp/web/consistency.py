"""Before each request, catch up with admin writes made by any worker (:mod:`idp.tenants.revision`).

One store read per request that may use the cached tenants, clients or keys. Probes, metrics and
static files skip it: they use none of those caches and must answer while the store is down.
"""

from __future__ import annotations

from flask import Flask, current_app, request

#: Endpoints that use no tenant, client or key cache.
SKIPPED_ENDPOINTS = frozenset({"static", "observability.metrics"})
SKIPPED_BLUEPRINTS = frozenset({"health"})


def _sync() -> None:
    if request.endpoint is None or request.endpoint in SKIPPED_ENDPOINTS or request.blueprint in SKIPPED_BLUEPRINTS:
        return
    current_app.extensions["idp"].revision.sync()  # StoreUnavailable: the outage handlers answer 503


def init_app(app: Flask) -> None:
    """Register the check ahead of every other before-request hook but the request timer's."""
    app.before_request(_sync)
