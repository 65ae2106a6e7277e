"""Consent for third-party clients (issue 15 item 3; R-76): the consent page, remembered grants, ``prompt=consent`` and
``prompt=none``, "Deny", and revocation, seen by an independent RP (Authlib's ``OAuth2Session``) against a live server.

A browser without JavaScript (``requests``) walks the pages here; Chromium, in English and French, in
``test_consent_browser.py``. R-42 (CSRF), R-58 (errors only to the registered URI), R-69 (``iss``), R-70 (``state``),
R-71 (``prompt=none``), R-74 (discovery), R-63/R-34 (revoked refresh tokens are refused).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from support.builders import PASSWORD, REDIRECT_URI, Realm
from support.forms import find_form
from support.walkers import query, submit

PARTNER = "partner"
PARTNER_NAME = "Partner Photos"


@pytest.fixture
def partner(realm_factory: Any, backend: str) -> Realm:
    """A realm (on each store backend) with a third-party client ``partner`` besides its first-party ones."""
    realm = realm_factory(backend)
    _, realm.secrets[PARTNER] = realm.services.clients.create(
        realm.tenant, PARTNER, [REDIRECT_URI], name=PARTNER_NAME, consent_required=True
    )
    return realm


@pytest.fixture
def third(realm: Realm) -> Realm:
    """The same on the embedded store alone, for the rules that do not live in the store."""
    _, realm.secrets[PARTNER] = realm.services.clients.create(realm.tenant, PARTNER, [REDIRECT_URI], name=PARTNER_NAME, consent_required=True)
    return realm


def listed_scopes(page: requests.Response) -> list[str]:
    return re.findall(r'<li data-scope="([^"]+)">', page.text)


def consent_page(response: requests.Response) -> requests.Response:
    """The checks every consent page passes (R-45, R-56, R-66): returns it."""
    assert response.status_code == 200, (response.status_code, response.headers.get("Location"), response.text[:500])
    assert response.headers["Cache-Control"] == "no-store"
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert "<script" not in response.text  # works without JavaScript
    assert PARTNER_NAME in response.text
    form = find_form(response.text, 0)
    assert form is not None and form.method == "post" and set(form.hidden) == {"csrf_token", "ask"}
    return response


def answer(browser: requests.Session, page: requests.Response, decision: str) -> requests.Response:
    return submit(browser, page, decision=decision)


def redeem(realm: Realm, rp: Any, location: str, verifier: str) -> dict[str, Any]:
    return dict(rp.fetch_token(realm.endpoint("token"), authorization_response=location, code_verifier=verifier))


def test_discovery_advertises_prompt_consent(third: Realm) -> None:
    """R-74: the endpoint honours prompt=consent, so discovery says so."""
    meta = requests.get(third.endpoint("discovery"), timeout=10).json()
    assert meta["prompt_values_supported"] == ["none", "login", "consent"]


def test_a_first_party_client_never_asks(third: Realm) -> None:
    """First-party clients stay as they were: a signed-in browser gets the code at once, prompt=consent too."""
    browser = third.browser()
    for extra in ({}, {"prompt": "consent"}):
        response, _, _ = third.authorize(browser, third.rp("web"), **extra)
        assert response.status_code == 302 and "code" in query(response.headers["Location"])


def test_the_page_lists_the_scopes_then_allow_issues_a_code_and_is_remembered(partner: Realm) -> None:
    """R-76: the page names the client and lists what it asks for (only scopes it may have); "Allow" continues to the
    RP with a code Authlib redeems; the next request with the same scopes skips the page; a wider one asks again."""
    realm, browser = partner, partner.browser()
    rp = realm.rp(PARTNER, scope="openid profile email unknown-scope")
    response, verifier, state = realm.authorize(browser, rp, nonce=generate_token(16))
    page = consent_page(response)
    assert listed_scopes(page) == ["openid", "profile", "email"]
    assert "Your email address" in page.text and "Signed in as alice." in page.text
    assert realm.services.consents.list_for_user(realm.tenant, realm.user.id) == []  # nothing stored before the answer

    allowed = answer(browser, page, "allow")
    assert allowed.status_code == 302 and allowed.headers["Location"].startswith(REDIRECT_URI)
    params = query(allowed.headers["Location"])
    assert params["state"] == state and params["iss"] == realm.issuer
    token = redeem(realm, rp, allowed.headers["Location"], verifier)
    claims = realm.verify(token["id_token"], aud=PARTNER, sub=realm.user.sub)
    assert claims["email"] == "alice@example.com"
    [consent] = realm.services.consents.list_for_user(realm.tenant, realm.user.id)
    assert (consent.client_id, consent.client_name, consent.scopes) == (PARTNER, PARTNER_NAME, ("openid", "profile", "email"))

    again, verifier, _ = realm.authorize(browser, realm.rp(PARTNER, scope="openid email"))
    assert again.status_code == 302 and "code" in query(again.headers["Location"])  # remembered: no page

    wider, _, _ = realm.authorize(browser, realm.rp(PARTNER, scope="openid email phone"))
    assert listed_scopes(consent_page(wider)) == ["openid", "email", "phone"]
    assert answer(browser, wider, "allow").status_code == 302
    [consent] = realm.services.consents.list_for_user(realm.tenant, realm.user.id)
    assert consent.scopes == ("openid", "profile", "email", "phone")
    granted = realm.services.audit.query(realm.tenant.id, type="consent.granted", user_id=realm.user.id)
    assert [(e.details["client_id"], e.details["scopes"], e.actor) for e in granted] == [
        (PARTNER, ["openid", "email", "phone"], f"user:{realm.user.id}"),
        (PARTNER, ["openid", "profile", "email"], f"user:{realm.user.id}"),
    ]


def test_prompt_consent_asks_again_though_granted(third: Realm) -> None:
    """OIDC Core §3.1.2.1: prompt=consent shows the page even when every scope was granted; answering it ends the prompt."""
    browser, rp = third.browser(), third.rp(PARTNER, scope="openid profile")
    first, _, _ = third.authorize(browser, rp)
    assert answer(browser, consent_page(first), "allow").status_code == 302
    forced, verifier, _ = third.authorize(browser, rp, prompt="consent")
    allowed = answer(browser, consent_page(forced), "allow")
    assert allowed.status_code == 302
    assert redeem(third, rp, allowed.headers["Location"], verifier)["access_token"]


def test_deny_sends_access_denied_to_the_client_and_stores_nothing(third: Realm) -> None:
    """"Deny" redirects access_denied with state and iss (RFC 6749 §4.1.2.1, R-69, R-70); no consent is kept."""
    browser = third.browser()
    response, _, state = third.authorize(browser, third.rp(PARTNER))
    denied = answer(browser, consent_page(response), "deny")
    assert denied.status_code == 302 and denied.headers["Location"].startswith(REDIRECT_URI)
    params = query(denied.headers["Location"])
    assert params["error"] == "access_denied" and params["state"] == state and params["iss"] == third.issuer and "code" not in params
    assert third.services.consents.list_for_user(third.tenant, third.user.id) == []
    again, _, _ = third.authorize(browser, third.rp(PARTNER))
    consent_page(again)  # still asks


def test_deny_in_form_post_mode_posts_access_denied(third: Realm) -> None:
    """The answer goes back in the request's response mode: form_post gets the page posting error=access_denied."""
    browser = third.browser()
    response, _, state = third.authorize(browser, third.rp(PARTNER), response_mode="form_post")
    denied = answer(browser, consent_page(response), "deny")
    assert denied.status_code == 200 and denied.headers["Cache-Control"] == "no-store"
    form = find_form(denied.text, 0)
    assert form is not None and form.action == REDIRECT_URI
    assert form.hidden["error"] == "access_denied" and form.hidden["state"] == state and form.hidden["iss"] == third.issuer


def test_prompt_none_without_consent_is_consent_required_then_silent_once_granted(third: Realm) -> None:
    """R-71: prompt=none shows no page: consent_required until the user allowed the scopes, then a code."""
    browser, rp = third.browser(), third.rp(PARTNER, scope="openid email")
    silent, _, state = third.authorize(browser, rp, prompt="none")
    assert silent.status_code == 302
    params = query(silent.headers["Location"])
    assert params["error"] == "consent_required" and params["state"] == state and params["iss"] == third.issuer
    first, _, _ = third.authorize(browser, rp)
    assert answer(browser, consent_page(first), "allow").status_code == 302
    silent, verifier, _ = third.authorize(browser, rp, prompt="none")
    assert silent.status_code == 302 and "code" in query(silent.headers["Location"])
    assert redeem(third, rp, silent.headers["Location"], verifier)["id_token"]


def test_sign_in_then_consent_then_code(third: Realm) -> None:
    """No session: the sign-in page first, then (auth/resume) the consent page, then the code."""
    browser, rp = requests.Session(), third.rp(PARTNER, scope="openid profile")
    start, verifier, state = third.authorize(browser, rp)
    assert start.status_code == 303
    sign_in = browser.get(urljoin(start.url, start.headers["Location"]), timeout=10)
    posted = submit(browser, sign_in, username="alice", password=PASSWORD)
    resume = urljoin(posted.url, posted.headers["Location"])
    assert urlsplit(resume).path.endswith("/auth/resume")
    page = consent_page(browser.get(resume, allow_redirects=False, timeout=10))
    allowed = answer(browser, page, "allow")
    assert query(allowed.headers["Location"])["state"] == state
    assert third.verify(redeem(third, rp, allowed.headers["Location"], verifier)["id_token"], aud=PARTNER)["sub"] == third.user.sub


def test_the_answer_needs_this_browsers_csrf_token_and_counts_once(third: Realm) -> None:
    """R-42: no token, 400; another browser's token, 400; another browser with its own token cannot answer this
    browser's request; an answer replayed finds the request used."""
    browser = third.browser()
    page = consent_page(third.authorize(browser, third.rp(PARTNER))[0])
    form = find_form(page.text, 0)
    assert form is not None
    action = urljoin(page.url, form.action)
    no_token = browser.post(action, data={"ask": form.hidden["ask"], "decision": "allow"}, allow_redirects=False, timeout=10)
    assert no_token.status_code == 400
    other = third.browser()
    assert other.post(action, data={**form.hidden, "decision": "allow"}, allow_redirects=False, timeout=10).status_code == 400
    own = find_form(consent_page(third.authorize(other, third.rp(PARTNER))[0]).text, 0)
    assert own is not None
    stolen = other.post(action, data={"csrf_token": own.hidden["csrf_token"], "ask": form.hidden["ask"], "decision": "allow"}, allow_redirects=False, timeout=10)
    assert stolen.status_code == 400 and "This page has expired" in stolen.text
    assert third.services.consents.list_for_user(third.tenant, third.user.id) == []
    assert answer(browser, page, "allow").status_code == 302
    replayed = answer(browser, page, "allow")
    assert replayed.status_code == 400 and "This page has expired" in replayed.text
    bad = browser.post(action, data={**form.hidden, "decision": "maybe"}, allow_redirects=False, timeout=10)
    assert bad.status_code == 400


def test_revoking_the_consent_revokes_the_clients_tokens_and_asks_again(partner: Realm) -> None:
    """Like Keycloak: revoking a consent refuses the client's refresh tokens (invalid_grant, R-63), turns its access
    tokens inactive, refuses a code not yet redeemed (R-34), and the next request asks again. The user's tokens of
    other clients stay."""
    realm, browser = partner, partner.browser()
    rp = realm.rp(PARTNER, scope="openid profile offline_access")
    response, verifier, _ = realm.authorize(browser, rp)
    token = redeem(realm, rp, answer(browser, consent_page(response), "allow").headers["Location"], verifier)
    assert token["refresh_token"]
    refreshed = rp.refresh_token(realm.endpoint("token"), refresh_token=token["refresh_token"])
    pending, pending_verifier, _ = realm.authorize(browser, realm.rp(PARTNER, scope="openid profile"))
    assert pending.status_code == 302  # remembered: a code, not yet redeemed
    _, first_party = realm.code_flow(browser, "web")

    ended = realm.services.consents.revoke(realm.tenant, realm.user.id, PARTNER, actor="user:test")
    assert ended == 2
    assert realm.services.consents.list_for_user(realm.tenant, realm.user.id) == []
    with pytest.raises(OAuthError) as refused:
        rp.refresh_token(realm.endpoint("token"), refresh_token=refreshed["refresh_token"])
    assert refused.value.error == "invalid_grant"
    assert realm.userinfo(refreshed["access_token"]).status_code == 401
    with pytest.raises(OAuthError) as stale:
        redeem(realm, realm.rp(PARTNER, scope="openid profile"), pending.headers["Location"], pending_verifier)
    assert stale.value.error == "invalid_grant"
    consent_page(realm.authorize(browser, realm.rp(PARTNER, scope="openid profile"))[0])
    assert realm.userinfo(first_party["access_token"]).status_code == 200  # another client's tokens stay
    assert realm.introspect(first_party["refresh_token"])["active"] is True


def test_the_consent_page_is_bound_to_the_signed_in_user(third: Realm) -> None:
    """A session replaced by another user's between the page and the answer cannot use the first user's request."""
    bob = third.services.users.create(third.tenant, "bob", PASSWORD, email="bob@example.com")
    browser = third.browser()
    page = consent_page(third.authorize(browser, third.rp(PARTNER))[0])
    sso = third.services.sessions.establish(third.tenant, bob.id, ["pwd"], "urn:idp:acr:pwd")
    browser.cookies.set("idp_sso", sso.token, path=f"/realms/{third.tenant.slug}/")
    refused = answer(browser, page, "allow")
    assert refused.status_code == 400 and "session has expired" in refused.text
    assert third.services.consents.list_for_user(third.tenant, bob.id) == []
    assert third.services.consents.list_for_user(third.tenant, third.user.id) == []
