"""Prometheus metrics: request latency per endpoint and counters for the security events of issue 6.

Other parts of the IdP call the small helpers below; none of them needs to know
Prometheus::

    from idp.observability import metrics

    metrics.count_login(tenant.slug, "success", "pwd")
    metrics.count_mfa(tenant.slug, "totp", "failure")
    metrics.count_recovery("link_sent")
    metrics.count_message("email", "sent")
    metrics.count_store_error("redis")

Cardinality stays bounded: requests are labelled with the Flask endpoint name
(``oidc.token``), never the raw path; label values the callers pass are reduced
to short identifiers; the ``tenant`` label is used only on the login and MFA
counters and is capped per process (:data:`MAX_TENANTS`). Label values never
carry a user, an address, a code or a token (R-46).

Several worker processes: when ``PROMETHEUS_MULTIPROC_DIR`` is set before this
module is imported (the Dockerfile and the compose file set it; ``idp serve``
empties it before its workers start, :mod:`.metrics_dir`), prometheus-client writes every worker's values to
memory-mapped files in that folder and :func:`exposition` aggregates them at
scrape time. Without it, one in-process registry is used.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from idp.observability.metrics_dir import MULTIPROC_ENV  # read by prometheus-client to switch to multiprocess mode

#: At most this many distinct tenant label values per process; later tenants count as ``_other``.
MAX_TENANTS = 1000

_multiproc_dir = os.environ.get(MULTIPROC_ENV) or os.environ.get(MULTIPROC_ENV.lower())
if _multiproc_dir:
    # The folder must exist before the first value file is created in it.
    os.makedirs(_multiproc_dir, exist_ok=True)

# ``*_created`` series double the scrape for no use here.
disable_created_metrics()

#: Latency buckets in seconds: fine below 100 ms where the token endpoint lives.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUEST_LATENCY = Histogram(
    "idp_http_request_duration_seconds",
    "Time to answer an HTTP request, by Flask endpoint and method.",
    ("endpoint", "method"),
    buckets=LATENCY_BUCKETS,
)
REQUESTS = Counter(
    "idp_http_requests",
    "HTTP responses, by Flask endpoint, method and status code.",
    ("endpoint", "method", "status"),
)
LOGINS = Counter(
    "idp_logins",
    "Login attempts by tenant, outcome (success, failure, locked ...) and factor (pwd, otp, sms ...).",
    ("tenant", "outcome", "factor"),
)
MFA = Counter(
    "idp_mfa",
    "Second-factor events by tenant, factor and outcome (success, failure, enrolled, reset ...).",
    ("tenant", "factor", "outcome"),
)
RECOVERIES = Counter(
    "idp_recoveries",
    "Account self-recovery steps reached, by stage (requested, link_sent, link_used, completed ...).",
    ("stage",),
)
MESSAGES = Counter(
    "idp_messages",
    "Messages handed to a channel (email, sms), by outcome (sent, failed, refused).",
    ("channel", "outcome"),
)
STORE_ERRORS = Counter(
    "idp_store_errors",
    "Operations that failed because a backing store (redis, database) could not be reached.",
    ("backend",),
)
UNAVAILABLE = Counter(
    "idp_unavailable_responses",
    "Requests answered 503 because a dependency (store, database) was unreachable (R-95).",
    ("dependency",),
)

_IDENT = re.compile(r"[A-Za-z0-9_.:-]{1,48}\Z")
_tenants: set[str] = set()
_tenants_lock = threading.Lock()


def _label(value: object) -> str:
    """A short identifier for a label value, or ``other``: callers cannot blow up cardinality by mistake."""
    text = str(value)
    return text if _IDENT.match(text) else "other"


def _tenant(slug: object) -> str:
    text = _label(slug)
    if text in _tenants:
        return text
    with _tenants_lock:
        if len(_tenants) >= MAX_TENANTS:
            return "_other"
        _tenants.add(text)
    return text


def count_login(tenant: str, outcome: str, factor: str) -> None:
    """One login attempt: ``outcome`` such as ``success``/``failure``/``locked``, ``factor`` such as ``pwd``/``otp``/``sms``.

    ``tenant`` must be the slug of a resolved tenant, never a raw URL segment.
    """
    LOGINS.labels(_tenant(tenant), _label(outcome), _label(factor)).inc()


def count_mfa(tenant: str, factor: str, outcome: str) -> None:
    """One second-factor event: ``factor`` (``totp``, ``sms``), ``outcome`` (``success``, ``failure``, ``enrolled``, ``reset``)."""
    MFA.labels(_tenant(tenant), _label(factor), _label(outcome)).inc()


def count_recovery(stage: str) -> None:
    """One self-recovery stage reached (``requested``, ``link_sent``, ``link_used``, ``password_reset``, ``factor_reset``, ``failed``)."""
    RECOVERIES.labels(_label(stage)).inc()


def count_message(channel: str, outcome: str) -> None:
    """One message: ``channel`` ``email`` or ``sms``; ``outcome`` ``sent``, ``failed`` (transient) or ``refused`` (permanent)."""
    MESSAGES.labels(_label(channel), _label(outcome)).inc()


def count_store_error(backend: str = "redis") -> None:
    """One operation that failed because ``backend`` (``redis`` or ``database``) was unreachable."""
    STORE_ERRORS.labels(_label(backend)).inc()


def count_unavailable(dependency: str) -> None:
    """One request answered 503 because ``dependency`` (``store`` or ``database``) was down."""
    UNAVAILABLE.labels(_label(dependency)).inc()


class RequestTimer:
    """Observes request latency with the label children cached, so a request costs two dict look-ups."""

    def __init__(self) -> None:
        self._latency: dict[tuple[str, str], Any] = {}
        self._count: dict[tuple[str, str, int], Any] = {}

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        key = (endpoint, method)
        child = self._latency.get(key)
        if child is None:
            child = self._latency[key] = REQUEST_LATENCY.labels(endpoint, method)
        child.observe(seconds)
        ckey = (endpoint, method, status)
        counter = self._count.get(ckey)
        if counter is None:
            counter = self._count[ckey] = REQUESTS.labels(endpoint, method, str(status))
        counter.inc()


def multiprocess_enabled() -> bool:
    """True when prometheus-client writes values to ``PROMETHEUS_MULTIPROC_DIR`` (several workers)."""
    return bool(_multiproc_dir)


def exposition() -> tuple[bytes, str]:
    """The text exposition of every metric (all workers' when in multiprocess mode) and its content type."""
    if multiprocess_enabled():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=_multiproc_dir)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
