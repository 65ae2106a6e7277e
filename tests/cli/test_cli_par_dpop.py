"""``idp client create|update --require-par/--require-dpop``: the per-client PAR (RFC 9126 §6) and DPoP (RFC 9449
§5.2) requirements, shown back in the client's data."""

from __future__ import annotations

import json
from pathlib import Path

from cli.support import Idp


def test_par_and_dpop_requirements_are_set_and_cleared(acme: Idp) -> None:
    created = acme.json("client", "create", "acme", "shop", "--redirect-uri", "https://shop.example.com/cb", "--require-par")
    assert created["require_pushed_authorization_requests"] is True and created["dpop_bound_access_tokens"] is False
    updated = acme.json("client", "update", "acme", "shop", "--require-dpop", "--no-require-par")
    assert updated["require_pushed_authorization_requests"] is False and updated["dpop_bound_access_tokens"] is True
    shown = acme.json("client", "show", "acme", "shop")
    assert shown["dpop_bound_access_tokens"] is True and shown["require_pushed_authorization_requests"] is False


def test_response_modes_are_set_and_a_wrong_one_is_one_plain_line(acme: Idp) -> None:
    """R-64: ``--response-mode`` (repeatable) names the response modes the client may ask for; default both."""
    created = acme.json("client", "create", "acme", "shop", "--redirect-uri", "https://shop.example.com/cb")
    assert created["response_modes"] == ["query", "form_post"]
    updated = acme.json("client", "update", "acme", "shop", "--response-mode", "form_post")
    assert updated["response_modes"] == ["form_post"]
    assert acme.json("client", "show", "acme", "shop")["response_modes"] == ["form_post"]
    wrong = acme.run("client", "update", "acme", "shop", "--response-mode", "fragment")
    assert wrong.exit_code != 0 and "fragment" in wrong.output


def test_export_and_import_carry_the_response_modes(acme: Idp, tmp_path: Path) -> None:
    acme.ok("client", "create", "acme", "shop", "--redirect-uri", "https://shop.example.com/cb", "--response-mode", "query")
    document = json.loads(acme.ok("tenant", "export", "acme").stdout)
    [shop] = [c for c in document["clients"] if c["client_id"] == "shop"]
    assert shop["response_modes"] == ["query"]
    acme.ok("client", "update", "acme", "shop", "--response-mode", "query", "--response-mode", "form_post")
    path = tmp_path / "acme.json"
    path.write_text(json.dumps(document))
    acme.ok("tenant", "import", str(path))
    assert acme.json("client", "show", "acme", "shop")["response_modes"] == ["query"]
