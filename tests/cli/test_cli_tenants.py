"""``idp init`` and ``idp tenant ...``."""

from __future__ import annotations

from cli.support import Idp


def test_init_creates_schema_and_master_and_is_safe_twice(idp: Idp) -> None:
    first = idp.json("init")
    assert first["master_created"] is True
    assert first["schema_revision"]
    assert first["issuer"] == "http://127.0.0.1:8080/realms/master"
    second = idp.json("init")
    assert second["master_created"] is False
    assert second["schema_revision"] == first["schema_revision"]
    assert [t["slug"] for t in idp.json("tenant", "list")] == ["master"]
    assert len(idp.json("keys", "list", "master")) == 1


def test_init_text_output(idp: Idp) -> None:
    out = idp.ok("init").stdout
    assert "master_created: yes" in " ".join(out.split())
    assert "issuer:" in out and "/realms/master" in out


def test_commands_before_init_are_refused_in_one_line(idp: Idp) -> None:
    line = idp.refused("tenant", "list")
    assert "idp init" in line


def test_tenant_create_show_list(initialised: Idp) -> None:
    created = initialised.json("tenant", "create", "acme", "--name", "ACME Corp", "--experience", "legacy")
    assert created == {  # the admin API's Tenant
        "slug": "acme",
        "display_name": "ACME Corp",
        "experience": "legacy",
        "issuer": "http://127.0.0.1:8080/realms/acme",
        "revision": 1,
        "config": created["config"],
    }
    assert created["config"]["flows"]["browser-login"]["enabled"] is True
    shown = initialised.json("tenant", "show", "acme")
    assert shown["experience"] == "legacy"
    assert shown["config"]["flows"]["browser-login"]["enabled"] is True
    assert [t["slug"] for t in initialised.json("tenant", "list")] == ["acme", "master"]
    assert "config:" not in initialised.ok("tenant", "create", "other").stdout  # the text output leaves it to show
    table = initialised.ok("tenant", "list").stdout.splitlines()
    assert table[0].split() == ["SLUG", "DISPLAY_NAME", "EXPERIENCE", "ISSUER"]
    assert table[1].startswith("acme ")


def test_new_tenants_default_to_v2_and_get_a_key(initialised: Idp) -> None:
    created = initialised.json("tenant", "create", "beta")
    assert created["experience"] == "v2"
    assert created["display_name"] == "beta"
    assert len(initialised.json("keys", "list", "beta")) == 1


def test_tenant_create_duplicate_is_refused(acme: Idp, unchanged) -> None:  # type: ignore[no-untyped-def]
    assert unchanged("tenant", "create", "acme") == "error: tenant 'acme' already exists"


def test_tenant_create_invalid_slug_is_refused(unchanged) -> None:  # type: ignore[no-untyped-def]
    assert "invalid tenant name 'Not Valid'" in unchanged("tenant", "create", "Not Valid")


def test_tenant_create_bad_experience_is_usage_error(unchanged) -> None:  # type: ignore[no-untyped-def]
    assert "--experience" in unchanged("tenant", "create", "gamma", "--experience", "v3", code=2)


def test_tenant_show_unknown(initialised: Idp) -> None:
    assert initialised.refused("tenant", "show", "nope") == "error: unknown tenant 'nope'"


def test_unknown_command_is_one_line(idp: Idp) -> None:
    assert "No such command" in idp.refused("frobnicate", code=2)


def test_help_and_version(idp: Idp) -> None:
    out = idp.ok("--help").stdout
    for noun in ("init", "serve", "demo", "tenant", "client", "user", "keys"):
        assert f"  {noun} " in out
    assert "0.1.0" in idp.ok("--version").stdout
