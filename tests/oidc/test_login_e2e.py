"""The whole flow through the hosted sign-in form, as a browser without JavaScript and Authlib's client as the RP."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from authlib.common.security import generate_token
from support.builders import PASSWORD, REDIRECT_URI, Realm
from support.forms import inputs
from support.walkers import query, submit


def _sign_in(realm: Realm, browser: requests.Session, start: requests.Response, password: str = PASSWORD) -> requests.Response:
    """Follow the authorization endpoint to the sign-in page, fill the form (parsed from HTML) and post it."""
    assert start.status_code == 303, start.text
    page_url = urljoin(start.url, start.headers["Location"])
    page = browser.get(page_url)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    fields = inputs(page.text)
    assert "csrf_token" in fields and "step" in fields and "password" in fields
    return submit(browser, page, username="alice", password=password)


def _finish(realm: Realm, browser: requests.Session, posted: requests.Response) -> requests.Response:
    """From the 303 after the form, through auth/resume, to the redirect back to the RP."""
    assert posted.status_code == 303, posted.text
    resume = urljoin(posted.url, posted.headers["Location"])
    assert urlsplit(resume).path == f"/realms/{realm.tenant.slug}/protocol/openid-connect/auth/resume"
    back = browser.get(resume, allow_redirects=False)
    assert back.status_code == 302 and back.headers["Location"].startswith(REDIRECT_URI + "?"), back.text
    return back


def test_sign_in_through_the_login_page(any_realm: Realm) -> None:
    """Issue 2 tests: discovery, authorize, login form, code exchange, ID token against the JWKS, userinfo, prompt=login."""
    realm = any_realm
    meta = requests.get(realm.endpoint("discovery"), timeout=10).json()
    assert meta["authorization_endpoint"] == realm.endpoint("auth")
    browser = requests.Session()
    rp = realm.rp()
    nonce = generate_token(16)
    start, verifier, state = realm.authorize(browser, rp, nonce=nonce, login_hint="alice", ui_locales="en")
    posted = _sign_in(realm, browser, start)
    cookie = posted.headers.get("Set-Cookie", "")
    assert "idp_sso=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert f"Path=/realms/{realm.tenant.slug}/" in cookie  # the session cookie is per tenant
    back = _finish(realm, browser, posted)
    params = query(back.headers["Location"])
    assert params["state"] == state and params["iss"] == realm.issuer
    token: Any = rp.fetch_token(realm.endpoint("token"), authorization_response=back.headers["Location"], code_verifier=verifier)
    first = realm.verify(token["id_token"], aud="web", nonce=nonce, sub=realm.user.sub, acr="urn:idp:acr:pwd")
    assert first["amr"] == ["pwd"]
    assert rp.get(realm.endpoint("userinfo")).json()["preferred_username"] == "alice"

    silent, _, _ = realm.authorize(browser, realm.rp(), prompt="none")
    assert "code" in query(silent.headers["Location"])

    time.sleep(1.1)
    rp2 = realm.rp()
    again, verifier2, _ = realm.authorize(browser, rp2, prompt="login", max_age="3600")
    back2 = _finish(realm, browser, _sign_in(realm, browser, again))
    token2: Any = rp2.fetch_token(realm.endpoint("token"), authorization_response=back2.headers["Location"], code_verifier=verifier2)
    second = realm.verify(token2["id_token"], sub=realm.user.sub)
    assert second["auth_time"] > first["auth_time"]  # prompt=login re-authenticates
    assert second["sid"] != first["sid"]  # a new session at each authentication


def test_wrong_password_stays_on_the_page(realm: Realm) -> None:
    """A failed sign-in renders the form again and issues nothing."""
    browser = requests.Session()
    start, _, _ = realm.authorize(browser, realm.rp())
    posted = _sign_in(realm, browser, start, password="not the password at all")
    assert posted.status_code == 200 and "Location" not in posted.headers
    assert "idp_sso" not in posted.headers.get("Set-Cookie", "")


def test_resume_needs_this_browser_and_a_completed_flow(realm: Realm) -> None:
    """docs/CONTRACTS.md: auth/resume only finishes a completed flow of this browser."""
    r = requests.get(realm.endpoint("auth/resume"), params={"flow": "made-up"}, allow_redirects=False, timeout=10)
    assert r.status_code == 400 and "Location" not in r.headers
