"""DPoP (RFC 9449) against a live server, proofs signed by the test's own keys: bound tokens, and every refusal.

R-63: a public client's refresh tokens are sender-constrained (bound to its DPoP key) on top of rotation.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from authlib.common.security import generate_token
from support.builders import PUBLIC_REDIRECT_URI, REDIRECT_URI, Realm
from support.dpop import DpopKey, claims_of, hmac_signed
from support.walkers import query


def _code(realm: Realm, client_id: str = "web", **params: Any) -> tuple[str, str]:
    """A fresh authorization code of ``client_id`` for the realm's signed-in user: (code, code_verifier)."""
    rp = realm.rp(client_id)
    response, verifier, _ = realm.authorize(realm.browser(), rp, nonce=generate_token(16), **params)
    assert response.status_code == 302, response.text
    return query(response.headers["Location"])["code"], verifier


def _token(realm: Realm, form: dict[str, str], client_id: str = "web", proof: str | None = None) -> requests.Response:
    headers = {"DPoP": proof} if proof is not None else {}
    auth = (client_id, realm.secrets[client_id]) if client_id in realm.secrets else None
    if auth is None:
        form = {**form, "client_id": client_id}
    return requests.post(realm.endpoint("token"), data=form, auth=auth, headers=headers, timeout=10)


def _exchange(realm: Realm, key: DpopKey | None, client_id: str = "web") -> requests.Response:
    code, verifier = _code(realm, client_id)
    redirect = PUBLIC_REDIRECT_URI if client_id == "native" else REDIRECT_URI
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "code_verifier": verifier}
    return _token(realm, form, client_id, key.proof("POST", realm.endpoint("token")) if key else None)


def _userinfo(realm: Realm, access_token: str, scheme: str = "DPoP", proof: str | None = None) -> requests.Response:
    headers = {"Authorization": f"{scheme} {access_token}"}
    if proof is not None:
        headers["DPoP"] = proof
    return requests.get(realm.endpoint("userinfo"), headers=headers, timeout=10)


def test_discovery_advertises_dpop_algorithms(realm: Realm) -> None:
    """R-74: dpop_signing_alg_values_supported lists only asymmetric algorithms (RFC 9449 §5.1)."""
    meta = requests.get(realm.endpoint("discovery"), timeout=10).json()
    assert {"ES256", "RS256", "PS256", "EdDSA"} <= set(meta["dpop_signing_alg_values_supported"])
    assert not any(alg.startswith("HS") or alg == "none" for alg in meta["dpop_signing_alg_values_supported"])


@pytest.mark.parametrize("alg", ["ES256", "PS256", "Ed25519"])
def test_code_exchange_with_a_proof_binds_the_access_token(any_realm: Realm, alg: str) -> None:
    """RFC 9449 §5, §6, §7: token_type DPoP, cnf.jkt in the token and in introspection; UserInfo needs the DPoP
    scheme and a proof by the same key; the bound token used as a bearer token is refused."""
    realm, key = any_realm, DpopKey(alg)
    r = _exchange(realm, key)
    assert r.status_code == 200, r.text
    token = r.json()
    assert token["token_type"] == "DPoP"
    assert claims_of(token["access_token"])["cnf"] == {"jkt": key.jkt}
    info = _userinfo(realm, token["access_token"], proof=key.proof("GET", realm.endpoint("userinfo"), token["access_token"]))
    assert info.status_code == 200, info.text
    assert info.json()["sub"] == realm.user.sub

    as_bearer = realm.userinfo(token["access_token"])
    assert as_bearer.status_code == 401
    assert as_bearer.headers["WWW-Authenticate"].startswith('DPoP error="invalid_token"')

    introspected = realm.introspect(token["access_token"])
    assert introspected["active"] is True and introspected["token_type"] == "DPoP"
    assert introspected["cnf"] == {"jkt": key.jkt}


def test_without_a_proof_tokens_stay_bearer(realm: Realm) -> None:
    """A client that sends no DPoP header gets the Bearer token it always got (RFC 9449 is opt-in)."""
    r = _exchange(realm, None)
    assert r.status_code == 200 and r.json()["token_type"] == "Bearer"
    assert "cnf" not in claims_of(r.json()["access_token"])
    assert realm.userinfo(r.json()["access_token"]).status_code == 200
    # an unbound token presented with the DPoP scheme is refused
    key = DpopKey()
    refused = _userinfo(realm, r.json()["access_token"], proof=key.proof("GET", realm.endpoint("userinfo"), r.json()["access_token"]))
    assert refused.status_code == 401 and 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


def _cc(realm: Realm, proof: str | None) -> requests.Response:
    return _token(realm, {"grant_type": "client_credentials"}, "service", proof)


def test_client_credentials_with_a_proof(realm: Realm) -> None:
    key = DpopKey("RS256")
    r = _cc(realm, key.proof("POST", realm.endpoint("token")))
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "DPoP" and claims_of(r.json()["access_token"])["cnf"]["jkt"] == key.jkt


def _bad_proofs(realm: Realm) -> dict[str, str]:
    key, other = DpopKey(), DpopKey()
    url = realm.endpoint("token")
    good = key.proof("POST", url)
    head, body, _sig = good.split(".")
    other_sig = other.proof("POST", url).split(".")[2]
    private = dict(key.key.as_dict(private=True))
    return {
        "wrong htm": key.proof("GET", url),
        "wrong htu": key.proof("POST", realm.endpoint("userinfo")),
        "other host": key.proof("POST", url.replace("127.0.0.1", "localhost")),
        "stale iat": key.proof("POST", url, iat=int(time.time()) - 600),
        "future iat": key.proof("POST", url, iat=int(time.time()) + 600),
        "no jti": key.proof("POST", url, jti=None),
        "wrong typ": key.proof("POST", url, header={"typ": "JWT"}),
        "symmetric alg": hmac_signed(
            {"typ": "dpop+jwt", "alg": "HS256", "jwk": key.key.as_dict(private=False)},
            {"jti": generate_token(16), "htm": "POST", "htu": url, "iat": int(time.time())},
        ),
        "bad signature": f"{head}.{body}.{other_sig}",
        "private key in jwk": key.proof("POST", url, header={"jwk": private}),
        "not a JWS": "not-a-proof",
    }


@pytest.mark.parametrize(
    "case",
    ["wrong htm", "wrong htu", "other host", "stale iat", "future iat", "no jti", "wrong typ", "symmetric alg", "bad signature", "private key in jwk", "not a JWS"],
)
def test_token_endpoint_refuses_a_bad_proof(realm: Realm, case: str) -> None:
    """RFC 9449 §4.3: each check, answered 400 invalid_dpop_proof, and no token."""
    r = _cc(realm, _bad_proofs(realm)[case])
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_dpop_proof"
    assert "access_token" not in r.json()


def test_a_replayed_proof_is_refused(any_realm: Realm) -> None:
    """RFC 9449 §11.1: a proof's jti is accepted once, on either store backend."""
    realm, key = any_realm, DpopKey()
    proof = key.proof("POST", realm.endpoint("token"))
    assert _cc(realm, proof).status_code == 200
    again = _cc(realm, proof)
    assert again.status_code == 400 and again.json()["error"] == "invalid_dpop_proof"
    assert "already used" in again.json()["error_description"]


def test_two_proof_headers_are_refused(realm: Realm) -> None:
    key = DpopKey()
    url = realm.endpoint("token")
    session = requests.Session()
    req = requests.Request("POST", url, data={"grant_type": "client_credentials"}, auth=("service", realm.secrets["service"])).prepare()
    req.headers["DPoP"] = key.proof("POST", url) + ", " + key.proof("POST", url)
    r = session.send(req, timeout=10)
    assert r.status_code == 400 and r.json()["error"] == "invalid_dpop_proof"


def test_server_nonce_when_the_tenant_requires_it(realm_factory: Any) -> None:
    """RFC 9449 §8: without a nonce, 400 use_dpop_nonce with a DPoP-Nonce header; with it, the token; UserInfo
    asks for it the same way (§9, 401 with a DPoP challenge)."""
    realm = realm_factory(config={"tokens": {"dpop_nonce_required": True}})
    key = DpopKey()
    first = _cc(realm, key.proof("POST", realm.endpoint("token")))
    assert first.status_code == 400 and first.json()["error"] == "use_dpop_nonce"
    nonce = first.headers["DPoP-Nonce"]
    wrong = _cc(realm, key.proof("POST", realm.endpoint("token"), nonce="1.made-up"))
    assert wrong.status_code == 400 and wrong.json()["error"] == "use_dpop_nonce"
    ok = _cc(realm, key.proof("POST", realm.endpoint("token"), nonce=nonce))
    assert ok.status_code == 200, ok.text
    assert ok.json()["token_type"] == "DPoP" and ok.headers["DPoP-Nonce"]

    r = _exchange(realm, None)  # a Bearer client is not asked for anything
    assert r.status_code == 200 and r.json()["token_type"] == "Bearer"
    code, verifier = _code(realm)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    bound = _token(realm, form, proof=key.proof("POST", realm.endpoint("token"), nonce=nonce)).json()
    at = bound["access_token"]
    info = _userinfo(realm, at, proof=key.proof("GET", realm.endpoint("userinfo"), at))
    assert info.status_code == 401 and 'error="use_dpop_nonce"' in info.headers["WWW-Authenticate"]
    info = _userinfo(realm, at, proof=key.proof("GET", realm.endpoint("userinfo"), at, nonce=info.headers["DPoP-Nonce"]))
    assert info.status_code == 200, info.text


def test_public_client_refresh_token_is_bound_to_its_key(any_realm: Realm) -> None:
    """R-63, RFC 9449 §5: a public client's refresh needs a proof by the same key; a refused attempt (no proof,
    another key) spends nothing, and the right key gets a rotated, still bound pair."""
    realm, key = any_realm, DpopKey()
    token = _exchange(realm, key, "native").json()
    refresh = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    url = realm.endpoint("token")

    no_proof = _token(realm, refresh, "native")
    assert no_proof.status_code == 400 and no_proof.json()["error"] == "invalid_grant"
    other_key = _token(realm, refresh, "native", DpopKey().proof("POST", url))
    assert other_key.status_code == 400 and other_key.json()["error"] == "invalid_grant"

    ok = _token(realm, refresh, "native", key.proof("POST", url))
    assert ok.status_code == 200, ok.text
    assert ok.json()["token_type"] == "DPoP" and claims_of(ok.json()["access_token"])["cnf"]["jkt"] == key.jkt
    again = _token(realm, {"grant_type": "refresh_token", "refresh_token": ok.json()["refresh_token"]}, "native")
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"  # the rotated one is bound too


def test_confidential_client_refresh_token_is_not_bound(realm: Realm) -> None:
    """RFC 9449 §5: a confidential client's refresh tokens are bound by its authentication; a refresh without a
    proof gets a Bearer token, one with a proof a token bound to that proof's key."""
    key = DpopKey()
    token = _exchange(realm, key).json()
    plain = _token(realm, {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]})
    assert plain.status_code == 200 and plain.json()["token_type"] == "Bearer"
    other = DpopKey()
    bound = _token(realm, {"grant_type": "refresh_token", "refresh_token": plain.json()["refresh_token"]}, proof=other.proof("POST", realm.endpoint("token")))
    assert bound.status_code == 200 and claims_of(bound.json()["access_token"])["cnf"]["jkt"] == other.jkt


def test_userinfo_refuses_bad_proofs(realm: Realm) -> None:
    """RFC 9449 §7.1: the proof must be by the token's key, carry ath of this token, and be fresh."""
    key = DpopKey()
    at = _exchange(realm, key).json()["access_token"]
    url = realm.endpoint("userinfo")
    cases = {
        "no proof": None,
        "other key": DpopKey().proof("GET", url, at),
        "no ath": key.proof("GET", url),
        "ath of another token": key.proof("GET", url, "another-token"),
        "wrong htm": key.proof("POST", url, at),
    }
    for case, proof in cases.items():
        r = _userinfo(realm, at, proof=proof)
        assert r.status_code == 401, case
        assert r.headers["WWW-Authenticate"].startswith("DPoP "), case
        assert 'error="invalid_dpop_proof"' in r.headers["WWW-Authenticate"], case
    proof = key.proof("GET", url, at)
    assert _userinfo(realm, at, proof=proof).status_code == 200
    replay = _userinfo(realm, at, proof=proof)
    assert replay.status_code == 401 and 'error="invalid_dpop_proof"' in replay.headers["WWW-Authenticate"]


def test_client_registered_with_dpop_bound_access_tokens_must_send_a_proof(realm: Realm) -> None:
    """RFC 9449 §5.2: such a client's token requests without a proof are refused, before its code is spent."""
    realm.services.clients.update(realm.tenant, "web", dpop_bound_access_tokens=True)
    realm.services.clients.update(realm.tenant, "service", dpop_bound_access_tokens=True)
    code, verifier = _code(realm)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    refused = _token(realm, form)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"
    key = DpopKey()
    ok = _token(realm, form, proof=key.proof("POST", realm.endpoint("token")))
    assert ok.status_code == 200 and ok.json()["token_type"] == "DPoP"
    cc = _cc(realm, None)
    assert cc.status_code == 400 and cc.json()["error"] == "invalid_request"


def test_dpop_jkt_binds_the_code(realm: Realm) -> None:
    """RFC 9449 §10: a code requested with dpop_jkt is redeemed only with a proof by that key."""
    key = DpopKey()
    code, verifier = _code(realm, dpop_jkt=key.jkt)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    refused = _token(realm, form, proof=DpopKey().proof("POST", realm.endpoint("token")))
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    code, verifier = _code(realm, dpop_jkt=key.jkt)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    ok = _token(realm, form, proof=key.proof("POST", realm.endpoint("token")))
    assert ok.status_code == 200 and ok.json()["token_type"] == "DPoP"
    bad = realm.authorize(realm.browser(), realm.rp(), dpop_jkt="not-a-thumbprint")[0]
    assert bad.status_code == 302 and query(bad.headers["Location"])["error"] == "invalid_request"
