"""DPoP and the protocol fast lane (idp.web.fastlane): requests with a proof or the DPoP scheme, bound tokens and
clients that require DPoP get the same answer through the lane as through Flask alone (RFC 9449)."""

from __future__ import annotations

from typing import Any

from support.builders import REDIRECT_URI, Realm
from support.dpop import DpopKey, claims_of
from support.walkers import query
from werkzeug.test import Client

from idp.web.fastlane import ProtocolFastLane


def _clients(realm: Realm) -> tuple[Client, Client]:
    lane = realm.server.app.wsgi_app
    assert isinstance(lane, ProtocolFastLane)
    return Client(lane), Client(lane.next)


def _path(realm: Realm, name: str) -> str:
    return f"/realms/{realm.tenant.slug}/protocol/openid-connect/{name}"


def _cc(client: Client, realm: Realm, proof: str | None = None) -> Any:
    headers = {"DPoP": proof} if proof else {}
    return client.post(
        _path(realm, "token"), data={"grant_type": "client_credentials"}, auth=("service", realm.secrets["service"]), headers=headers
    )


def _bound_token(realm: Realm, key: DpopKey) -> str:
    response, verifier, _ = realm.authorize(realm.browser(), realm.rp())
    code = query(response.headers["Location"])["code"]
    lane, _ = _clients(realm)
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    r = lane.post(_path(realm, "token"), data=form, auth=("web", realm.secrets["web"]), headers={"DPoP": key.proof("POST", realm.endpoint("token"))})
    assert r.status_code == 200, r.text
    assert r.json["token_type"] == "DPoP"  # the lane handed the proof to Flask, which bound the token
    return str(r.json["access_token"])


def test_token_request_with_a_proof_is_bound_through_the_lane(realm: Realm) -> None:
    """The lane would answer a plain client_credentials request itself; one with a DPoP proof goes to Flask and
    gets a bound token, as through Flask alone."""
    lane, flask = _clients(realm)
    assert _cc(lane, realm).json["token_type"] == "Bearer"  # warms the lane's caches
    key = DpopKey()
    for client in (lane, flask):
        r = _cc(client, realm, key.proof("POST", realm.endpoint("token")))
        assert r.status_code == 200, r.text
        assert r.json["token_type"] == "DPoP" and claims_of(r.json["access_token"])["cnf"]["jkt"] == key.jkt


def test_client_that_requires_dpop_is_refused_the_same_way(realm: Realm) -> None:
    """RFC 9449 §5.2: without a proof, 400 invalid_request through the lane and through Flask alike."""
    lane, flask = _clients(realm)
    realm.services.clients.update(realm.tenant, "service", dpop_bound_access_tokens=True)
    assert flask.get(_path(realm, "certs")).status_code == 200  # the tenant's keys in this process's caches
    answers = [_cc(client, realm) for client in (lane, lane, flask)]  # the second one with the client cached too
    for r in answers:
        assert r.status_code == 400 and r.json["error"] == "invalid_request", r.text
    assert answers[1].json == answers[2].json


def test_bound_token_presented_as_bearer_is_refused_by_both(realm: Realm) -> None:
    """RFC 9449 §7.2: the lane answers UserInfo for live bearer tokens, but not for a DPoP-bound one: 401 with a
    DPoP challenge through the lane as through Flask; with the DPoP scheme and a proof, both answer the claims."""
    key = DpopKey()
    token = _bound_token(realm, key)
    lane, flask = _clients(realm)
    bearer = [c.get(_path(realm, "userinfo"), headers={"Authorization": f"Bearer {token}"}) for c in (lane, lane, flask)]
    for r in bearer:
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith('DPoP error="invalid_token"'), r.text
    assert bearer[1].get_data() == bearer[2].get_data()
    url = realm.endpoint("userinfo")
    dpop = [
        c.get(_path(realm, "userinfo"), headers={"Authorization": f"DPoP {token}", "DPoP": key.proof("GET", url, token)}) for c in (lane, flask)
    ]
    for r in dpop:
        assert r.status_code == 200 and r.json["sub"] == realm.user.sub, r.text
    assert dpop[0].json == dpop[1].json


def test_introspection_of_a_bound_token_agrees(realm: Realm) -> None:
    """RFC 9449 §6.2: introspection reports cnf (and token_type DPoP), the lane's answer equal to Flask's."""
    key = DpopKey()
    token = _bound_token(realm, key)
    lane, flask = _clients(realm)
    answers = [c.post(_path(realm, "token/introspect"), data={"token": token}, auth=("web", realm.secrets["web"])) for c in (lane, lane, flask)]
    for r in answers:
        assert r.status_code == 200 and r.json["cnf"] == {"jkt": key.jkt} and r.json["token_type"] == "DPoP", r.text
    assert answers[1].json == answers[2].json


def test_code_bound_by_dpop_jkt_is_refused_without_a_proof_by_both(realm: Realm) -> None:
    """RFC 9449 §10: a code requested with ``dpop_jkt`` and presented with no DPoP header at all (which the lane
    would take) is refused by the lane exactly as by Flask: ``invalid_grant``, no token."""
    lane, flask = _clients(realm)
    assert _cc(lane, realm).status_code == 200  # warms the lane's caches: the exchange below is the lane's
    key = DpopKey()
    answers = []
    for client in (lane, flask):
        response, verifier, _ = realm.authorize(realm.browser(), realm.rp(), dpop_jkt=key.jkt)
        code = query(response.headers["Location"])["code"]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
        r = client.post(_path(realm, "token"), data=form, auth=("web", realm.secrets["web"]))
        answers.append((r.status_code, r.json["error"], "access_token" in r.json))
    assert answers[0] == answers[1] == (400, "invalid_grant", False)
