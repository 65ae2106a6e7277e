"""The whole code flow with Authlib's client as the RP: discovery, authorize, code, ID token, userinfo, refresh, revoke, logout."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests
from authlib.common.security import generate_token
from authlib.oidc.discovery import OpenIDProviderMetadata
from support.builders import POST_LOGOUT_URI, REDIRECT_URI, Realm
from support.walkers import query


def test_discovery_matches_the_issuer_and_the_endpoints(realm: Realm) -> None:
    """R-74, R-69, R-60: the issuer is exact, endpoints are Keycloak's paths, S256 and iss are advertised."""
    r = requests.get(realm.endpoint("discovery"), timeout=10)
    assert r.status_code == 200
    meta = r.json()
    OpenIDProviderMetadata(meta).validate()
    assert meta["issuer"] == realm.issuer
    assert meta["token_endpoint"] == realm.endpoint("token")
    assert meta["jwks_uri"] == realm.endpoint("certs")
    assert meta["end_session_endpoint"] == realm.endpoint("logout")
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["response_types_supported"] == ["code"]
    assert "max-age" in r.headers["Cache-Control"]
    again = requests.get(realm.endpoint("discovery"), headers={"If-None-Match": r.headers["ETag"]}, timeout=10)
    assert again.status_code == 304


def test_jwks_is_cacheable_and_every_key_has_a_kid(realm: Realm) -> None:
    """R-72: kid-tagged keys at jwks_uri, served with Cache-Control and ETag."""
    r = requests.get(realm.endpoint("certs"), timeout=10)
    keys = r.json()["keys"]
    assert keys and all(k["kid"] and k["alg"] == "RS256" and k["use"] == "sig" for k in keys)
    assert all("d" not in k and "p" not in k for k in keys)
    assert r.headers["Cache-Control"] == "public, max-age=600"
    assert requests.get(realm.endpoint("certs"), headers={"If-None-Match": r.headers["ETag"]}, timeout=10).status_code == 304


def test_code_flow_end_to_end(any_realm: Realm) -> None:
    """R-58..R-63, R-69, R-70, R-72, R-73: the RP signs in, reads userinfo, refreshes, revokes and logs out."""
    realm = any_realm
    browser = realm.browser()
    rp = realm.rp()
    nonce = generate_token(16)
    response, verifier, state = realm.authorize(browser, rp, nonce=nonce)
    assert response.status_code == 302
    params = query(response.headers["Location"])
    assert response.headers["Location"].startswith(REDIRECT_URI + "?")
    assert params["state"] == state and params["iss"] == realm.issuer  # R-70, R-69 (RFC 9207)
    token = rp.fetch_token(realm.endpoint("token"), authorization_response=response.headers["Location"], code_verifier=verifier)
    assert token["token_type"] == "Bearer" and token["refresh_token"] and token["id_token"]

    id_claims = realm.verify(token["id_token"], aud="web", nonce=nonce, sub=realm.user.sub)
    assert id_claims["auth_time"] <= id_claims["iat"] < id_claims["exp"]
    assert id_claims["acr"] == "urn:idp:acr:pwd" and id_claims["sid"] and id_claims["at_hash"]
    assert id_claims["email"] == "alice@example.com" and id_claims["given_name"] == "Alice"
    at_claims = realm.verify(token["access_token"], client_id="web", sub=realm.user.sub)
    assert at_claims["scope"] == "openid profile email phone offline_access"

    get = rp.get(realm.endpoint("userinfo"))
    post = rp.post(realm.endpoint("userinfo"))
    body = requests.post(realm.endpoint("userinfo"), data={"access_token": token["access_token"]}, timeout=10)
    for r in (get, post, body):
        assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
        assert r.json()["sub"] == realm.user.sub and r.json()["phone_number"] == "+33612345678"

    refreshed = rp.refresh_token(realm.endpoint("token"))
    assert refreshed["refresh_token"] != token["refresh_token"]
    assert realm.userinfo(refreshed["access_token"]).status_code == 200

    rp.revoke_token(realm.endpoint("revoke"), refreshed["refresh_token"], token_type_hint="refresh_token")
    refused = requests.post(
        realm.endpoint("token"),
        data={"grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]},
        auth=("web", realm.secrets["web"]),
        timeout=10,
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert realm.userinfo(refreshed["access_token"]).status_code == 401

    logout = browser.get(
        realm.endpoint("logout"),
        params={"id_token_hint": token["id_token"], "post_logout_redirect_uri": POST_LOGOUT_URI, "state": "bye"},
        allow_redirects=False,
    )
    assert logout.status_code == 302 and logout.headers["Location"] == POST_LOGOUT_URI + "?state=bye"
    after, _, state2 = realm.authorize(browser, realm.rp(), prompt="none")
    assert after.status_code == 302
    assert query(after.headers["Location"]) == {"error": "login_required", "state": state2, "iss": realm.issuer}


def test_client_secret_post_and_public_client(realm: Realm) -> None:
    """R-75, R-60: client_secret_post works; a public client authenticates with none and must use PKCE."""
    _, token = realm.code_flow(client_id="web-post")
    realm.verify(token["id_token"], aud="web-post")
    _, native = realm.code_flow(client_id="native")
    realm.verify(native["id_token"], aud="native")
    assert native["refresh_token"]


def test_token_responses_are_not_cached(realm: Realm) -> None:
    """Token responses carry Cache-Control: no-store (RFC 6749 §5.1)."""
    r = requests.post(realm.endpoint("token"), data={"grant_type": "client_credentials"}, auth=("service", realm.secrets["service"]), timeout=10)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    bad = requests.post(realm.endpoint("token"), data={"grant_type": "client_credentials"}, auth=("service", "nope"), timeout=10)
    assert bad.status_code == 401 and bad.headers["Cache-Control"] == "no-store"


def test_prompt_none_with_a_session_is_silent_and_login_forces_sign_in(realm: Realm) -> None:
    """R-71: prompt=none with a session answers at once; prompt=login and an exceeded max_age send the user to sign in."""
    browser = realm.browser()
    silent, _, _ = realm.authorize(browser, realm.rp(), prompt="none")
    assert silent.status_code == 302 and "code" in query(silent.headers["Location"])
    for extra in ({"prompt": "login"}, {"max_age": "0"}):
        forced, _, _ = realm.authorize(browser, realm.rp(), **extra)
        assert forced.status_code == 303
        assert urlsplit(forced.headers["Location"]).path == f"/realms/{realm.tenant.slug}/flow/browser-login"
    none_too_old, _, _state = realm.authorize(browser, realm.rp(), prompt="none", max_age="0")
    assert query(none_too_old.headers["Location"])["error"] == "login_required"


def test_without_a_session_the_user_is_sent_to_sign_in(realm: Realm) -> None:
    """The authorization endpoint parks the request in the login flow (docs/CONTRACTS.md)."""
    response, _, _ = realm.authorize(requests.Session(), realm.rp(), login_hint="alice", ui_locales="fr")
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == f"/realms/{realm.tenant.slug}/flow/browser-login"
    assert "idp_flow" in response.headers["Set-Cookie"]


def test_acr_values_asking_for_mfa_need_a_second_factor_session(realm: Realm) -> None:
    """acr_values=urn:idp:acr:mfa is not satisfied by a password-only session; the session's acr goes in the ID token."""
    pwd = realm.browser()
    r, _, _ = realm.authorize(pwd, realm.rp(), acr_values="urn:idp:acr:mfa", prompt="none")
    assert query(r.headers["Location"])["error"] == "login_required"
    mfa = realm.browser(acr="urn:idp:acr:mfa")
    _, token = realm.code_flow(browser=mfa, acr_values="urn:idp:acr:mfa")
    assert realm.verify(token["id_token"])["acr"] == "urn:idp:acr:mfa"
