"""panva's openid-client (npm) as the relying party of a live server: PAR and DPoP end to end, with a real
sign-in through the hosted form (a browser without JavaScript).

openid-client checks what an RP must (state, iss in the response, PKCE, the ID token's signature, nonce and
claims, the UserInfo subject) and drives DPoP itself: proofs, ``ath``, and the retry on ``use_dpop_nonce``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from support.builders import PASSWORD, PUBLIC_REDIRECT_URI, REDIRECT_URI, Realm
from support.dpop import claims_of
from support.openid_client import NodeRp, openid_client_package
from support.walkers import query, submit


@pytest.fixture(scope="session")
def openid_client() -> Path:
    return openid_client_package()


@pytest.fixture
def node_rp(openid_client: Path) -> Iterator[Any]:
    runs: list[NodeRp] = []

    def start(realm: Realm, client_id: str = "web", **args: Any) -> NodeRp:
        rp = NodeRp(
            openid_client,
            issuer=realm.issuer,
            client_id=client_id,
            client_secret=realm.secrets.get(client_id),
            redirect_uri=PUBLIC_REDIRECT_URI if client_id == "native" else REDIRECT_URI,
            scope="openid profile email offline_access",
            **args,
        )
        runs.append(rp)
        return rp

    yield start
    for rp in runs:
        rp.close()


def _sign_in(realm: Realm, url: str) -> str:
    """A browser without JavaScript: authorization endpoint, sign-in form, resume, redirect back to the RP."""
    browser = requests.Session()
    start = browser.get(url, allow_redirects=False)
    assert start.status_code == 303, start.text
    page = browser.get(urljoin(start.url, start.headers["Location"]))
    assert page.status_code == 200, page.text
    posted = submit(browser, page, username="alice", password=PASSWORD)
    assert posted.status_code == 303, posted.text
    back = browser.get(urljoin(posted.url, posted.headers["Location"]), allow_redirects=False)
    assert back.status_code == 302, back.text
    return str(back.headers["Location"])


def _front_channel(url: str) -> dict[str, str]:
    return query(url)


@pytest.mark.parametrize("client_id", ["web", "native"])
def test_par_and_dpop_with_openid_client(realm: Realm, node_rp: Any, client_id: str) -> None:
    """RFC 9126 + RFC 9449 with an independent RP: the request is pushed (with a DPoP proof), the front channel
    carries only client_id and request_uri; tokens, refresh and UserInfo are DPoP-bound to the RP's key."""
    rp = node_rp(realm, client_id, par=True, dpop=True)
    url = rp.authorization_url()
    assert urlsplit(url).path.endswith("/protocol/openid-connect/auth")
    front = _front_channel(url)
    assert set(front) == {"client_id", "request_uri"} and front["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    got = rp.finish(_sign_in(realm, url))
    assert "error" not in got, got
    assert got["token_type"].lower() == "dpop" and got["refreshed_token_type"].lower() == "dpop"
    jkt = claims_of(got["access_token"])["cnf"]["jkt"]
    assert claims_of(got["refreshed_access_token"])["cnf"]["jkt"] == jkt  # the same key after refresh
    assert got["userinfo"]["sub"] == realm.user.sub and got["userinfo"]["email"] == "alice@example.com"
    assert got["userinfo_after_refresh"]["sub"] == realm.user.sub
    # the bound token is worthless as a bearer token
    assert realm.userinfo(got["refreshed_access_token"]).status_code == 401
    if client_id == "native":  # the public client's refresh token needs the RP's key
        r = requests.post(
            realm.endpoint("token"), data={"grant_type": "refresh_token", "refresh_token": got["refresh_token"], "client_id": "native"}, timeout=10
        )
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_dpop_nonce_with_openid_client(realm_factory: Any, node_rp: Any) -> None:
    """RFC 9449 §8, §9: a tenant requiring server nonces; openid-client retries on use_dpop_nonce at the PAR,
    token and UserInfo endpoints, and gets there."""
    realm = realm_factory(config={"tokens": {"dpop_nonce_required": True}})
    rp = node_rp(realm, "web", par=True, dpop=True, alg="PS256")
    got = rp.finish(_sign_in(realm, rp.authorization_url()))
    assert "error" not in got, got
    assert got["token_type"].lower() == "dpop" and got["userinfo_after_refresh"]["sub"] == realm.user.sub


def test_par_required_client_with_openid_client(realm: Realm, node_rp: Any) -> None:
    """RFC 9126 §6: a client registered with require_pushed_authorization_requests signs in through PAR, without
    DPoP (Bearer tokens), and is refused a plain request."""
    realm.services.clients.update(realm.tenant, "web", require_pushed_authorization_requests=True)
    got = (rp := node_rp(realm, "web", par=True, dpop=False)).finish(_sign_in(realm, rp.authorization_url()))
    assert "error" not in got, got
    assert got["token_type"].lower() == "bearer" and "cnf" not in claims_of(got["access_token"])
    plain = node_rp(realm, "web", par=False, dpop=False).authorization_url()
    refused = requests.Session().get(plain, allow_redirects=False)
    assert refused.status_code == 302 and query(refused.headers["Location"])["error"] == "invalid_request"
