"""OpenID Connect Back-Channel Logout 1.0, end to end with real parts.

The IdP is a live server on a loopback port; the RPs are Authlib's OAuth 2.0 client for the code flow and a
real HTTP server on another loopback port for their ``backchannel_logout_uri`` (:mod:`support.rp_endpoints`).
Logout tokens are verified as an RP would: joserfc against the published JWKS. R-40 (ending the sessions
reaches the RPs), R-41 (logout ends the session), R-72 (signed, ``kid`` in the JWKS), R-73, R-74.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.discovery import OpenIDProviderMetadata
from conftest import database_urls, free_port, random_slug
from joserfc import jwt
from joserfc.jwk import KeySet
from support.builders import PASSWORD, REDIRECT_URI, Realm, make_realm, make_recovery_account
from support.messages import link_in, outbox, wait_for
from support.rp_endpoints import Hit, RpEndpoints, rp_endpoints
from support.walkers import Walker, fresh_totp

from idp.oidc.logout_token import BACKCHANNEL_LOGOUT_EVENT

EVENT = "http://schemas.openid.net/event/backchannel-logout"
assert BACKCHANNEL_LOGOUT_EVENT == EVENT  # the spec's URI, spelled out once here


@pytest.fixture
def rp() -> Iterator[RpEndpoints]:
    with rp_endpoints() as endpoints:
        yield endpoints


def register(realm: Realm, client_id: str, backchannel_uri: str = "", session_required: bool = True) -> str:
    """A confidential client of the realm taking back-channel logouts at ``backchannel_uri``; returns its secret."""
    _, secret = realm.services.clients.create(
        realm.tenant,
        client_id,
        [REDIRECT_URI],
        post_logout_redirect_uris=["https://rp.example.com/signed-out"],
        backchannel_logout_uri=backchannel_uri,
        backchannel_logout_session_required=session_required,
    )
    realm.secrets[client_id] = secret
    return secret


def sign_in_to(realm: Realm, browser: requests.Session, client_id: str) -> dict[str, Any]:
    """The code flow of ``client_id`` (Authlib's client) in ``browser``'s session: the verified ID token's claims and the raw token."""
    client = OAuth2Session(client_id, realm.secrets[client_id], scope="openid profile", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    verifier, nonce = generate_token(48), generate_token(16)
    url, _ = client.create_authorization_url(realm.endpoint("auth"), code_verifier=verifier, nonce=nonce)
    answer = browser.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text[:300]
    token = client.fetch_token(realm.endpoint("token"), authorization_response=answer.headers["Location"], code_verifier=verifier)
    claims = realm.verify(token["id_token"], aud=client_id, nonce=nonce)
    return {"claims": claims, "id_token": token["id_token"]}


def verified_logout_token(realm: Realm, hit: Hit, client_id: str) -> dict[str, Any]:
    """What an RP checks (Back-Channel Logout §2.6): the POST's form, the JWT's signature against the JWKS, its claims."""
    assert hit.method == "POST" and hit.content_type == "application/x-www-form-urlencoded"
    assert set(hit.fields) == {"logout_token"}
    jwks = KeySet.import_key_set(requests.get(realm.endpoint("certs"), timeout=10).json())
    decoded = jwt.decode(hit.fields["logout_token"], jwks, algorithms=["RS256", "ES256"])
    assert decoded.header["typ"] == "logout+jwt" and decoded.header["kid"] in {k["kid"] for k in jwks.as_dict()["keys"]}
    claims = dict(decoded.claims)
    registry = jwt.JWTClaimsRegistry(iss={"essential": True, "value": realm.issuer}, aud={"essential": True, "value": client_id}, leeway=5)
    registry.validate(claims)
    assert claims["events"] == {EVENT: {}}
    assert "nonce" not in claims  # §2.4: prohibited
    assert claims["jti"] and 0 < claims["exp"] - claims["iat"] <= 120 and abs(claims["iat"] - time.time()) < 30
    return claims


def logout(realm: Realm, browser: requests.Session, id_token: str) -> requests.Response:
    return browser.get(
        realm.endpoint("logout"),
        params={"id_token_hint": id_token, "post_logout_redirect_uri": "https://rp.example.com/signed-out"},
        allow_redirects=False,
        timeout=10,
    )


def test_discovery_lists_front_and_back_channel_logout(realm: Realm) -> None:
    """R-74: the four flags of Front-Channel Logout §3 and Back-Channel Logout §2.1 are true, and the metadata is valid."""
    meta = requests.get(realm.endpoint("discovery"), timeout=10).json()
    OpenIDProviderMetadata(meta).validate()
    for flag in ("frontchannel_logout_supported", "frontchannel_logout_session_supported", "backchannel_logout_supported", "backchannel_logout_session_supported"):
        assert meta[flag] is True, flag


def test_rp_initiated_logout_posts_a_logout_token_with_the_id_tokens_sid(realm: Realm, rp: RpEndpoints) -> None:
    """R-41, R-72, R-73: the RP that took part gets one logout token, signed by the tenant key, sid = its ID token's sid;
    an RP registered for back-channel logout that never took part in the session gets nothing."""
    register(realm, "shop", rp.url("/shop/backchannel"))
    register(realm, "bystander", rp.url("/bystander/backchannel"))
    browser = realm.browser()
    signed_in = sign_in_to(realm, browser, "shop")
    sid = signed_in["claims"]["sid"]
    assert sid and sign_in_to(realm, browser, "shop")["claims"]["sid"] == sid  # stable within the browser's session

    answer = logout(realm, browser, signed_in["id_token"])
    assert answer.status_code == 302 and answer.headers["Location"] == "https://rp.example.com/signed-out"
    [hit] = rp.wait_for(lambda: rp.at("/shop/backchannel"))
    claims = verified_logout_token(realm, hit, "shop")
    assert claims["sid"] == sid and claims["sub"] == realm.user.sub

    # the session is over at the IdP: prompt=none answers login_required
    silent, _, _ = realm.authorize(browser, realm.rp("shop"), prompt="none")
    assert "error=login_required" in silent.headers["Location"]
    assert rp.at("/bystander/backchannel") == []
    assert realm.services.backchannel.queue.pending(realm.tenant.id) == []  # delivered, nothing left queued


def test_an_rp_that_is_down_does_not_delay_the_logout_and_gets_the_token_once_it_is_back(realm: Realm) -> None:
    """A closed port: the logout answers at once; the delivery is retried with backoff, and lands once the RP listens."""
    port = free_port()  # nothing listens there yet
    register(realm, "down", f"http://127.0.0.1:{port}/backchannel")
    browser = realm.browser()
    signed_in = sign_in_to(realm, browser, "down")

    started = time.monotonic()
    answer = logout(realm, browser, signed_in["id_token"])
    assert answer.status_code == 302 and time.monotonic() - started < 1.5

    queue = realm.services.backchannel.queue
    [failed] = wait_for(lambda: [d for d in queue.pending(realm.tenant.id) if d["attempts"] >= 1], timeout=15)
    assert failed["client_id"] == "down" and failed["sid"] == signed_in["claims"]["sid"] and "Connection" in failed["last_error"]
    with rp_endpoints(port) as back:
        [hit] = back.wait_for(lambda: back.at("/backchannel"), timeout=30)
        assert verified_logout_token(realm, hit, "down")["sid"] == signed_in["claims"]["sid"]
    wait_for(lambda: queue.pending(realm.tenant.id) == [], timeout=10)


def test_a_slow_rp_times_out_without_holding_up_the_logout_or_the_other_rps(realm: Realm, rp: RpEndpoints) -> None:
    """An RP that does not answer within the timeout is given up on for this attempt (and retried); another RP of the
    same session gets its token meanwhile; the user's logout never waits for either."""
    realm.services.backchannel.timeout = 0.5
    rp.held.add("/slow/backchannel")
    register(realm, "slow", rp.url("/slow/backchannel"))
    register(realm, "quick", rp.url("/quick/backchannel"))
    browser = realm.browser()
    slow, quick = sign_in_to(realm, browser, "slow"), sign_in_to(realm, browser, "quick")
    assert slow["claims"]["sid"] == quick["claims"]["sid"]

    started = time.monotonic()
    assert logout(realm, browser, slow["id_token"]).status_code == 302
    assert time.monotonic() - started < 1.5
    [hit] = rp.wait_for(lambda: rp.at("/quick/backchannel"))
    assert verified_logout_token(realm, hit, "quick")["sid"] == quick["claims"]["sid"]
    queue = realm.services.backchannel.queue
    [timed_out] = wait_for(lambda: [d for d in queue.pending(realm.tenant.id) if d["client_id"] == "slow" and d["attempts"] >= 1], timeout=15)
    assert "timed out" in timed_out["last_error"].lower()
    rp.held.clear()
    rp.release.set()  # the RP answers again: the retry lands
    wait_for(lambda: queue.pending(realm.tenant.id) == [], timeout=30)
    assert verified_logout_token(realm, rp.at("/slow/backchannel")[-1], "slow")["sid"] == slow["claims"]["sid"]


def test_an_rp_answering_an_error_is_retried(realm: Realm, rp: RpEndpoints) -> None:
    """§2.8: anything but a 2xx is a failed delivery; it is tried again until the RP accepts it."""
    rp.statuses["/flaky/backchannel"] = 503
    register(realm, "flaky", rp.url("/flaky/backchannel"))
    browser = realm.browser()
    signed_in = sign_in_to(realm, browser, "flaky")
    logout(realm, browser, signed_in["id_token"])
    rp.wait_for(lambda: rp.at("/flaky/backchannel"))
    queue = realm.services.backchannel.queue
    [failed] = wait_for(lambda: [d for d in queue.pending(realm.tenant.id) if d["attempts"] >= 1], timeout=10)
    assert failed["last_error"] == "HTTP 503"
    rp.statuses["/flaky/backchannel"] = 200
    rp.wait_for(lambda: len(rp.at("/flaky/backchannel")) >= 2, timeout=30)
    wait_for(lambda: queue.pending(realm.tenant.id) == [], timeout=10)
    tokens = [verified_logout_token(realm, h, "flaky") for h in rp.at("/flaky/backchannel")]
    assert len({t["jti"] for t in tokens}) == len(tokens)  # a fresh token per attempt


def test_an_admin_ending_the_users_sessions_sends_a_logout_token_per_session(realm: Realm, rp: RpEndpoints) -> None:
    """R-40: the admin API's "log out everywhere" reaches the RPs of every session of the user, each token naming its sid."""
    register(realm, "shop", rp.url("/shop/backchannel"))
    _, ops = realm.services.clients.create(realm.tenant, "ops", [], grant_types=["client_credentials"], scope="admin")
    laptop, phone = realm.browser(), realm.browser()
    sids = {sign_in_to(realm, laptop, "shop")["claims"]["sid"], sign_in_to(realm, phone, "shop")["claims"]["sid"]}
    assert len(sids) == 2
    token = requests.post(realm.endpoint("token"), data={"grant_type": "client_credentials", "scope": "admin"}, auth=("ops", ops), timeout=10)
    answer = requests.post(
        f"{realm.server.url}/admin/realms/{realm.tenant.slug}/users/{realm.user.sub}/logout",
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        timeout=10,
    )
    assert answer.status_code == 200 and answer.json()["revoked"] >= 2
    hits = rp.wait_for(lambda: len(rp.at("/shop/backchannel")) >= 2 and rp.at("/shop/backchannel"))
    assert {verified_logout_token(realm, h, "shop")["sid"] for h in hits} == sids
    assert all(verified_logout_token(realm, h, "shop")["sub"] == realm.user.sub for h in hits)


def test_the_cli_ending_sessions_through_the_admin_rules_reaches_the_rps_too(realm: Realm, rp: RpEndpoints) -> None:
    """R-40: disabling the account (admin API and console share this action) ends the sessions and tells the RPs."""
    from idp.admin.actions import AdminActions
    from idp.cli.operator import OPERATOR

    register(realm, "shop", rp.url("/shop/backchannel"))
    sid = sign_in_to(realm, realm.browser(), "shop")["claims"]["sid"]
    AdminActions(realm.services, OPERATOR).set_enabled(realm.tenant.slug, realm.user.sub, enabled=False)
    [hit] = rp.wait_for(lambda: rp.at("/shop/backchannel"))
    assert verified_logout_token(realm, hit, "shop")["sid"] == sid


def test_self_recovery_revoking_the_sessions_sends_logout_tokens(make_live_server: Any, rp: RpEndpoints) -> None:
    """R-40, R-98: a completed self-recovery (the new-password path) revokes the sessions from before, and the RPs that
    took part in them get a logout token with their sid; the flow itself knows nothing of it."""
    server = make_live_server()
    services = server.services
    account = make_recovery_account(services)
    realm = Realm(server=server, tenant=account.tenant, user=account.user)
    register(realm, "shop", rp.url("/shop/backchannel"))
    old_sid = sign_in_to(realm, realm.browser(), "shop")["claims"]["sid"]

    walk = Walker(server, account.tenant)
    walk.request_link(account.user.username)
    walk.get(link_in(outbox(server, account.email, "email")[-1].text))
    walk.post(path="password")
    walk.post(code=fresh_totp(account.totp))
    walk.post(password="a brand new passphrase 42", password_confirm="a brand new passphrase 42")
    assert "Your password has been changed" in walk.page.text
    assert services.users.verify_password(services.users.get(account.tenant, account.user.id), "a brand new passphrase 42")
    assert not services.users.verify_password(services.users.get(account.tenant, account.user.id), PASSWORD)

    [hit] = rp.wait_for(lambda: rp.at("/shop/backchannel"))
    claims = verified_logout_token(realm, hit, "shop")
    assert claims["sid"] == old_sid and claims["sub"] == account.user.sub


def test_deliveries_wait_in_the_database_for_another_worker(make_live_server: Any, rp: RpEndpoints) -> None:
    """The queue survives its worker: a delivery queued by a process whose sender stopped is sent by another
    process's sender on the same database (two apps here, as two workers of one deployment)."""
    first = make_live_server()
    realm = Realm(server=first, tenant=first.services.tenants.create("bc-" + generate_token(6).lower()), user=None)
    realm.user = first.services.users.create(realm.tenant, "carol", PASSWORD)
    register(realm, "shop", rp.url("/shop/backchannel"))
    first.services.backchannel.stop()  # this worker dies before it sends anything
    browser = realm.browser()
    signed_in = sign_in_to(realm, browser, "shop")
    sid = signed_in["claims"]["sid"]
    logout(realm, browser, signed_in["id_token"])
    assert [d["sid"] for d in first.services.backchannel.queue.pending(realm.tenant.id)] == [sid]
    assert rp.at("/shop/backchannel") == []

    second = make_live_server(public_url=first.url)  # the same instance folder: the same database and keys
    second.services.backchannel.start()
    [hit] = rp.wait_for(lambda: rp.at("/shop/backchannel"))
    assert verified_logout_token(realm, hit, "shop")["sid"] == sid


@pytest.mark.parametrize("database_url", database_urls())
def test_production_shape_redis_sessions_and_the_queue_in_each_database(make_server: Any, database_url: str, rp: RpEndpoints) -> None:
    """Sessions and their RPs on Redis, the delivery queue in SQLite or PostgreSQL: the logout token still lands."""
    realm = make_realm(make_server("redis", database_url=database_url), random_slug("bc"))
    register(realm, "shop", rp.url("/shop/backchannel"))
    browser = realm.browser()
    signed_in = sign_in_to(realm, browser, "shop")
    assert logout(realm, browser, signed_in["id_token"]).status_code == 302
    [hit] = rp.wait_for(lambda: rp.at("/shop/backchannel"))
    assert verified_logout_token(realm, hit, "shop")["sid"] == signed_in["claims"]["sid"]
    wait_for(lambda: realm.services.backchannel.queue.pending(realm.tenant.id) == [], timeout=10)
