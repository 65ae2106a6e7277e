"""Security headers on every response (R-45, R-56, R-66, R-68)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import requests
from support.builders import Site

from idp import create_app


def assert_security_headers(headers: Any) -> None:
    csp = headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "default-src 'none'" in csp
    # no script may run, except, on the pages that carry passkeys, the one script bearing this response's nonce
    assert "script-src" not in csp or re.search(r"script-src 'nonce-[A-Za-z0-9_-]+';", csp)
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/login", "/flow/browser-login", "/flow/no-such-flow"])
def test_pages_send_the_security_headers_and_no_store(site: Site, path: str) -> None:
    """CSP without unsafe-inline, frame-ancestors 'none', X-Frame-Options, nosniff, no-referrer, no-store (R-45, R-66, R-68)."""
    response = site.browser("en").get(site.url(path), timeout=10)
    assert_security_headers(response.headers)
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers  # the public URL is http here


def test_error_and_json_responses_send_them_too(live_server: Any) -> None:
    """Every response, not only pages: a 404 and the JSON health probe (R-45)."""
    for path in ("/realms/no-such-tenant/login", "/healthz"):
        response = requests.get(live_server.url + path, timeout=10)
        assert_security_headers(response.headers)


def test_the_nonce_changes_on_every_response(site: Site) -> None:
    browser = site.browser("en")
    csps = {browser.get(site.url("/flow/browser-login"), timeout=10).headers["Content-Security-Policy"] for _ in range(3)}
    assert len(csps) == 3


def test_static_files_may_be_cached(site: Site) -> None:
    response = requests.get(site.server.url + "/static/idp.css", timeout=10)
    assert response.status_code == 200 and "no-store" not in response.headers["Cache-Control"]
    assert_security_headers(response.headers)


def test_hsts_when_the_public_url_is_https(make_settings: Callable[..., Any]) -> None:
    """HSTS with max-age of a year or more only when the public URL is https (R-45); cookies are then Secure (R-42)."""
    app = create_app(make_settings(public_url="https://idp.example.org"))
    try:
        response = app.test_client().get("/realms/whatever/login", base_url="https://idp.example.org")
        hsts = response.headers["Strict-Transport-Security"]
        max_age = int(hsts.split("max-age=")[1].split(";")[0])
        assert max_age >= 31536000
        assert_security_headers(response.headers)
    finally:
        app.extensions["idp"].close()



def test_cookies_on_https_are_host_prefixed(make_settings: Callable[..., Any]) -> None:
    """R-42: on https the browser binding (which anchors CSRF and flow state) is ``__Host-``: Secure, path /, no Domain."""
    from idp.storage.schema import upgrade

    app = create_app(make_settings(public_url="https://idp.example.org"))
    try:
        services = app.extensions["idp"]
        upgrade(services.db)
        services.tenants.create("hostco")
        response = app.test_client().get("/realms/hostco/flow/browser-login", base_url="https://idp.example.org")
        cookies = response.headers.getlist("Set-Cookie")
        binding = [c for c in cookies if c.startswith("__Host-idp_browser=")]
        assert binding, cookies
        assert "Secure" in binding[0] and "Path=/" in binding[0] and "Domain" not in binding[0]
        assert not [c for c in cookies if c.startswith("idp_browser=")]
    finally:
        app.extensions["idp"].close()


@pytest.mark.parametrize(("proxy_count", "expected"), [(1, "203.0.113.7"), (0, "127.0.0.1")])
def test_behind_trusted_proxies_the_client_address_comes_from_x_forwarded_for(make_live_server: Any, proxy_count: int, expected: str) -> None:
    """IDP_PROXY_COUNT=N trusts N proxies' X-Forwarded-For: throttling and audit see the visitor (R-27, R-46)."""
    from support.builders import make_site

    site = make_site(make_live_server(proxy_count=proxy_count))
    browser = site.browser()
    browser.headers["X-Forwarded-For"] = "198.51.100.1, 203.0.113.7"
    site.walker(browser).sign_in(site.username, "not the password")
    events = site.services.audit.query(site.tenant.id, type="login.password_failed")
    assert [e.client_ip for e in events] == [expected]
