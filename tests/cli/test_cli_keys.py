"""``idp keys list|rotate``."""

from __future__ import annotations

from cli.support import Idp


def test_keys_list_shows_the_first_key_active(acme: Idp) -> None:
    keys = acme.json("keys", "list", "acme")
    assert len(keys) == 1
    assert keys[0]["tenant"] == "acme"
    assert keys[0]["alg"] == "RS256"
    assert keys[0]["status"] == "active"
    assert keys[0]["retired_at"] is None
    assert "private" not in str(keys[0]).lower()


def test_rotate_publishes_first_then_signs(acme: Idp) -> None:
    old = acme.json("keys", "list", "acme")[0]
    new = acme.json("keys", "rotate", "acme")
    assert new["kid"] != old["kid"]
    assert new["status"] == "pending"
    keys = acme.json("keys", "list", "acme")
    assert [k["kid"] for k in keys] == [new["kid"], old["kid"]]
    # The old key keeps signing until the new one takes over, then stays published until its tokens expire.
    assert keys[1]["status"] == "active"
    assert keys[1]["retired_at"] == new["active_from"]
    assert keys[1]["unpublish_at"] > keys[1]["retired_at"]


def test_rotate_with_no_delay_signs_at_once(acme: Idp) -> None:
    new = acme.json("keys", "rotate", "acme", "--publish-delay", "0")
    assert new["status"] == "active"
    statuses = {k["kid"]: k["status"] for k in acme.json("keys", "list", "acme")}
    assert statuses[new["kid"]] == "active"
    assert sorted(statuses.values()) == ["active", "retired"]


def test_keys_text_output(acme: Idp) -> None:
    lines = acme.ok("keys", "list", "acme").stdout.splitlines()
    assert lines[0].split()[:3] == ["KID", "ALG", "STATUS"]
    assert "RS256" in lines[1] and "active" in lines[1]


def test_keys_unknown_tenant(unchanged) -> None:  # type: ignore[no-untyped-def]
    assert unchanged("keys", "rotate", "nope") == "error: unknown tenant 'nope'"
    assert unchanged("keys", "list", "nope") == "error: unknown tenant 'nope'"


def test_rotate_negative_delay_is_usage_error(unchanged) -> None:  # type: ignore[no-untyped-def]
    assert "--publish-delay" in unchanged("keys", "rotate", "acme", "--publish-delay", "-5", code=2)
