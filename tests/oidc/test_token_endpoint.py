"""The token endpoint: PKCE, code replay and expiry, refresh rotation and reuse, client authentication (RFC 6749 §5.2)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from support.builders import REDIRECT_URI, Realm
from support.walkers import query


def _code(realm: Realm, client_id: str = "web", verifier: str | None = None, **params: str) -> str:
    """A fresh authorization code for a signed-in browser (PKCE S256 with ``verifier`` unless told otherwise)."""
    q: dict[str, str] = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI, "scope": "openid offline_access"}
    if verifier:
        q.update(code_challenge=create_s256_code_challenge(verifier), code_challenge_method="S256")
    q.update(params)
    r = realm.browser().get(realm.endpoint("auth"), params=q, allow_redirects=False)
    assert r.status_code == 302, r.text
    return query(r.headers["Location"])["code"]


def _token(realm: Realm, client_id: str = "web", **data: Any) -> requests.Response:
    return requests.post(realm.endpoint("token"), data=data, auth=(client_id, realm.secrets[client_id]), timeout=10)


def _redeem(realm: Realm, code: str, verifier: str | None, client_id: str = "web") -> requests.Response:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    if verifier is not None:
        data["code_verifier"] = verifier
    return _token(realm, client_id, **data)


def test_missing_or_wrong_code_verifier(realm: Realm) -> None:
    """R-60: a challenged code needs its verifier: missing is invalid_request, wrong is invalid_grant."""
    verifier = generate_token(48)
    missing = _redeem(realm, _code(realm, verifier=verifier), None)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    assert missing.json()["error_description"] == "Missing 'code_verifier'"
    wrong = _redeem(realm, _code(realm, verifier=verifier), generate_token(48))
    assert wrong.status_code == 400 and wrong.json() == {"error": "invalid_grant", "error_description": "Code challenge failed."}


def test_verifier_without_challenge_is_refused(realm: Realm) -> None:
    """R-61: a code_verifier for a request that had no code_challenge (PKCE downgrade) is refused."""
    realm.services.clients.update(realm.tenant, "web", require_pkce=False)
    code = _code(realm, verifier=None)
    r = _redeem(realm, code, generate_token(48))
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"


def test_confidential_client_must_send_a_challenge_when_it_requires_pkce(realm: Realm) -> None:
    """R-60: require_pkce (the default) makes a request without code_challenge invalid."""
    r = realm.browser().get(
        realm.endpoint("auth"),
        params={"response_type": "code", "client_id": "web", "redirect_uri": REDIRECT_URI, "scope": "openid", "state": "x"},
        allow_redirects=False,
    )
    assert query(r.headers["Location"])["error"] == "invalid_request"


def test_replayed_code_fails_and_revokes_what_it_issued(any_realm: Realm) -> None:
    """R-62: a second redemption is invalid_grant, and the tokens of the first are revoked."""
    realm = any_realm
    verifier = generate_token(48)
    code = _code(realm, verifier=verifier)
    first = _redeem(realm, code, verifier)
    assert first.status_code == 200
    tokens = first.json()
    assert realm.userinfo(tokens["access_token"]).status_code == 200
    replay = _redeem(realm, code, verifier)
    assert replay.status_code == 400
    assert replay.json() == {"error": "invalid_grant", "error_description": "The authorization code has already been used."}
    assert realm.userinfo(tokens["access_token"]).status_code == 401
    assert realm.introspect(tokens["access_token"]) == {"active": False}
    refresh = _token(realm, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"


def test_expired_code_is_invalid_grant(realm_factory: Any, backend: str) -> None:
    """R-62: codes live tokens.code_ttl seconds."""
    realm = realm_factory(backend, config={"tokens": {"code_ttl": 1}})
    verifier = generate_token(48)
    code = _code(realm, verifier=verifier)
    time.sleep(1.2)
    r = _redeem(realm, code, verifier)
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_grant", "error_description": "The authorization code has expired."}


def test_code_is_bound_to_client_and_redirect_uri(realm: Realm) -> None:
    """R-62: a code is bound to its client_id and redirect_uri."""
    verifier = generate_token(48)
    other = _token(realm, "web-post", grant_type="authorization_code", code=_code(realm, verifier=verifier), redirect_uri=REDIRECT_URI, code_verifier=verifier)
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"
    mismatch = _token(
        realm, grant_type="authorization_code", code=_code(realm, verifier=verifier), redirect_uri=REDIRECT_URI + "x", code_verifier=verifier
    )
    assert mismatch.status_code == 400 and mismatch.json()["error"] == "invalid_grant"
    unknown = _redeem(realm, "not-a-code", verifier)
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_grant"


def test_refresh_rotation_and_reuse_revokes_the_family(any_realm: Realm) -> None:
    """R-63: each refresh returns a new token; presenting a used one revokes every token of the grant."""
    realm = any_realm
    _rp, token = realm.code_flow()
    second = _token(realm, grant_type="refresh_token", refresh_token=token["refresh_token"]).json()
    third = _token(realm, grant_type="refresh_token", refresh_token=second["refresh_token"]).json()
    assert len({token["refresh_token"], second["refresh_token"], third["refresh_token"]}) == 3
    assert realm.userinfo(third["access_token"]).status_code == 200
    reuse = _token(realm, grant_type="refresh_token", refresh_token=token["refresh_token"])
    assert reuse.status_code == 400
    assert reuse.json() == {"error": "invalid_grant", "error_description": "The refresh token has already been used; its grant is revoked."}
    latest = _token(realm, grant_type="refresh_token", refresh_token=third["refresh_token"])
    assert latest.status_code == 400 and latest.json()["error"] == "invalid_grant"
    assert realm.userinfo(third["access_token"]).status_code == 401
    assert realm.introspect(third["refresh_token"]) == {"active": False}


def test_refresh_token_is_bound_to_its_client(realm: Realm) -> None:
    """R-63: another client presenting the token gets invalid_grant and does not burn it."""
    _, token = realm.code_flow()
    stolen = _token(realm, "web-post", grant_type="refresh_token", refresh_token=token["refresh_token"])
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    assert _token(realm, grant_type="refresh_token", refresh_token=token["refresh_token"]).status_code == 200


def test_refresh_may_narrow_but_not_widen_the_scope(realm: Realm) -> None:
    """RFC 6749 §6: the requested scope must not exceed the original grant."""
    _, token = realm.code_flow(scope="openid email offline_access")
    wider = _token(realm, grant_type="refresh_token", refresh_token=token["refresh_token"], scope="openid email phone")
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"
    narrow = _token(realm, grant_type="refresh_token", refresh_token=token["refresh_token"], scope="openid")
    assert narrow.status_code == 200 and narrow.json()["scope"] == "openid"


def test_wrong_client_secret_is_invalid_client(realm: Realm) -> None:
    """RFC 6749 §5.2: failed client authentication is 401 invalid_client (with WWW-Authenticate for Basic)."""
    basic = requests.post(realm.endpoint("token"), data={"grant_type": "client_credentials"}, auth=("service", "wrong"), timeout=10)
    assert basic.status_code == 401 and basic.json()["error"] == "invalid_client"
    assert basic.headers["WWW-Authenticate"].startswith("Basic ")
    post = requests.post(
        realm.endpoint("token"), data={"grant_type": "client_credentials", "client_id": "service", "client_secret": "wrong"}, timeout=10
    )
    assert post.status_code == 401 and post.json()["error"] == "invalid_client"
    verifier = generate_token(48)
    code = _code(realm, verifier=verifier)
    unauthenticated = requests.post(
        realm.endpoint("token"),
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier, "client_id": "web"},
        timeout=10,
    )
    assert unauthenticated.status_code == 401 and unauthenticated.json()["error"] == "invalid_client"


def test_client_credentials_issues_a_jwt_without_refresh_token(realm: Realm) -> None:
    """RFC 6749 §4.4, RFC 9068: a JWT access token for the client itself; public clients cannot use the grant."""
    r = _token(realm, "service", grant_type="client_credentials", scope="profile")
    assert r.status_code == 200
    body = r.json()
    assert "refresh_token" not in body and body["expires_in"] == 300
    claims = realm.verify(body["access_token"], sub="service", client_id="service", aud="service", scope="profile")
    assert "gid" not in claims
    info = realm.introspect(body["access_token"], client_id="web")
    assert info["active"] is True and info["client_id"] == "service"
    denied = _token(realm, "web", grant_type="client_credentials")
    assert denied.status_code == 400 and denied.json()["error"] == "unauthorized_client"
    native = requests.post(realm.endpoint("token"), data={"grant_type": "client_credentials", "client_id": "native"}, timeout=10)
    assert native.status_code == 401 and native.json()["error"] == "invalid_client"
    unknown = _token(realm, "service", grant_type="password", username="alice", password="x")
    assert unknown.status_code == 400 and unknown.json()["error"] == "unsupported_grant_type"  # no ROPC


def test_revoked_access_token_is_inactive(realm: Realm) -> None:
    """RFC 7009: a revoked access token is refused by userinfo and inactive at introspection."""
    _, token = realm.code_flow()
    r = requests.post(realm.endpoint("revoke"), data={"token": token["access_token"]}, auth=("web", realm.secrets["web"]), timeout=10)
    assert r.status_code == 200
    assert realm.userinfo(token["access_token"]).status_code == 401
    assert realm.introspect(token["access_token"]) == {"active": False}
    assert _token(realm, grant_type="refresh_token", refresh_token=token["refresh_token"]).status_code == 200
    unknown = requests.post(realm.endpoint("revoke"), data={"token": "garbage"}, auth=("web", realm.secrets["web"]), timeout=10)
    assert unknown.status_code == 200


def test_introspection_is_for_authenticated_clients_only(realm: Realm) -> None:
    """RFC 7662 §2.1: an unauthenticated caller or a public client is invalid_client."""
    _, token = realm.code_flow()
    info = realm.introspect(token["access_token"])
    assert info["active"] is True and info["sub"] == realm.user.sub and info["client_id"] == "web" and info["iss"] == realm.issuer
    refresh = realm.introspect(token["refresh_token"])
    assert refresh["active"] is True and refresh["client_id"] == "web"
    anonymous = requests.post(realm.endpoint("token/introspect"), data={"token": token["access_token"]}, timeout=10)
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
    public = requests.post(realm.endpoint("token/introspect"), data={"token": token["access_token"], "client_id": "native"}, timeout=10)
    assert public.status_code == 401 and public.json()["error"] == "invalid_client"


def test_revoking_the_user_during_a_code_exchange_leaves_no_grant(any_realm: Realm, monkeypatch: pytest.MonkeyPatch) -> None:
    """R-34, R-19: the user's grants are revoked (an admin ends their sessions) after the code was redeemed but
    before the exchange files its grant: the exchange fails with invalid_grant and leaves nothing usable behind,
    on both stores. Without the re-check the grant was filed after the revocation and its tokens lived on."""
    realm = any_realm
    tokens = realm.server.app.extensions["idp.oidc"].tokens
    redeem = tokens.redeem_code

    def redeem_then_revoke(tenant: Any, code: str) -> Any:
        redeemed = redeem(tenant, code)
        realm.services.sessions.revoke_user(tenant, realm.user.id)  # the revocation lands in the gap
        return redeemed

    verifier = generate_token(48)
    code = _code(realm, verifier=verifier)
    monkeypatch.setattr(tokens, "redeem_code", redeem_then_revoke)
    r = _redeem(realm, code, verifier)
    monkeypatch.undo()
    issued = r.json()
    if r.status_code == 200:  # what used to happen: the tokens outlived the revocation
        assert realm.userinfo(issued["access_token"]).status_code == 401, "the access token outlived the revocation"
    assert r.status_code == 400 and issued == {"error": "invalid_grant", "error_description": "The authorization was revoked."}
    assert r.headers["Cache-Control"] == "no-store"
    # an exchange after the revocation works as usual
    verifier = generate_token(48)
    ok = _redeem(realm, _code(realm, verifier=verifier), verifier)
    assert ok.status_code == 200 and realm.userinfo(ok.json()["access_token"]).status_code == 200
