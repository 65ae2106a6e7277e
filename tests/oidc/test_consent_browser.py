"""The consent page in Chromium, in English and French, with and without JavaScript (issue 15 item 3; R-76, R-66).

The RP is Authlib's client with a real receiver on a loopback port (``oidc.test_form_post``): after the sign-in,
the page names the client and lists the scopes in the browser's language; "Allow" lands on the RP with a code that
Authlib redeems, "Deny" with ``access_denied``; a second authorization goes straight through.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from playwright.sync_api import expect
from support.builders import PASSWORD, Realm

from oidc.test_form_post import Receiver, receiver

__all__ = ["receiver"]

PARTNER = "partner"
PARTNER_NAME = "Partner Photos"

ENGLISH = {
    "sign_in": ("Username or email", "Password", "Sign in"),
    "heading": f"Allow {PARTNER_NAME} to access your account?",
    "asks": f"{PARTNER_NAME} asks for:",
    "scopes": ["Confirm who you are (an identifier of your account)", "Your profile: name, username, language", "Your email address"],
    "allow": "Allow",
    "deny": "Deny",
}
FRENCH = {
    "sign_in": ("Utilisateur ou e-mail", "Mot de passe", "S'authentifier"),
    "heading": f"Autoriser {PARTNER_NAME} à accéder à votre compte ?",
    "asks": f"{PARTNER_NAME} demande :",
    "scopes": ["Confirmer qui vous êtes (un identifiant de votre compte)", "Votre profil : nom, nom d'utilisateur, langue", "Votre adresse e-mail"],
    "allow": "Autoriser",
    "deny": "Refuser",
}


def from_query(arrival: Any) -> dict[str, str]:
    """The parameters of a redirect that reached the RP in query mode."""
    return dict(parse_qsl(urlsplit(arrival.path).query))


def _partner(realm: Realm, receiver: Receiver) -> OAuth2Session:
    _, secret = realm.services.clients.create(realm.tenant, PARTNER, [receiver.url], name=PARTNER_NAME, consent_required=True)
    return OAuth2Session(PARTNER, secret, scope="openid profile email", redirect_uri=receiver.url, code_challenge_method="S256")


def _to_consent_page(page: Any, realm: Realm, rp: OAuth2Session, words: dict[str, Any]) -> str:
    """Authorize, sign in as alice; the consent page shows (checked through waiting assertions). Returns the verifier."""
    verifier = generate_token(48)
    url, _ = rp.create_authorization_url(realm.endpoint("auth"), code_verifier=verifier, nonce=generate_token(16))
    page.goto(url)
    user_label, password_label, button = words["sign_in"]
    page.get_by_label(user_label).fill("alice")
    page.get_by_label(password_label).fill(PASSWORD)
    page.get_by_role("button", name=button, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(words["heading"])
    expect(page.get_by_role("heading", level=2)).to_have_text(words["asks"])
    expect(page.get_by_role("list", name=words["asks"]).get_by_role("listitem")).to_have_text(words["scopes"])
    return verifier


@pytest.mark.parametrize("locale,words", [("en-US", ENGLISH), ("fr-FR", FRENCH)])
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_allow_lands_on_the_rp_with_a_code_and_is_remembered(
    realm: Realm, receiver: Receiver, chromium: Any, locale: str, words: dict[str, Any], javascript: bool
) -> None:
    context = chromium.new_context(locale=locale, java_script_enabled=javascript)
    try:
        context.set_default_timeout(15_000)
        page = context.new_page()
        rp = _partner(realm, receiver)
        verifier = _to_consent_page(page, realm, rp, words)
        page.get_by_role("button", name=words["allow"], exact=True).click()
        expect(page.get_by_role("heading", name="received")).to_be_visible()
        arrival = receiver.wait()
        assert arrival.method == "GET" and "code" in from_query(arrival)
        location = receiver.url + arrival.path[len("/callback") :]
        token = rp.fetch_token(realm.endpoint("token"), authorization_response=location, code_verifier=verifier)
        assert realm.verify(token["id_token"], aud=PARTNER)["sub"] == realm.user.sub

        # remembered: the next authorization (same browser, still signed in) goes straight to the RP
        receiver.arrived.clear()
        again, _ = rp.create_authorization_url(realm.endpoint("auth"), code_verifier=generate_token(48))
        page.goto(again)
        expect(page.get_by_role("heading", name="received")).to_be_visible()
        assert "code" in from_query(receiver.wait())
    finally:
        context.close()


@pytest.mark.parametrize("locale,words", [("en-US", ENGLISH), ("fr-FR", FRENCH)])
def test_deny_lands_on_the_rp_with_access_denied(realm: Realm, receiver: Receiver, new_page: Any, locale: str, words: dict[str, Any]) -> None:
    page = new_page(locale)
    rp = _partner(realm, receiver)
    _to_consent_page(page, realm, rp, words)
    page.get_by_role("button", name=words["deny"], exact=True).click()
    expect(page.get_by_role("heading", name="received")).to_be_visible()
    params = from_query(receiver.wait())
    assert params["error"] == "access_denied" and params["iss"] == realm.issuer and "code" not in params
    assert realm.services.consents.list_for_user(realm.tenant, realm.user.id) == []
