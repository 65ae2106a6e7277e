"""``idp client create|update --require-par/--require-dpop``: the per-client PAR (RFC 9126 §6) and DPoP (RFC 9449
§5.2) requirements, shown back in the client's data."""

from __future__ import annotations

from cli.support import Idp


def test_par_and_dpop_requirements_are_set_and_cleared(acme: Idp) -> None:
    created = acme.json("client", "create", "acme", "shop", "--redirect-uri", "https://shop.example.com/cb", "--require-par")
    assert created["require_pushed_authorization_requests"] is True and created["dpop_bound_access_tokens"] is False
    updated = acme.json("client", "update", "acme", "shop", "--require-dpop", "--no-require-par")
    assert updated["require_pushed_authorization_requests"] is False and updated["dpop_bound_access_tokens"] is True
    shown = acme.json("client", "show", "acme", "shop")
    assert shown["dpop_bound_access_tokens"] is True and shown["require_pushed_authorization_requests"] is False
