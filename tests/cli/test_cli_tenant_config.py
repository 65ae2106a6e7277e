"""``idp tenant config get|set|apply`` and ``idp tenant export|import`` (issue 11, item 4): the admin API's
rules, one line naming the key on a bad value, nothing written; import in one transaction."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cli.support import Idp, secret_works


def write(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data), encoding="utf-8")
    return str(path)


def test_config_get_whole_section_and_one_key(acme: Idp) -> None:
    whole = json.loads(acme.ok("tenant", "config", "get", "acme").stdout)
    assert whole["mfa"] == {"policy": "optional"} and whole["branding"]["primary_color"] == "#1f4fd1"
    assert acme.ok("tenant", "config", "get", "acme", "mfa.policy").stdout == "optional\n"
    assert acme.ok("tenant", "config", "get", "acme", "tokens.code_ttl").stdout == "60\n"
    assert json.loads(acme.ok("tenant", "config", "get", "acme", "branding").stdout)["support_url"] == ""
    assert acme.json("tenant", "config", "get", "acme", "mfa.policy") == "optional"
    assert acme.refused("tenant", "config", "get", "acme", "branding.colour") == "error: branding.colour: is not a known setting"


def test_config_set_typed_values_and_dotted_keys(acme: Idp) -> None:
    out = acme.json(
        "tenant", "config", "set", "acme", "mfa.policy=required", "branding.primary_color=#0a7d3b", "branding.display_name=123",
        "tokens.code_ttl=30", "sms.allowed_as_second_factor=false", 'sms.allowed_country_codes=["33", "1"]',
    )
    assert out["written"] is True
    assert {c["key"]: c["after"] for c in out["changes"]} == {
        "mfa.policy": "required", "branding.primary_color": "#0a7d3b", "branding.display_name": "123", "tokens.code_ttl": 30,
        "sms.allowed_as_second_factor": False, "sms.allowed_country_codes": ["33", "1"],
    }
    config = acme.json("tenant", "show", "acme")["config"]
    assert config["mfa"]["policy"] == "required" and config["tokens"]["code_ttl"] == 30
    assert config["sms"]["allowed_country_codes"] == ["33", "1"] and config["branding"]["display_name"] == "123"
    text = acme.ok("tenant", "config", "set", "acme", "mfa.policy=off").stdout
    assert text == 'mfa.policy: "required" -> "off"\n'
    assert acme.ok("tenant", "config", "set", "acme", "mfa.policy=off").stdout == "no change\n"
    events = [row for row in acme.snapshot()["audit_events"] if "tenant.config_updated" in row]
    assert len(events) == 3 and all("cli" in row for row in events)


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("mfa.policy=sometimes", "error: mfa.policy: must be 'off', 'optional' or 'required'"),
        ("branding.primary_color=red", "error: branding.primary_color: must be a colour like #1f4fd1"),
        ("branding.logo_url=http://example.com/l.png", "error: branding.logo_url: must be an https URL"),
        ("tokens.code_ttl=abc", "error: tokens.code_ttl: must be a whole number"),
        ("tokens.code_ttl=6000", "error: tokens.code_ttl: must be between 1 and 600 seconds"),
        ("sms.allowed_country_codes=33", "error: sms.allowed_country_codes: must be a list of strings"),
        ("passwords.min_length=4", "error: passwords.min_length: must be between 8 and 1024 characters"),
        ("default_locale=de", "error: default_locale: must be 'en' or 'fr'"),
        ("branding.colour=#000000", "error: branding.colour: is not a known setting"),
        ("flows.no-such-flow.enabled=true", "error: flows.no-such-flow: is not a registered flow"),
    ],
)
def test_config_set_bad_value_is_one_line_naming_the_key(unchanged: Callable[..., str], assignment: str, message: str) -> None:
    """The same rules as PATCH /admin/realms/{tenant}/config; a refusal writes nothing, not even the good keys beside it."""
    assert unchanged("tenant", "config", "set", "acme", "branding.display_name=Changed", assignment) == message


def test_config_set_usage_errors(unchanged: Callable[..., str]) -> None:
    assert unchanged("tenant", "config", "set", "acme", "mfa.policy", code=2) == "error: expected KEY=VALUE (e.g. mfa.policy=required), got 'mfa.policy'"
    assert unchanged("tenant", "config", "set", "nope", "mfa.policy=off") == "error: unknown tenant 'nope'"


def test_config_apply_check_then_write(acme: Idp, tmp_path: Path) -> None:
    path = write(tmp_path / "acme.json", {"branding": {"primary_color": "#0a7d3b"}, "mfa": {"policy": "required"}})
    before = acme.snapshot()
    checked = acme.ok("tenant", "config", "apply", "acme", "--file", path, "--check").stdout.splitlines()
    assert checked == ['branding.primary_color: "#1f4fd1" -> "#0a7d3b"', 'mfa.policy: "optional" -> "required"', "checked: nothing written"]
    assert acme.snapshot() == before
    out = acme.json("tenant", "config", "apply", "acme", "--file", path)
    assert out["written"] is True and [c["key"] for c in out["changes"]] == ["branding.primary_color", "mfa.policy"]
    assert acme.json("tenant", "config", "get", "acme", "mfa.policy") == "required"
    assert acme.json("tenant", "config", "apply", "acme", "--file", path)["changes"] == []  # applying twice changes nothing


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"sms": {"code_ttl": 0}}, "error: sms.code_ttl: must be between 1 and 600 seconds"),
        ({"tokens": {"sso_idle_ttl": 3600, "sso_max_ttl": 1800}}, "error: tokens.sso_idle_ttl: must not exceed tokens.sso_max_ttl"),
        (["mfa"], "error: {path}: must be a JSON object of settings"),
        ("not json", "error: {path} is not valid JSON: Expecting value: line 1 column 1 (char 0)"),
    ],
)
def test_config_apply_refusals(unchanged: Callable[..., str], tmp_path: Path, document: Any, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    assert unchanged("tenant", "config", "apply", "acme", "--file", str(path)) == message.format(path=path)
    assert unchanged("tenant", "config", "apply", "acme", "--file", str(path), "--check") == message.format(path=path)


def test_export_import_round_trip(acme: Idp, tmp_path: Path) -> None:
    """Export, import into a fresh instance, export again: the same document; no secret travels."""
    acme.ok("tenant", "config", "set", "acme", "mfa.policy=required", "branding.primary_color=#0a7d3b")
    acme.ok("tenant", "enable-flow", "acme", "self-recovery")
    web = acme.json("client", "create", "acme", "web", "--redirect-uri", "https://rp.example.com/cb", "--name", "Web")
    acme.ok("client", "create", "acme", "spa", "--public", "--redirect-uri", "https://spa.example.com/cb")
    acme.ok("client", "create", "acme", "ops", "--admin")
    exported = acme.ok("tenant", "export", "acme").stdout
    document = json.loads(exported)
    assert document["format"] == "idp-tenant/1" and document["slug"] == "acme" and document["experience"] == "v2"
    assert document["config"]["flows"]["self-recovery"]["enabled"] is True
    assert [c["client_id"] for c in document["clients"]] == ["ops", "spa", "web"]
    assert web["client_secret"] not in exported
    assert all("client_secret" not in c and "secret_hash" not in c for c in document["clients"])

    other = Idp(instance=tmp_path / "other", env={**acme.env, "IDP_INSTANCE_PATH": str(tmp_path / "other")})
    other.ok("init")
    path = write(tmp_path / "acme-export.json", document)
    result = other.run("tenant", "import", path, "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["created"] is True and out["written"] is True
    assert sorted(out["clients_created"]) == ["ops", "spa", "web"]
    assert sorted(out["client_secrets"]) == ["ops", "web"]  # confidential ones, printed this once
    assert secret_works(other, "acme", "web", out["client_secrets"]["web"])
    assert json.loads(other.ok("tenant", "export", "acme").stdout) == document
    # importing the same document again updates in place: nothing changes, no new secret
    again = other.json("tenant", "import", path)
    assert again["created"] is False and again["changes"] == [] and again["client_secrets"] == {}
    assert secret_works(other, "acme", "web", out["client_secrets"]["web"])


def test_import_updates_an_existing_tenant_and_check_writes_nothing(acme: Idp, tmp_path: Path) -> None:
    document = json.loads(acme.ok("tenant", "export", "acme").stdout)
    document["config"]["branding"]["primary_color"] = "#123456"
    document["clients"] = [{"client_id": "web", "redirect_uris": ["https://rp.example.com/cb"]}]
    path = write(tmp_path / "doc.json", document)
    before = acme.snapshot()
    checked = acme.json("tenant", "import", path, "--check")
    assert checked["written"] is False and checked["client_secrets"] == {}
    assert checked["changes"] == [{"key": "branding.primary_color", "before": "#1f4fd1", "after": "#123456"}]
    assert acme.snapshot() == before
    result = acme.run("tenant", "import", path)
    assert result.exit_code == 0 and "shown this once" in result.stderr
    assert acme.json("tenant", "config", "get", "acme", "branding.primary_color") == "#123456"
    assert acme.json("client", "show", "acme", "web")["redirect_uris"] == ["https://rp.example.com/cb"]


def _bad_documents(good: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    def variant(**changes: Any) -> dict[str, Any]:
        return json.loads(json.dumps({**good, **changes}))

    bad_config = variant()
    bad_config["config"]["mfa"]["policy"] = "always"
    return [
        (bad_config, "error: mfa.policy: must be 'off', 'optional' or 'required'"),
        (variant(format="other/2"), "error: format: must be 'idp-tenant/1'"),
        (variant(colour="red"), "error: colour: is not a known field of a tenant document"),
        (variant(clients=[{"client_id": "web", "redirect_uris": ["https://a.example.com/cb"]}, {"client_id": "bad", "redirect_uris": ["http://b.example.com/cb"]}]),
         "error: clients.bad: redirect URI 'http://b.example.com/cb' must use https (http only on a loopback address)"),
        (variant(clients=[{"client_id": "web", "secret": "x"}]), "error: clients.web.secret: is not a known client field"),
        (variant(clients=[{"client_id": "web", "redirect_uris": []}, {"client_id": "web", "redirect_uris": []}]), "error: clients.web: appears twice"),
        (variant(slug="Bad Slug"), "error: invalid tenant name 'Bad Slug': use lower-case letters, digits and dashes"),
    ]


def test_invalid_documents_write_nothing(any_db: Idp, tmp_path: Path) -> None:
    """One transaction: a document refused at its last client leaves neither the tenant, nor its configuration, nor the earlier clients."""
    any_db.ok("init")
    good = {"format": "idp-tenant/1", "slug": "newco", "display_name": "NewCo", "experience": "v2", "config": {"mfa": {"policy": "required"}}, "clients": []}
    for document, message in _bad_documents(good):
        for slug in ("newco", "acme"):  # a new tenant, and an existing one
            if slug == "acme" and not any(t["slug"] == "acme" for t in any_db.json("tenant", "list")):
                any_db.ok("tenant", "create", "acme", "--no-self-recovery")
            path = write(tmp_path / "doc.json", {**document, "slug": slug} if document["slug"] == "newco" else document)
            before = any_db.snapshot()
            assert before["tenants"] and before["signing_keys"]  # the snapshot reads this test's database
            assert any_db.refused("tenant", "import", path) == message.replace("newco", slug)
            assert any_db.snapshot() == before


def test_import_refuses_another_experience(acme: Idp, tmp_path: Path) -> None:
    document = json.loads(acme.ok("tenant", "export", "acme").stdout)
    path = write(tmp_path / "doc.json", {**document, "experience": "legacy"})
    before = acme.snapshot()
    line = acme.refused("tenant", "import", path)
    assert line == "error: experience: tenant 'acme' is v2, the document says legacy; run `idp tenant migrate` first"
    assert acme.snapshot() == before
