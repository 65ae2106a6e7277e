"""The ``address`` scope and claim (OIDC Core §5.1.1, §5.4): a structured object in the ID token and at userinfo when
the scope is granted, absent otherwise; listed in discovery (R-74). The RP is Authlib's client on a live server."""

from __future__ import annotations

import requests
from authlib.common.security import generate_token
from support.builders import Realm

ADDRESS = {
    "formatted": "1 rue de la Paix\n75002 Paris\nFrance",
    "street_address": "1 rue de la Paix",
    "locality": "Paris",
    "region": "Île-de-France",
    "postal_code": "75002",
    "country": "France",
}


def test_discovery_lists_the_scope_and_the_claim(realm: Realm) -> None:
    meta = requests.get(realm.endpoint("discovery"), timeout=10).json()
    assert "address" in meta["scopes_supported"] and "address" in meta["claims_supported"]


def test_the_address_scope_releases_the_structured_claim(realm: Realm) -> None:
    realm.services.users.update(realm.tenant, realm.user, address=ADDRESS)
    rp, token = realm.code_flow(scope="openid address")
    claims = realm.verify(token["id_token"], aud="web")
    assert claims["address"] == ADDRESS
    info = rp.get(realm.endpoint("userinfo")).json()
    assert info["address"] == ADDRESS and info["sub"] == realm.user.sub
    assert "email" not in info and "preferred_username" not in info  # only what was asked


def test_without_the_scope_there_is_no_address(realm: Realm) -> None:
    realm.services.users.update(realm.tenant, realm.user, address=ADDRESS)
    rp, token = realm.code_flow(scope="openid profile email")
    assert "address" not in realm.verify(token["id_token"], aud="web")
    assert "address" not in rp.get(realm.endpoint("userinfo")).json()


def test_a_user_without_an_address_gets_no_claim(realm: Realm) -> None:
    rp, token = realm.code_flow(scope="openid address")
    assert "address" not in realm.verify(token["id_token"], aud="web")
    assert "address" not in rp.get(realm.endpoint("userinfo")).json()


def test_a_client_not_allowed_the_scope_does_not_get_it(realm: Realm) -> None:
    """The client's registered scopes bound what it gets: a client without ``address`` is not given the claim."""
    realm.services.users.update(realm.tenant, realm.user, address=ADDRESS)
    _, realm.secrets["narrow"] = realm.services.clients.create(realm.tenant, "narrow", ["https://rp.example.com/callback"], scope="openid profile")
    browser = realm.browser()
    rp = realm.rp("narrow", scope="openid address")
    response, verifier, _ = realm.authorize(browser, rp, nonce=generate_token(16))
    token = rp.fetch_token(realm.endpoint("token"), authorization_response=response.headers["Location"], code_verifier=verifier)
    assert "address" not in realm.verify(token["id_token"], aud="narrow")
    assert "address" not in rp.get(realm.endpoint("userinfo")).json()
