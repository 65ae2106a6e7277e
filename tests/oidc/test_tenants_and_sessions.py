"""Tenant isolation (R-69), SSO sessions (R-21, R-39, R-41), revoking a user (R-34, R-40), logout (R-73)."""

from __future__ import annotations

import time
from typing import Any

import requests
from support.builders import POST_LOGOUT_URI, Realm
from support.walkers import query


def test_tenant_a_client_and_tokens_are_invalid_at_tenant_b(realm_factory: Any) -> None:
    """R-69: tenant A's client, access token, refresh token and session mean nothing at tenant B."""
    a = realm_factory()
    b = realm_factory(server=a.server)
    _, token = a.code_flow()
    page = a.browser().get(
        b.endpoint("auth"), params={"response_type": "code", "client_id": "nope-at-b", "redirect_uri": "https://x.example/cb"}, allow_redirects=False
    )
    assert page.status_code == 400 and "Location" not in page.headers
    cc = requests.post(b.endpoint("token"), data={"grant_type": "client_credentials"}, auth=("service", a.secrets["service"]), timeout=10)
    assert cc.status_code == 401 and cc.json()["error"] == "invalid_client"
    assert b.userinfo(token["access_token"]).status_code == 401
    assert b.introspect(token["access_token"]) == {"active": False}
    assert b.introspect(token["refresh_token"]) == {"active": False}
    refresh = requests.post(
        b.endpoint("token"), data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}, auth=("web", b.secrets["web"]), timeout=10
    )
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
    browser = a.browser()
    cookie = browser.cookies.get("idp_sso")
    browser.cookies.set("idp_sso", cookie, path=f"/realms/{b.tenant.slug}/")
    r, _, _ = b.authorize(browser, b.rp(), prompt="none")
    assert query(r.headers["Location"])["error"] == "login_required"


def test_sessions_expire_when_idle_and_absolutely(realm_factory: Any, backend: str) -> None:
    """R-21, R-41: idle and absolute timeouts are enforced on the server.

    Sessions count whole seconds, so a timeout of 2 s holds for at least 1 s (enough for the look-up
    right after sign-in, even on a loaded machine) and is over once 2 s have passed.
    """
    idle = realm_factory(backend, config={"tokens": {"sso_idle_ttl": 2, "sso_max_ttl": 60}})
    sso = idle.services.sessions.establish(idle.tenant, idle.user.id, ["pwd"], "urn:idp:acr:pwd")
    assert idle.services.sessions.find(idle.tenant, sso.token) is not None
    time.sleep(2.1)
    assert idle.services.sessions.find(idle.tenant, sso.token) is None
    hard = realm_factory(backend, config={"tokens": {"sso_idle_ttl": 2, "sso_max_ttl": 2}}, server=idle.server)
    sso = hard.services.sessions.establish(hard.tenant, hard.user.id, ["pwd"], "urn:idp:acr:pwd")
    assert hard.services.sessions.find(hard.tenant, sso.token) is not None
    time.sleep(2.1)
    assert hard.services.sessions.find(hard.tenant, sso.token) is None


def test_each_authentication_gets_a_new_session(realm: Realm) -> None:
    """R-39: a new session id (and cookie secret) at each authentication; the store never sees the secret."""
    one = realm.services.sessions.establish(realm.tenant, realm.user.id, ["pwd"], "urn:idp:acr:pwd")
    two = realm.services.sessions.establish(realm.tenant, realm.user.id, ["pwd", "otp", "mfa"], "urn:idp:acr:mfa")
    assert one.sid != two.sid and one.token != two.token and len(two.token) >= 43
    found = realm.services.sessions.find(realm.tenant, two.token)
    assert found is not None and found.acr == "urn:idp:acr:mfa" and found.amr == ("pwd", "otp", "mfa") and found.sub == realm.user.sub
    assert realm.services.store.find(f"{realm.tenant.slug}:sso:{two.token}") is None
    realm.services.sessions.end(realm.tenant, one.token)
    assert realm.services.sessions.find(realm.tenant, one.token) is None


def test_revoke_user_ends_sessions_and_grants(any_realm: Realm) -> None:
    """R-34, R-40: revoke_user ends every SSO session and revokes refresh tokens and their access tokens."""
    realm = any_realm
    browser = realm.browser()
    _, token = realm.code_flow(browser=browser)
    assert realm.userinfo(token["access_token"]).status_code == 200
    realm.services.sessions.revoke_user(realm.tenant, realm.user.id)
    assert realm.userinfo(token["access_token"]).status_code == 401
    assert realm.introspect(token["access_token"]) == {"active": False}
    r = requests.post(
        realm.endpoint("token"),
        data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"]},
        auth=("web", realm.secrets["web"]),
        timeout=10,
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    again, _, _ = realm.authorize(browser, realm.rp(), prompt="none")
    assert query(again.headers["Location"])["error"] == "login_required"


def _logout(realm: Realm, browser: requests.Session, **params: str) -> requests.Response:
    return browser.get(realm.endpoint("logout"), params=params, allow_redirects=False)


def _signed_in(realm: Realm, browser: requests.Session) -> bool:
    r, _, _ = realm.authorize(browser, realm.rp(), prompt="none")
    return "code" in query(r.headers["Location"])


def test_logout_refuses_bad_redirects_and_hints(realm: Realm) -> None:
    """R-73: no redirect on an unregistered post_logout_redirect_uri, a missing or bad id_token_hint."""
    browser = realm.browser()
    _, token = realm.code_flow(browser=browser)
    header, payload, signature = token["id_token"].split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    unsigned = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + payload + "."
    cases = [
        {"id_token_hint": token["id_token"], "post_logout_redirect_uri": "https://evil.example.com/"},
        {"id_token_hint": token["id_token"], "post_logout_redirect_uri": POST_LOGOUT_URI + "?x=1"},
        {"post_logout_redirect_uri": POST_LOGOUT_URI, "client_id": "web"},
        {"id_token_hint": tampered, "post_logout_redirect_uri": POST_LOGOUT_URI},
        {"id_token_hint": unsigned, "post_logout_redirect_uri": POST_LOGOUT_URI},
        {"id_token_hint": token["access_token"], "post_logout_redirect_uri": POST_LOGOUT_URI},
    ]
    for params in cases:
        r = _logout(realm, browser, **params)
        assert r.status_code == 400 and "Location" not in r.headers, params
    assert _signed_in(realm, browser)


def test_logout_without_parameters_shows_the_logged_out_page(realm: Realm) -> None:
    """RP-Initiated Logout §2: no parameters still logs out, clears the cookie and shows a page; then prompt=none fails."""
    browser = realm.browser()
    assert _signed_in(realm, browser)
    r = _logout(realm, browser, state="only-state")
    assert r.status_code == 200 and "Location" not in r.headers and "text/html" in r.headers["Content-Type"]
    assert 'idp_sso=""' in r.headers["Set-Cookie"] or "idp_sso=;" in r.headers["Set-Cookie"]
    assert not _signed_in(realm, browser)


def test_logout_redirect_without_state(realm: Realm) -> None:
    """RP-Initiated Logout §3: redirect to the registered URI, with state only when sent."""
    browser = realm.browser()
    _, token = realm.code_flow(browser=browser)
    r = _logout(realm, browser, id_token_hint=token["id_token"], post_logout_redirect_uri=POST_LOGOUT_URI)
    assert r.status_code == 302 and r.headers["Location"] == POST_LOGOUT_URI
    assert not _signed_in(realm, browser)


def test_store_unavailable_is_503_temporarily_unavailable(realm_factory: Any, make_server: Any, redis_server: Any) -> None:
    """R-95: when the ephemeral store is down, protocol endpoints fail closed with 503 temporarily_unavailable."""
    down = realm_factory(server=make_server("redis", redis_url=redis_server.url))  # set up while the store is up (admin writes need it)
    redis_server.stop()
    r = requests.post(
        down.endpoint("token"),
        data={"grant_type": "authorization_code", "code": "x" * 43, "redirect_uri": "https://rp.example.com/callback"},
        auth=("web", down.secrets["web"]),
        timeout=20,
    )
    assert r.status_code == 503
    assert r.json()["error"] == "temporarily_unavailable" and r.headers["Cache-Control"] == "no-store"
