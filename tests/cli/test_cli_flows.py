"""``idp tenant create --self-recovery``, ``migrate``, ``flows``, ``enable-flow`` and ``disable-flow`` (issue 4, the tenant's side)."""

from __future__ import annotations

from cli.support import Idp


def test_new_tenant_is_asked_and_a_yes_enables_self_recovery(initialised: Idp) -> None:
    """A new, compatible tenant is asked at set-up whether to enable the flow."""
    result = initialised.ok("tenant", "create", "newco", input="y\n")
    assert "Enable account self-recovery for this tenant? [y/N]" in result.stderr
    flows = {f["name"]: f for f in initialised.json("tenant", "flows", "newco")}
    assert flows["self-recovery"]["live"] is True


def test_no_answer_or_no_leaves_it_off(initialised: Idp) -> None:
    initialised.ok("tenant", "create", "quietco", input="")  # a script's closed stdin: No
    initialised.ok("tenant", "create", "noco", input="n\n")
    for slug in ("quietco", "noco"):
        flows = {f["name"]: f for f in initialised.json("tenant", "flows", slug)}
        assert flows["self-recovery"]["enabled"] is False


def test_flags_for_scripts_never_ask(initialised: Idp) -> None:
    yes = initialised.ok("tenant", "create", "yesco", "--self-recovery")
    no = initialised.ok("tenant", "create", "noflagco", "--no-self-recovery")
    assert "Enable account self-recovery" not in yes.stderr + no.stderr
    assert {f["name"]: f["live"] for f in initialised.json("tenant", "flows", "yesco")}["self-recovery"] is True
    assert {f["name"]: f["live"] for f in initialised.json("tenant", "flows", "noflagco")}["self-recovery"] is False


def test_a_legacy_tenant_is_not_asked_and_cannot_be_created_with_it(initialised: Idp) -> None:
    """Existing customers (legacy experience) migrate first; the refusal names the migration and writes nothing."""
    result = initialised.ok("tenant", "create", "oldco", "--experience", "legacy", input="y\n")
    assert "Enable account self-recovery" not in result.stderr
    line = initialised.refused("tenant", "create", "oldco2", "--experience", "legacy", "--self-recovery")
    assert "idp tenant migrate oldco2 --experience v2" in line
    assert "oldco2" not in [t["slug"] for t in initialised.json("tenant", "list")]


def test_flows_lists_state_and_every_reason(initialised: Idp) -> None:
    initialised.ok("tenant", "create", "legacyco", "--experience", "legacy")
    text = initialised.ok("tenant", "flows", "legacyco").stdout
    assert "browser-login\tlive\tcompatible" in text
    assert "self-recovery\tdisabled\tnot compatible: the tenant is on the legacy login experience" in text


def test_existing_tenant_migrates_then_enables(initialised: Idp) -> None:
    initialised.ok("tenant", "create", "legacyco", "--experience", "legacy")
    before = initialised.snapshot()
    line = initialised.refused("tenant", "enable-flow", "legacyco", "self-recovery")
    assert "legacy login experience" in line and "idp tenant migrate legacyco --experience v2" in line
    assert initialised.snapshot() == before
    assert initialised.json("tenant", "migrate", "legacyco", "--experience", "v2")["experience"] == "v2"
    enabled = initialised.json("tenant", "enable-flow", "legacyco", "self-recovery")
    # the admin API's Flow, with tenant
    assert {k: enabled[k] for k in ("tenant", "name", "enabled", "enabled_from", "live", "compatible", "reasons")} == {
        "tenant": "legacyco", "name": "self-recovery", "enabled": True, "enabled_from": None, "live": True, "compatible": True, "reasons": [],
    }
    assert enabled["bindings"] and enabled["own_bindings"] is False
    disabled = initialised.json("tenant", "disable-flow", "legacyco", "self-recovery")
    assert disabled["live"] is False


def test_activation_can_be_scheduled(initialised: Idp) -> None:
    initialised.ok("tenant", "create", "laterco", "--no-self-recovery")
    scheduled = initialised.json("tenant", "enable-flow", "laterco", "self-recovery", "--from", "2099-01-01T08:00:00+00:00")
    assert scheduled["enabled_from"] == "2099-01-01T08:00:00+00:00" and scheduled["live"] is False
    assert "scheduled from 2099-01-01T08:00:00+00:00" in initialised.ok("tenant", "flows", "laterco").stdout


def test_bad_schedules_and_unknown_flows_are_one_line(initialised: Idp) -> None:
    initialised.ok("tenant", "create", "badco", "--no-self-recovery")
    assert "ISO 8601" in initialised.refused("tenant", "enable-flow", "badco", "self-recovery", "--from", "next tuesday")
    assert "time zone" in initialised.refused("tenant", "enable-flow", "badco", "self-recovery", "--from", "2099-01-01T08:00:00")
    assert "unknown flow" in initialised.refused("tenant", "enable-flow", "badco", "no-such-flow")
    assert "cannot be disabled" in initialised.refused("tenant", "disable-flow", "badco", "browser-login")
