"""``/metrics`` through a live server: latency histograms per Flask endpoint, the event counters
other parts call, and bounded label values (issue 6, item 5)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import requests
from prometheus_client import REGISTRY

from idp.observability import metrics
from observability.conftest import scrape, value


def test_request_histograms_appear_after_requests(live_server: Any) -> None:
    before = scrape(live_server.url)
    for _ in range(3):
        assert requests.get(f"{live_server.url}/healthz", timeout=10).status_code == 200
    assert requests.get(f"{live_server.url}/no-such-page", timeout=10).status_code == 404
    after = scrape(live_server.url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("idp_http_request_duration_seconds_count", endpoint="health.healthz", method="GET") == 3
    assert delta("idp_http_request_duration_seconds_bucket", endpoint="health.healthz", method="GET", le="+Inf") == 3
    assert delta("idp_http_request_duration_seconds_sum", endpoint="health.healthz", method="GET") > 0
    assert delta("idp_http_requests_total", endpoint="health.healthz", method="GET", status="200") == 3
    assert delta("idp_http_requests_total", endpoint="unmatched", method="GET", status="404") == 1


def test_paths_with_tenants_are_labelled_by_endpoint_not_by_path(live_server: Any) -> None:
    slugs = [f"nobody-{secrets.token_hex(4)}" for _ in range(5)]
    for slug in slugs:
        requests.get(f"{live_server.realm(slug)}/.well-known/openid-configuration", timeout=10)
        requests.get(f"{live_server.realm(slug)}/protocol/openid-connect/certs", timeout=10)
    response = requests.get(f"{live_server.url}/metrics", timeout=10)
    assert not any(slug in response.text for slug in slugs), "a raw path or tenant leaked into a label"
    samples = scrape(live_server.url)
    endpoints = {dict(labels).get("endpoint") for (name, labels) in samples if name == "idp_http_request_duration_seconds_count"}
    assert any(e and e.startswith("oidc.") for e in endpoints)


def test_event_counters_are_exposed(live_server: Any) -> None:
    tenant = f"t-{secrets.token_hex(3)}"
    before = scrape(live_server.url)
    metrics.count_login(tenant, "success", "pwd")
    metrics.count_login(tenant, "failure", "otp")
    metrics.count_mfa(tenant, "totp", "failure")
    metrics.count_recovery("link_sent")
    metrics.count_message("email", "sent")
    metrics.count_message("sms", "failed")
    metrics.count_store_error("redis")
    after = scrape(live_server.url)
    expected = [
        ("idp_logins_total", {"tenant": tenant, "outcome": "success", "factor": "pwd"}),
        ("idp_logins_total", {"tenant": tenant, "outcome": "failure", "factor": "otp"}),
        ("idp_mfa_total", {"tenant": tenant, "factor": "totp", "outcome": "failure"}),
        ("idp_recoveries_total", {"stage": "link_sent"}),
        ("idp_messages_total", {"channel": "email", "outcome": "sent"}),
        ("idp_messages_total", {"channel": "sms", "outcome": "failed"}),
        ("idp_store_errors_total", {"backend": "redis"}),
    ]
    for name, labels in expected:
        assert value(after, name, **labels) - value(before, name, **labels) == 1, (name, labels)


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.parametrize("bad", ["alice@example.com", "+33612345678 x", "a" * 100, "with space", ""])
def test_label_values_that_are_not_short_identifiers_become_other(bad: str) -> None:
    """A caller passing user input by mistake cannot put it in a label (R-46) or explode cardinality."""
    before = _sample("idp_recoveries_total", stage="other")
    metrics.count_recovery(bad)
    assert _sample("idp_recoveries_total", stage="other") == before + 1


def test_tenant_labels_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    metrics.count_login("cap-known", "success", "pwd")
    monkeypatch.setattr(metrics, "MAX_TENANTS", len(metrics._tenants))
    fresh = f"cap-{secrets.token_hex(4)}"
    other = {"tenant": "_other", "outcome": "success", "factor": "pwd"}
    before = _sample("idp_logins_total", **other)
    metrics.count_login(fresh, "success", "pwd")
    metrics.count_login("cap-known", "success", "pwd")
    assert _sample("idp_logins_total", **other) == before + 1
    assert fresh not in metrics._tenants
