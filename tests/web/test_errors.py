"""Error pages: 404 for unknown tenants and flows not live for the tenant, 503 when the store is down (R-45)."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pytest
import requests
from conftest import free_port
from support.builders import Site

from idp import create_app
from idp.storage.schema import upgrade


@pytest.mark.parametrize("lang,message", [("fr", "Page introuvable"), ("en", "Page not found")])
def test_unknown_tenant_is_a_404_page(live_server: Any, lang: str, message: str) -> None:
    for path in ("/realms/no-such-tenant/login", "/realms/no-such-tenant/flow/browser-login", "/realms/Bad_Slug!/login"):
        response = requests.get(live_server.url + path, headers={"Accept-Language": lang}, timeout=10)
        assert response.status_code == 404
        assert message in html.unescape(response.text)


def test_unregistered_flow_is_a_404(site: Site) -> None:
    response = site.browser("en").get(site.url("/flow/no-such-flow"), timeout=10)
    assert response.status_code == 404
    assert "Page not found" in response.text


def test_flow_not_enabled_for_the_tenant_is_a_404(site: Site) -> None:
    """browser-login turned off: the sign-in routes answer 404 (features exist only when enabled)."""
    browser = site.browser("en")
    page = site.walker(browser).open_login()
    site.configure({"flows": {"browser-login": {"enabled": False}}})
    site.services.tenants.invalidate(site.tenant.slug)
    assert browser.get(site.url("/login"), timeout=10).status_code == 404
    assert browser.get(site.url("/flow/browser-login"), timeout=10).status_code == 404
    response = browser.post(site.url("/flow/browser-login"), data={"csrf_token": "x", "step": "password"}, timeout=10)
    assert response.status_code == 404
    assert page.status_code == 200


def test_flow_scheduled_for_later_is_not_live(site: Site) -> None:
    site.configure({"flows": {"browser-login": {"enabled": True, "enabled_from": "2999-01-01T00:00:00+00:00"}}})
    assert site.browser("en").get(site.url("/login"), timeout=10).status_code == 404


def test_json_clients_get_json_errors(live_server: Any) -> None:
    response = requests.get(live_server.url + "/realms/nope/login", headers={"Accept": "application/json"}, timeout=10)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("lang,message", [("fr", "Service indisponible"), ("en", "Service unavailable")])
def test_store_unavailable_is_a_503_page(make_settings: Callable[..., Any], lang: str, message: str) -> None:
    """Redis down: a generic 503 page with Retry-After, never a stack trace (R-45: fail closed)."""
    app = create_app(make_settings(redis_url=f"redis://127.0.0.1:{free_port()}/0"))
    services = app.extensions["idp"]
    setup = create_app(make_settings()).extensions["idp"]  # the same database with a store that answers: admin writes need one
    try:
        upgrade(services.db)
        tenant = setup.tenants.create("store-down")
        response = app.test_client().get(f"/realms/{tenant.slug}/login", headers={"Accept-Language": lang})
        body = html.unescape(response.get_data(as_text=True))
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "30"
        assert message in body
        assert "Traceback" not in body and "redis" not in body.lower()
    finally:
        services.close()
        setup.close()
