"""Pushed Authorization Requests (RFC 9126) against a live server, Authlib's client as the relying party.

R-58: a pushed request is validated (client, redirect URI) as a plain one is, and an unusable ``request_uri``
shows an error page, never a redirect. R-60: PKCE is checked when the request is pushed.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from support.builders import PUBLIC_REDIRECT_URI, REDIRECT_URI, Realm
from support.walkers import query

PREFIX = "urn:ietf:params:oauth:request_uri:"


def _push(realm: Realm, rp: OAuth2Session, **params: Any) -> tuple[requests.Response, str, str]:
    """Push the authorization request Authlib's client builds, authenticated as Authlib authenticates at the token
    endpoint: (response, code_verifier, state)."""
    verifier = generate_token(48)
    url, state = rp.create_authorization_url(realm.endpoint("ext/par/request"), code_verifier=verifier, nonce=generate_token(16), **params)
    form = dict(parse_qsl(urlsplit(url).query))
    if rp.token_endpoint_auth_method != "client_secret_basic":
        form.pop("client_id")  # Authlib's client authentication adds it to the body (once: RFC 6749 §3.2)
    response = rp.post(realm.endpoint("ext/par/request"), data=form, auth=rp.client_auth(rp.token_endpoint_auth_method), withhold_token=True, timeout=10)
    return response, verifier, state


def _front(realm: Realm, client_id: str, request_uri: str, **extra: str) -> str:
    return realm.endpoint("auth") + "?" + urlencode({"client_id": client_id, "request_uri": request_uri, **extra})


def test_discovery_advertises_the_par_endpoint(realm: Realm) -> None:
    """R-74: the PAR endpoint on Keycloak's path; PAR is not required tenant-wide."""
    meta = requests.get(realm.endpoint("discovery"), timeout=10).json()
    assert meta["pushed_authorization_request_endpoint"] == f"{realm.issuer}/protocol/openid-connect/ext/par/request"
    assert meta["require_pushed_authorization_requests"] is False


def test_pushed_request_through_the_authorization_endpoint(any_realm: Realm) -> None:
    """RFC 9126 §2.2, §4: 201 with a request_uri; the front channel carries only client_id and request_uri, and
    the pushed parameters win over any other query parameter; the code is redeemed as usual."""
    realm = any_realm
    rp = realm.rp()
    pushed, verifier, state = _push(realm, rp)
    assert pushed.status_code == 201, pushed.text
    assert pushed.headers["Cache-Control"] == "no-store"
    body = pushed.json()
    assert body["request_uri"].startswith(PREFIX) and body["expires_in"] == 60
    browser = realm.browser()
    # a query parameter besides client_id and request_uri is ignored (RFC 9126 §4)
    back = browser.get(_front(realm, "web", body["request_uri"], state="tampered", scope="openid"), allow_redirects=False)
    assert back.status_code == 302, back.text
    location = back.headers["Location"]
    assert location.startswith(REDIRECT_URI + "?") and query(location)["state"] == state and query(location)["iss"] == realm.issuer
    token: Any = rp.fetch_token(realm.endpoint("token"), authorization_response=location, code_verifier=verifier)
    assert "email" in token["scope"].split()  # the pushed scope, not the query's
    assert rp.get(realm.endpoint("userinfo")).json()["sub"] == realm.user.sub

    again = browser.get(_front(realm, "web", body["request_uri"]), allow_redirects=False)
    assert again.status_code == 400 and "Location" not in again.headers  # single use, an error page


def test_public_client_pushes_with_pkce(realm: Realm) -> None:
    """A public client pushes with ``none`` authentication and must send a PKCE challenge (R-60)."""
    rp = realm.rp("native")
    pushed, verifier, _ = _push(realm, rp)
    assert pushed.status_code == 201, pushed.text
    back = realm.browser().get(_front(realm, "native", pushed.json()["request_uri"]), allow_redirects=False)
    assert back.status_code == 302 and back.headers["Location"].startswith(PUBLIC_REDIRECT_URI)
    token: Any = rp.fetch_token(realm.endpoint("token"), authorization_response=back.headers["Location"], code_verifier=verifier)
    assert token["token_type"] == "Bearer"
    no_pkce = requests.post(
        realm.endpoint("ext/par/request"),
        data={"client_id": "native", "response_type": "code", "redirect_uri": PUBLIC_REDIRECT_URI, "scope": "openid"},
        timeout=10,
    )
    assert no_pkce.status_code == 400 and no_pkce.json()["error"] == "invalid_request"


def _raw_push(realm: Realm, auth: Any = None, **form: str) -> requests.Response:
    base = {"response_type": "code", "redirect_uri": REDIRECT_URI, "scope": "openid", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256"}
    return requests.post(realm.endpoint("ext/par/request"), data={**base, **form}, auth=auth or ("web", realm.secrets["web"]), timeout=10)


def test_par_validates_like_the_authorization_endpoint(realm: Realm) -> None:
    """RFC 9126 §2.1, §2.3: client authentication, then the request's own checks, each a JSON error, no redirect."""
    cases = {
        "wrong secret": (_raw_push(realm, auth=("web", "wrong")), 401, "invalid_client"),
        "unregistered redirect_uri": (_raw_push(realm, redirect_uri="https://evil.example/cb"), 400, "invalid_request"),
        "no openid scope": (_raw_push(realm, scope="profile"), 400, "invalid_scope"),
        "plain PKCE": (_raw_push(realm, code_challenge_method="plain"), 400, "invalid_request"),
        "implicit": (_raw_push(realm, response_type="token"), 400, "unsupported_response_type"),
        "request_uri pushed": (_raw_push(realm, request_uri=PREFIX + "x"), 400, "invalid_request"),
        "another client_id": (_raw_push(realm, client_id="web-post"), 400, "invalid_request"),
    }
    for case, (response, status, error) in cases.items():
        assert response.status_code == status, (case, response.text)
        assert response.json()["error"] == error, case
        assert "Location" not in response.headers and "request_uri" not in response.json(), case
    repeated = requests.post(
        realm.endpoint("ext/par/request"), data=[("scope", "openid"), ("scope", "email")], auth=("web", realm.secrets["web"]), timeout=10
    )
    assert repeated.status_code == 400 and repeated.json()["error"] == "invalid_request"


def test_request_uri_of_another_client_or_expired(realm_factory: Any) -> None:
    """RFC 9126 §4: a request_uri works only for the client that pushed it (a try by another client does not
    spend it), and only until it expires; both show an error page, never a redirect (R-58)."""
    realm = realm_factory(config={"tokens": {"par_ttl": 1}})
    pushed = _raw_push(realm)
    assert pushed.status_code == 201 and pushed.json()["expires_in"] == 1
    request_uri = pushed.json()["request_uri"]
    browser = realm.browser()
    stolen = browser.get(_front(realm, "web-post", request_uri), allow_redirects=False)
    assert stolen.status_code == 400 and "Location" not in stolen.headers
    assert browser.get(_front(realm, "web", request_uri), allow_redirects=False).status_code == 302
    late = _raw_push(realm).json()["request_uri"]
    time.sleep(2.1)
    expired = browser.get(_front(realm, "web", late), allow_redirects=False)
    assert expired.status_code == 400 and "Location" not in expired.headers
    made_up = browser.get(_front(realm, "web", PREFIX + "made-up"), allow_redirects=False)
    assert made_up.status_code == 400 and "Location" not in made_up.headers


def test_client_that_requires_par_is_refused_a_plain_request(realm: Realm) -> None:
    """RFC 9126 §6: require_pushed_authorization_requests refuses a plain authorization request (invalid_request,
    redirected to the registered URI with state and iss); the same client's pushed request works."""
    realm.services.clients.update(realm.tenant, "web", require_pushed_authorization_requests=True)
    browser = realm.browser()
    plain, _, state = realm.authorize(browser, realm.rp())
    assert plain.status_code == 302
    params = query(plain.headers["Location"])
    assert params["error"] == "invalid_request" and params["state"] == state and params["iss"] == realm.issuer
    assert "code" not in params
    pushed = _raw_push(realm)
    ok = browser.get(_front(realm, "web", pushed.json()["request_uri"]), allow_redirects=False)
    assert ok.status_code == 302 and "code" in query(ok.headers["Location"])
    other = realm.authorize(browser, realm.rp("web-post"))[0]  # another client is not concerned
    assert other.status_code == 302 and "code" in query(other.headers["Location"])


def test_pushed_request_with_a_dpop_proof_binds_the_code(realm: Realm) -> None:
    """RFC 9449 §10.1: a DPoP proof sent to the PAR endpoint binds the code to its key."""
    from support.dpop import DpopKey

    key = DpopKey()
    verifier = generate_token(48)
    import base64
    import hashlib

    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    pushed = requests.post(
        realm.endpoint("ext/par/request"),
        data={"response_type": "code", "redirect_uri": REDIRECT_URI, "scope": "openid", "code_challenge": challenge, "code_challenge_method": "S256"},
        auth=("web", realm.secrets["web"]),
        headers={"DPoP": key.proof("POST", realm.endpoint("ext/par/request"))},
        timeout=10,
    )
    assert pushed.status_code == 201, pushed.text
    back = realm.browser().get(_front(realm, "web", pushed.json()["request_uri"]), allow_redirects=False)
    code = query(back.headers["Location"])["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    without = requests.post(realm.endpoint("token"), data=form, auth=("web", realm.secrets["web"]), timeout=10)
    assert without.status_code == 400 and without.json()["error"] == "invalid_grant"
