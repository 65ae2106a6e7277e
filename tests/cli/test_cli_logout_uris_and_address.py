"""``idp client create|update`` with front- and back-channel logout URIs, and ``idp user create|set-address`` with
the address claim: accepted values are shown back, refused ones exit 1 with one plain line naming the option's field
and write nothing (R-59: https, or http on a loopback address only)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cli.support import STRONG, Idp


def test_logout_uris_are_registered_changed_and_removed(acme: Idp) -> None:
    created = acme.json(
        "client", "create", "acme", "shop",
        "--redirect-uri", "https://shop.example.com/cb",
        "--frontchannel-logout-uri", "https://shop.example.com/fc?x=1",
        "--frontchannel-logout-session-required",
        "--backchannel-logout-uri", "http://127.0.0.1:8000/bc",
    )
    assert created["frontchannel_logout_uri"] == "https://shop.example.com/fc?x=1"
    assert created["frontchannel_logout_session_required"] is True
    assert created["backchannel_logout_uri"] == "http://127.0.0.1:8000/bc"
    assert created["backchannel_logout_session_required"] is False
    updated = acme.json("client", "update", "acme", "shop", "--backchannel-logout-uri", "https://shop.example.com/bc", "--backchannel-logout-session-required")
    assert updated["backchannel_logout_uri"] == "https://shop.example.com/bc" and updated["backchannel_logout_session_required"] is True
    assert updated["frontchannel_logout_uri"] == "https://shop.example.com/fc?x=1"  # untouched
    removed = acme.json("client", "update", "acme", "shop", "--frontchannel-logout-uri", "")
    assert removed["frontchannel_logout_uri"] == "" and acme.json("client", "show", "acme", "shop")["frontchannel_logout_uri"] == ""


@pytest.mark.parametrize(
    "option,value,message",
    [
        ("--backchannel-logout-uri", "http://rp.example.com/bc", "error: backchannel_logout_uri 'http://rp.example.com/bc' must use https (http only on a loopback address)"),
        ("--backchannel-logout-uri", "/bc", "error: backchannel_logout_uri '/bc' must be absolute"),
        ("--frontchannel-logout-uri", "https://rp.example.com/fc#x", "error: frontchannel_logout_uri 'https://rp.example.com/fc#x' must not contain a fragment"),
        ("--frontchannel-logout-uri", "javascript:alert(1)", "error: frontchannel_logout_uri 'javascript:alert(1)' must be absolute"),
        ("--frontchannel-logout-uri", "ftp://rp.example.com/fc", "error: frontchannel_logout_uri 'ftp://rp.example.com/fc' must use https (http only on a loopback address)"),
    ],
)
def test_a_bad_logout_uri_is_refused_on_create_and_update(acme: Idp, unchanged: Callable[..., str], option: str, value: str, message: str) -> None:
    assert unchanged("client", "create", "acme", "bad", "--redirect-uri", "https://a.example.com/cb", option, value) == message
    acme.ok("client", "create", "acme", "good", "--redirect-uri", "https://a.example.com/cb")
    before = acme.snapshot()
    assert acme.refused("client", "update", "acme", "good", option, value) == message
    assert acme.snapshot() == before


def test_client_update_with_nothing_to_change_is_refused(acme: Idp) -> None:
    acme.ok("client", "create", "acme", "good", "--redirect-uri", "https://a.example.com/cb")
    assert acme.refused("client", "update", "acme", "good").startswith("error: nothing to change")
    assert acme.refused("client", "update", "acme", "nobody", "--name", "x") == "error: unknown client 'nobody' in tenant 'acme'"


def test_a_users_address_is_set_shown_and_cleared(acme: Idp) -> None:
    created = acme.json(
        "user", "create", "acme", "dana", "--password", STRONG,
        "--street-address", "1 rue de la Paix\\nBâtiment B", "--locality", "Paris", "--postal-code", "75002", "--country", "France",
    )
    assert created["address"] == {"street_address": "1 rue de la Paix\nBâtiment B", "locality": "Paris", "postal_code": "75002", "country": "France"}
    changed = acme.json("user", "set-address", "acme", "dana", "--address-formatted", "1 rue de la Paix\\n75002 Paris", "--region", "Île-de-France")
    assert changed["address"] == {"formatted": "1 rue de la Paix\n75002 Paris", "region": "Île-de-France"}  # the members given replace it all
    assert acme.json("user", "show", "acme", "dana")["address"] == changed["address"]
    assert acme.json("user", "set-address", "acme", "dana", "--clear")["address"] is None


def test_a_bad_address_is_refused_with_one_line(acme: Idp, unchanged: Callable[..., str]) -> None:
    acme.ok("user", "create", "acme", "erin", "--password", STRONG)
    assert unchanged("user", "set-address", "acme", "erin", "--locality", "Paris\\nLyon") == "error: address.locality must be one line"
    assert unchanged("user", "set-address", "acme", "erin", "--country", "x" * 401) == "error: address.country must be at most 400 characters"
    assert unchanged("user", "set-address", "acme", "erin").startswith("error: give the address members")
    assert unchanged("user", "set-address", "acme", "erin", "--clear", "--locality", "Paris").startswith("error: give the address members")
