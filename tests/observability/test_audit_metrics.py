"""Logins, second factors, recoveries and messages are counted from the audit trail (R-46):
one committed event, one count; a rolled-back event, none."""

from __future__ import annotations

from typing import Any

import pytest
from support.builders import PASSWORD, make_site

from observability.conftest import scrape, value


def test_real_sign_ins_are_counted_by_tenant_outcome_and_factor(live_server: Any) -> None:
    site = make_site(live_server)
    labels = {"tenant": site.tenant.slug, "factor": "pwd"}
    before = scrape(live_server.url)

    browser = site.browser()
    failed = site.walker(browser).sign_in(site.username, "not the password")
    assert failed.status_code in (200, 400, 401, 422)
    browser = site.browser()
    ok = site.walker(browser).sign_in(site.username, PASSWORD)
    assert ok.status_code in (200, 302, 303)

    after = scrape(live_server.url)

    def delta(name: str, **lb: str) -> float:
        return value(after, name, **lb) - value(before, name, **lb)

    assert delta("idp_logins_total", outcome="failure", **labels) == 1
    assert delta("idp_logins_total", outcome="success", **labels) == 1
    assert delta("idp_audit_events_total", type="login.password_failed") == 1
    assert delta("idp_audit_events_total", type="login.password_ok") == 1


def test_events_are_mapped_to_their_counters_and_rolled_back_ones_are_not_counted(live_server: Any) -> None:
    services = live_server.services
    tenant = services.tenants.create("audit-metrics-" + live_server.url.rsplit(":", 1)[1])
    before = scrape(live_server.url)
    services.audit.record(tenant.id, "login.second_factor_failed", factor="sms", reason="invalid")
    services.audit.record(tenant.id, "recovery.link_opened")
    services.audit.record(tenant.id, "recovery.email_sent")
    services.audit.record(tenant.id, "sms.refused", reason="opted-out")
    services.audit.record(tenant.id, "login.lockout", factor="password", wait_seconds=30)
    with pytest.raises(RuntimeError), services.db.session() as s:
        services.audit.record(tenant.id, "login.password_ok", session=s)
        s.flush()
        raise RuntimeError("the change this event records failed")
    after = scrape(live_server.url)

    def delta(name: str, **lb: str) -> float:
        return value(after, name, **lb) - value(before, name, **lb)

    assert delta("idp_logins_total", tenant=tenant.slug, outcome="failure", factor="sms") == 1
    assert delta("idp_mfa_total", tenant=tenant.slug, factor="sms", outcome="failure") == 1
    assert delta("idp_recoveries_total", stage="link_opened") == 1
    assert delta("idp_recoveries_total", stage="email_sent") == 1
    assert delta("idp_messages_total", channel="email", outcome="sent") == 1
    assert delta("idp_messages_total", channel="sms", outcome="refused") == 1
    assert delta("idp_logins_total", tenant=tenant.slug, outcome="locked", factor="pwd") == 1
    assert delta("idp_logins_total", tenant=tenant.slug, outcome="success", factor="pwd") == 0
    assert delta("idp_audit_events_total", type="login.password_ok") == 0
