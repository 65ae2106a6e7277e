"""OpenID Connect Front-Channel Logout 1.0: the end_session page frames each RP's ``frontchannel_logout_uri``.

The IdP is a live server; the RPs' logout pages are a real HTTP server on a loopback port
(:mod:`support.rp_endpoints`); the code flow is Authlib's client; the browser is Debian's Chromium with JavaScript
off. R-45 and R-66 (strict CSP: no ``unsafe-inline``, ``frame-src`` for the RPs' origins on that page alone),
R-41 and R-73 (the session ends; the redirect goes to the registered URI only).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from support.builders import REDIRECT_URI, Realm
from support.rp_endpoints import RpEndpoints, rp_endpoints


@pytest.fixture
def rp() -> Iterator[RpEndpoints]:
    with rp_endpoints() as endpoints:
        yield endpoints


@pytest.fixture
def other_rp() -> Iterator[RpEndpoints]:
    """A second RP on another origin."""
    with rp_endpoints() as endpoints:
        yield endpoints


def register(realm: Realm, client_id: str, frontchannel_uri: str, session_required: bool, after: str) -> None:
    _, realm.secrets[client_id] = realm.services.clients.create(
        realm.tenant,
        client_id,
        [REDIRECT_URI],
        post_logout_redirect_uris=[after],
        frontchannel_logout_uri=frontchannel_uri,
        frontchannel_logout_session_required=session_required,
    )


def id_token_of(realm: Realm, browser: requests.Session, client_id: str) -> tuple[str, str]:
    """``(id_token, sid)`` of a code flow of ``client_id`` (Authlib's client) in ``browser``'s session."""
    client = OAuth2Session(client_id, realm.secrets[client_id], scope="openid", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    verifier = generate_token(48)
    url, _ = client.create_authorization_url(realm.endpoint("auth"), code_verifier=verifier, nonce=generate_token(16))
    answer = browser.get(url, allow_redirects=False, timeout=10)
    token = client.fetch_token(realm.endpoint("token"), authorization_response=answer.headers["Location"], code_verifier=verifier)
    return token["id_token"], realm.verify(token["id_token"], aud=client_id)["sid"]


def logout_url(realm: Realm, id_token: str, after: str) -> str:
    return realm.endpoint("logout") + "?" + urlencode({"id_token_hint": id_token, "post_logout_redirect_uri": after, "state": "s-1"})


def frames_in(html: str) -> list[str]:
    return [m.replace("&amp;", "&") for m in re.findall(r'<iframe src="([^"]+)"', html)]


def test_the_logout_page_frames_each_rp_that_took_part_and_allows_only_their_origins(realm: Realm, rp: RpEndpoints, other_rp: RpEndpoints) -> None:
    """§4: one frame per RP of the session (iss and sid for the RP that asked), a meta refresh to the validated
    post_logout_redirect_uri, no script; the CSP keeps default-src 'none' and adds frame-src for exactly those origins."""
    after = rp.url("/after")
    register(realm, "shop", rp.url("/shop/frontchannel?tenant=a"), True, after)
    register(realm, "blog", other_rp.url("/blog/frontchannel"), False, other_rp.url("/after"))
    register(realm, "absent", rp.url("/absent/frontchannel"), True, after)  # registered, never signed in to
    browser = realm.browser()
    id_token, sid = id_token_of(realm, browser, "shop")
    assert id_token_of(realm, browser, "blog")[1] == sid

    page = browser.get(logout_url(realm, id_token, after), allow_redirects=False, timeout=10)
    assert page.status_code == 200 and "Location" not in page.headers and page.headers["Cache-Control"] == "no-store"
    query = urlencode({"iss": realm.issuer, "sid": sid})
    assert frames_in(page.text) == [rp.url(f"/shop/frontchannel?tenant=a&{query}"), other_rp.url("/blog/frontchannel")]
    assert f'<meta http-equiv="refresh" content="0; url={after}?state=s-1">' in page.text
    assert "<script" not in page.text and not re.search(r"\son[a-z]+\s*=", page.text)
    csp = page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    [frame_src] = [d.strip() for d in csp.split(";") if d.strip().startswith("frame-src")]
    assert frame_src.split()[1:] == [rp.base, other_rp.base]
    assert "absent" not in page.text

    # the session is over: a second logout frames nobody, and other pages never allow frames
    again = browser.get(realm.endpoint("logout"), timeout=10)
    assert frames_in(again.text) == [] and "frame-src" not in again.headers["Content-Security-Policy"]
    assert "frame-src" not in requests.get(realm.endpoint("discovery"), timeout=10).headers["Content-Security-Policy"]


def test_without_a_registered_redirect_the_page_frames_then_stays(realm: Realm, rp: RpEndpoints) -> None:
    """R-73: with no (or an unregistered) post_logout_redirect_uri nothing redirects; the frames still load."""
    register(realm, "shop", rp.url("/shop/frontchannel"), False, rp.url("/after"))
    browser = realm.browser()
    id_token, _ = id_token_of(realm, browser, "shop")
    page = browser.get(realm.endpoint("logout"), params={"id_token_hint": id_token}, timeout=10)
    assert page.status_code == 200 and frames_in(page.text) == [rp.url("/shop/frontchannel")]
    assert "http-equiv" not in page.text


def test_chromium_without_javascript_loads_every_frame_then_lands_on_the_rp(realm: Realm, rp: RpEndpoints, other_rp: RpEndpoints, chromium: Any) -> None:
    """JavaScript off: each RP's front-channel logout URI is requested by the browser itself (in its frame, with iss and
    sid when asked), then the page moves on to the post_logout_redirect_uri; no CSP violation on the way."""
    after = rp.url("/after")
    register(realm, "shop", rp.url("/shop/frontchannel"), True, after)
    register(realm, "blog", other_rp.url("/blog/frontchannel"), False, other_rp.url("/after"))
    sso = realm.services.sessions.establish(realm.tenant, realm.user.id, ["pwd"], "urn:idp:acr:pwd")
    browser = requests.Session()
    browser.cookies.set("idp_sso", sso.token, path=f"/realms/{realm.tenant.slug}/")
    id_token, sid = id_token_of(realm, browser, "shop")
    id_token_of(realm, browser, "blog")

    context = chromium.new_context(java_script_enabled=False)
    try:
        context.set_default_timeout(15_000)
        context.add_cookies([{"name": "idp_sso", "value": sso.token, "url": realm.base + "/"}])
        page = context.new_page()
        problems: list[str] = []
        # a CSP refusal or a script error would show here; the browser's own favicon look-up (a 404 at the RP's
        # test server, at times logged while the page moves on) is not the logout page's doing
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" and "favicon" not in (m.location or {}).get("url", "") else None)
        page.goto(logout_url(realm, id_token, after))
        page.wait_for_url(after + "?state=s-1")
        assert page.get_by_role("heading", name="signed out of the RP").is_visible()
        [shop] = rp.wait_for(lambda: rp.at("/shop/frontchannel"))
        assert shop.method == "GET" and shop.query == {"iss": realm.issuer, "sid": sid}
        [blog] = other_rp.wait_for(lambda: other_rp.at("/blog/frontchannel"))
        assert blog.query == {}
        [landed] = rp.at("/after")
        assert landed.at >= max(shop.at, blog.at)  # the frames loaded before the browser moved on
        assert problems == []
        # the IdP session ended with the logout: the cookie is gone and the session with it
        assert [c for c in context.cookies() if c["name"] == "idp_sso"] == []
        assert realm.services.sessions.find(realm.tenant, sso.token) is None
    finally:
        context.close()
