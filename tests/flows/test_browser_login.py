"""The browser login flow (issue 2, item 7): username or email, then password, through a real server.

R-28 (same answer for unknown users and wrong passwords), R-42 (cookies, CSRF), R-43 (steps in order),
R-56 (a new SSO session), R-67 (303 after the credential post), R-65 (no open redirect).
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import statistics
import time
import urllib.parse
from typing import Any

import pytest
from playwright.sync_api import expect
from support.builders import PASSWORD, Site, make_site
from support.forms import inputs

from flows.browser_login import BrowserLoginFlow
from flows.steps.password import PasswordStep
from idp.oidc.sessions import COOKIE as SSO_COOKIE
from idp.security.throttle import FREE_FAILURES


@pytest.fixture
def site(live_server: Any) -> Site:
    return make_site(live_server)


def test_the_flow_is_registered_and_on_by_default(live_server: Any) -> None:
    flow = live_server.services.registry.get("browser-login")
    assert isinstance(flow, BrowserLoginFlow) and flow.completes == "login" and flow.default_enabled
    assert flow.steps[0] is PasswordStep
    assert PasswordStep.provides == ("identified", "password", "passkey")  # passkey: passwordless sign-in (issue 14)


@pytest.mark.parametrize("login", ["username", "email"])
def test_sign_in_with_username_or_email(site: Site, login: str) -> None:
    browser = site.browser("en")
    page = site.walker(browser).open_login()
    flow_cookies = [c.name for c in browser.cookies if c.name.startswith("idp_flow.")]
    assert flow_cookies == [f"idp_flow.{site.tenant.slug}.browser-login"]
    done = site.walker(browser).post_login(page, getattr(site, login).upper() if login == "email" else site.username, PASSWORD)
    assert done.status_code == 200
    assert "You are signed in" in done.text and f"Signed in as {site.username}." in done.text
    assert SSO_COOKIE in done.cookies  # a new SSO session
    set_cookie = done.headers["Set-Cookie"]
    assert re.search(rf"idp_flow\.{re.escape(site.tenant.slug)}\.browser-login=;", set_cookie)  # the run is over
    # a replay of the same post finds no run any more
    again = browser.post(site.url("/flow/browser-login"), data={**inputs(page.text), "username": site.username, "password": PASSWORD}, timeout=30)
    assert again.status_code == 400


def test_the_flow_cookie_is_signed_httponly_and_lax(site: Site) -> None:
    """R-42: HttpOnly, SameSite=Lax; the value is signed (a forged id is ignored)."""
    browser = site.browser("en")
    response = browser.get(site.url("/login"), timeout=10, allow_redirects=False)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/realms/{site.tenant.slug}/flow/browser-login"  # our own page only
    header = response.headers["Set-Cookie"]
    flow_part = next(p for p in header.split(", idp") if "idp_flow." in p or p.startswith("_flow."))
    assert "HttpOnly" in flow_part and "SameSite=Lax" in flow_part and "Path=/" in flow_part
    name = f"idp_flow.{site.tenant.slug}.browser-login"
    browser.cookies.set(name, "eyJpZCI6ImZvcmdlZCJ9.forged", path="/")
    assert browser.get(site.url("/flow/browser-login"), timeout=10).status_code == 200  # a fresh run, nothing leaked


def test_unknown_user_and_wrong_password_get_the_same_answer(site: Site) -> None:
    """R-28: same message, status and (within noise) timing whether the account exists or not."""
    browser = site.browser("en")
    page = site.walker(browser).open_login()

    def attempt(login: str) -> tuple[int, str, float]:
        started = time.perf_counter()
        response = site.walker(browser).post_login(page, login, "wrong password 123")
        elapsed = time.perf_counter() - started
        body = re.sub(r'nonce="[^"]+"|data-passkey-options="[^"]+"', "", response.text.replace(login, "LOGIN"))  # per-page randoms
        return response.status_code, body, elapsed

    # interleaved, so a burst of load from a parallel test slows both kinds alike; four of each is what
    # the throttle lets through without a delay (FREE_FAILURES per account and address)
    unknown, wrong = [], []
    for _ in range(FREE_FAILURES):
        unknown.append(attempt("nobody-" + site.username))
        wrong.append(attempt(site.username))
    assert {u[0] for u in unknown} == {w[0] for w in wrong} == {200}
    assert unknown[0][1] == wrong[0][1]
    assert "Invalid username or password." in wrong[0][1]
    t_unknown = statistics.median(u[2] for u in unknown)
    t_wrong = statistics.median(w[2] for w in wrong)
    assert 0.5 < t_unknown / t_wrong < 2.0, (t_unknown, t_wrong)


def test_a_disabled_account_gets_the_same_answer(site: Site) -> None:
    user = site.services.users.by_username(site.tenant, site.username)
    site.services.users.update(site.tenant, user, status="disabled")
    browser = site.browser("en")
    response = site.walker(browser).sign_in(site.username, PASSWORD)
    assert response.status_code == 200 and "Invalid username or password." in response.text
    assert SSO_COOKIE not in response.cookies


def test_empty_fields_are_asked_again(site: Site) -> None:
    browser = site.browser("fr")
    response = site.walker(browser).sign_in("", "")
    assert "Saisissez votre nom d'utilisateur ou votre e-mail, et votre mot de passe." in html.unescape(response.text)


def test_a_post_for_another_step_rerenders_the_current_one(site: Site) -> None:
    """R-43: the engine only runs the current step; a post naming another one changes nothing."""
    browser = site.browser("en")
    page = site.walker(browser).open_login()
    fields = {**inputs(page.text), "step": "totp", "username": site.username, "password": PASSWORD}
    response = browser.post(site.url("/flow/browser-login"), data=fields, timeout=30)
    assert response.status_code == 200 and "Sign in to your account" in response.text
    assert SSO_COOKIE not in response.cookies


def test_repeated_failures_are_throttled(site: Site) -> None:
    """The password step goes through services.throttle (R-06): after the free failures, a wait is imposed."""
    browser = site.browser("en")
    page = site.walker(browser).open_login()
    tries = FREE_FAILURES + 2
    statuses = [site.walker(browser).post_login(page, site.username, "wrong password 123").status_code for _ in range(tries)]
    assert statuses[:-1] == [200] * (tries - 1) and statuses[-1] == 429
    blocked = site.walker(browser).post_login(page, site.username, PASSWORD)
    assert blocked.status_code == 429 and "Too many attempts" in blocked.text


# -- in a real browser ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "locale,labels,done",
    [
        ("fr-FR", ("Utilisateur ou e-mail", "Mot de passe", "S'authentifier"), "Vous êtes connecté"),
        ("en-US", ("Username or email", "Password", "Sign in"), "You are signed in"),
    ],
)
def test_sign_in_in_chromium(site: Site, new_page: Any, locale: str, labels: tuple[str, str, str], done: str) -> None:
    """A person signs in on the page in French and in English, JavaScript playing no part."""
    page = new_page(locale)
    page.goto(site.url("/login"))
    user_label, password_label, button = labels
    assert page.locator("html").get_attribute("lang") == locale[:2]
    page.get_by_label(user_label).fill("wrong-" + site.username)
    page.get_by_label(password_label).fill("nope nope nope")
    page.get_by_role("button", name=button, exact=True).click()
    expect(page.get_by_role("alert")).to_be_visible()  # waits for the answer page, not the one the click left
    assert page.get_by_label(user_label).get_attribute("aria-describedby") == "form-error"
    page.get_by_label(user_label).fill(site.email)
    page.get_by_label(password_label).fill(PASSWORD)
    page.get_by_role("button", name=button, exact=True).click()
    page.get_by_role("heading", name=done).wait_for()
    assert any(c["name"] == SSO_COOKIE and c["httpOnly"] for c in page.context.cookies())


def test_a_parked_authorization_request_resumes_after_sign_in(site: Site) -> None:
    """The authorization endpoint parks the request with start_flow; after the credential post the browser
    goes (303, R-67) to oidc.resume on our own site (R-65), which answers the RP's registered redirect_uri."""
    site.services.clients.create(site.tenant, "rp-app", ["https://rp.example.org/cb"], public=True)
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    params = {
        "client_id": "rp-app",
        "redirect_uri": "https://rp.example.org/cb",
        "response_type": "code",
        "scope": "openid",
        "state": "xyz",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "ui_locales": "fr",
    }
    browser = site.browser("en")
    page = browser.get(site.url("/protocol/openid-connect/auth"), params=params, timeout=10)
    assert page.url.startswith(site.url("/flow/browser-login")) and '<html lang="fr">' in page.text
    done = site.walker(browser).post_login(page, site.username, PASSWORD)
    assert done.status_code == 303
    location = done.headers["Location"]
    assert location.startswith(f"/realms/{site.tenant.slug}/protocol/openid-connect/auth/resume?flow=")
    assert SSO_COOKIE in done.cookies
    final = browser.get(site.server.url + location, timeout=10, allow_redirects=False)
    assert final.status_code in (302, 303)
    back = urllib.parse.urlsplit(final.headers["Location"])
    query = urllib.parse.parse_qs(back.query)
    assert (back.scheme, back.netloc, back.path) == ("https", "rp.example.org", "/cb")
    assert query["state"] == ["xyz"] and query["code"]
