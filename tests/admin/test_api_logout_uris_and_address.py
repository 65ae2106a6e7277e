"""The admin API's client logout registration and user address: accepted values come back in the documented shape
(each response checked against the OpenAPI schema), refusals are a 400 naming the field, and nothing changes (R-59)."""

from __future__ import annotations

import pytest

from admin.support import AdminWorld


def test_a_client_takes_front_and_back_channel_logout_uris(world: AdminWorld) -> None:
    acme = world.tenant()
    token = world.service_token(acme)
    base = f"/admin/realms/{acme.slug}/clients"
    body = {
        "client_id": "shop",
        "redirect_uris": ["https://shop.example.com/cb"],
        "frontchannel_logout_uri": "https://shop.example.com/fc",
        "frontchannel_logout_session_required": True,
        "backchannel_logout_uri": "http://localhost:9000/bc",
    }
    r = world.call("POST", base, token, json=body)
    assert r.status_code == 201, r.text
    client = r.json()["client"]
    assert client["frontchannel_logout_uri"] == "https://shop.example.com/fc" and client["frontchannel_logout_session_required"] is True
    assert client["backchannel_logout_uri"] == "http://localhost:9000/bc" and client["backchannel_logout_session_required"] is False
    r = world.call("PATCH", f"{base}/shop", token, json={"backchannel_logout_uri": "", "backchannel_logout_session_required": True})
    assert r.status_code == 200 and r.json()["backchannel_logout_uri"] == "" and r.json()["backchannel_logout_session_required"] is True
    assert world.call("GET", f"{base}/shop", token).json()["frontchannel_logout_uri"] == "https://shop.example.com/fc"


@pytest.mark.parametrize(
    "field,value,words",
    [
        ("backchannel_logout_uri", "http://rp.example.com/bc", "must use https (http only on a loopback address)"),
        ("frontchannel_logout_uri", "https://rp.example.com/fc#frag", "must not contain a fragment"),
        ("frontchannel_logout_uri", "rp.example.com/fc", "must be absolute"),
        ("backchannel_logout_uri", "https://*.example.com/bc", "must not contain a wildcard"),
    ],
)
def test_a_bad_logout_uri_is_refused_naming_the_field(world: AdminWorld, field: str, value: str, words: str) -> None:
    acme = world.tenant()
    token = world.service_token(acme)
    base = f"/admin/realms/{acme.slug}/clients"
    r = world.call("POST", base, token, json={"client_id": "bad", "redirect_uris": ["https://a.example.com/cb"], field: value})
    assert r.status_code == 400 and r.json()["field"] == field, r.text
    assert r.json()["error"] == f"{field} {value!r} {words}" or words in r.json()["error"]
    assert r.json()["error"].startswith(field)
    assert world.call("GET", f"{base}/bad", token, check=False).status_code == 404
    assert world.call("POST", base, token, json={"client_id": "good", "redirect_uris": ["https://a.example.com/cb"]}).status_code == 201
    r = world.call("PATCH", f"{base}/good", token, json={field: value})
    assert r.status_code == 400 and r.json()["field"] == field and r.json()["error"].startswith(field)
    assert world.call("GET", f"{base}/good", token).json()[field] == ""


def test_a_users_address_is_set_through_the_api(world: AdminWorld) -> None:
    acme = world.tenant()
    token = world.service_token(acme)
    base = f"/admin/realms/{acme.slug}/users"
    address = {"street_address": "10 Downing St", "locality": "London", "postal_code": "SW1A 2AA", "country": "UK"}
    r = world.call("POST", base, token, json={"username": "fran", "password": "a long enough passphrase 7", "address": address})
    assert r.status_code == 201, r.text
    sub = r.json()["id"]
    assert r.json()["address"] == address
    r = world.call("PATCH", f"{base}/{sub}", token, json={"address": {"formatted": "  10 Downing St\r\nLondon  ", "country": ""}})
    assert r.status_code == 200 and r.json()["address"] == {"formatted": "10 Downing St\nLondon"}  # trimmed, empty members dropped
    r = world.call("PATCH", f"{base}/{sub}", token, json={"address": {"planet": "Earth"}})
    assert r.status_code == 422 and r.json()["field"] == "address.planet", r.text
    r = world.call("PATCH", f"{base}/{sub}", token, json={"address": {"locality": "a\nb"}})
    assert r.status_code == 400 and r.json() == {"error": "address.locality must be one line", "field": "address.locality"}
    assert world.call("GET", f"{base}/{sub}", token).json()["address"] == {"formatted": "10 Downing St\nLondon"}
    assert world.call("PATCH", f"{base}/{sub}", token, json={"address": None}).json()["address"] is None
