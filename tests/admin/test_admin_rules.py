"""Admin-rule holes found by outside checks (issue 11, item 5): one flow rule on every path, bounded numbers.

Every path that changes a tenant's flow state (configuration ``PATCH``, enable, creation with a
configuration, migration) goes through the tenant service's one compatibility rule; every whole-number
setting has bounds, refused with 422 naming the field.
"""

from __future__ import annotations

import dataclasses
from typing import Any, get_type_hints

import pytest
from sqlalchemy import select

from admin.support import AdminWorld
from flows.self_recovery.config import SelfRecoveryConfig
from idp.storage.models import Tenant
from idp.tenants.config import TenantConfig, bounds_of
from idp.tenants.service import TenantError

ENABLE_RECOVERY = {"flows": {"self-recovery": {"enabled": True}}}


def test_config_patch_cannot_enable_self_recovery_on_a_legacy_tenant(world: AdminWorld) -> None:
    """The PATCH path applies the rule of the /enable endpoint: 409 naming the flow, nothing written."""
    legacy = world.tenant(experience="legacy")
    token = world.service_token(legacy)
    r = world.call("PATCH", f"/admin/realms/{legacy.slug}/config", token, json=ENABLE_RECOVERY)
    assert r.status_code == 409, r.text
    assert r.json()["field"] == "flows.self-recovery.enabled" and "legacy login experience" in r.json()["error"]
    scheduled = {"flows": {"self-recovery": {"enabled": True, "enabled_from": "2030-01-01T00:00:00+00:00"}}}
    assert world.call("PATCH", f"/admin/realms/{legacy.slug}/config", token, json=scheduled).status_code == 409
    assert world.services.tenants.require(legacy.slug).config.flow("self-recovery").enabled is False
    assert world.call("GET", f"/admin/realms/{legacy.slug}/events?type=tenant.config_updated", token).json()["events"] == []
    # an unrelated change still goes through
    assert world.call("PATCH", f"/admin/realms/{legacy.slug}/config", token, json={"mfa": {"policy": "required"}}).status_code == 200


def test_the_service_applies_the_rule_to_every_path(world: AdminWorld) -> None:
    """Configuration change, creation with a configuration (import), and a change that breaks an enabled flow."""
    tenants = world.services.tenants
    legacy = world.tenant(experience="legacy")
    with pytest.raises(TenantError) as refused:
        tenants.update_config(legacy.slug, ENABLE_RECOVERY, actor="test")
    assert refused.value.status == 409 and refused.value.field == "flows.self-recovery.enabled"
    with pytest.raises(TenantError) as refused:
        tenants.create("imported-legacy", experience="legacy", config=ENABLE_RECOVERY)
    assert refused.value.status == 409 and tenants.get("imported-legacy") is None
    modern = world.tenant()
    tenants.enable_flow(modern.slug, "self-recovery")
    with pytest.raises(TenantError) as refused:  # the flow needs local passwords: turning them off would break it
        tenants.update_config(modern.slug, {"local_passwords": False})
    assert refused.value.status == 409 and "local passwords" in str(refused.value)
    assert tenants.require(modern.slug).config.local_passwords is True


def test_migration_to_legacy_is_refused_while_a_flow_needs_v2(world: AdminWorld) -> None:
    modern = world.tenant()
    platform = world.service_token(world.master)
    assert world.call("PATCH", f"/admin/realms/{modern.slug}/config", platform, json=ENABLE_RECOVERY).status_code == 200
    r = world.call("POST", f"/admin/realms/{modern.slug}/experience", platform, json={"experience": "legacy"})
    assert r.status_code == 409 and "self-recovery" in r.json()["error"] and r.json()["field"] == "experience"
    assert world.services.tenants.require(modern.slug).experience == "v2"


def test_creation_with_a_configuration_enabling_self_recovery_on_legacy_is_refused(world: AdminWorld) -> None:
    platform = world.user_token(world.master)
    body = {"slug": "legacy-with-recovery", "experience": "legacy", "config": ENABLE_RECOVERY}
    r = world.call("POST", "/admin/realms", platform, json=body)
    assert r.status_code == 409 and r.json()["field"] == "flows.self-recovery.enabled"
    assert world.services.tenants.get("legacy-with-recovery") is None


@pytest.mark.parametrize("config", [[1], "x", 5])
def test_a_configuration_that_is_not_an_object_is_a_422_naming_it(world: AdminWorld, config: Any) -> None:
    """R-45: a malformed creation body gets its field-named refusal, never a 500; nothing is created."""
    platform = world.user_token(world.master)
    r = world.call("POST", "/admin/realms", platform, json={"slug": "shapeless", "config": config})
    assert r.status_code == 422 and r.json()["field"] == "config"
    assert world.services.tenants.get("shapeless") is None


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"sms": {"per_number_daily_cap": -1}}, "sms.per_number_daily_cap"),
        ({"sms": {"per_account_daily_cap": -5}}, "sms.per_account_daily_cap"),
        ({"sms": {"per_tenant_daily_cap": -1000}}, "sms.per_tenant_daily_cap"),
        ({"sms": {"per_tenant_daily_cap": 10**12}}, "sms.per_tenant_daily_cap"),
        ({"sms": {"resend_cooldown": -30}}, "sms.resend_cooldown"),
        ({"tokens": {"access_token_ttl": 10**9}}, "tokens.access_token_ttl"),
        ({"tokens": {"refresh_token_ttl": -1}}, "tokens.refresh_token_ttl"),
        ({"passwords": {"min_length": 100000}}, "passwords.min_length"),
        # at most an hour idle and a day in all
        ({"tokens": {"sso_idle_ttl": 7200}}, "tokens.sso_idle_ttl"),
        ({"tokens": {"sso_max_ttl": 2 * 86400, "sso_idle_ttl": 1800}}, "tokens.sso_max_ttl"),
        ({"flows": {"self-recovery": {"settings": {"max_requests_per_ip_per_hour": -1}}}}, "flows.self-recovery.settings.max_requests_per_ip_per_hour"),
    ],
)
def test_negative_or_absurd_numbers_are_refused_naming_the_field(world: AdminWorld, patch: dict[str, Any], field: str) -> None:
    acme = world.tenant()
    token = world.service_token(acme)
    before = world.services.tenants.require(acme.slug).config.dump()
    r = world.call("PATCH", f"/admin/realms/{acme.slug}/config", token, json=patch)
    assert r.status_code == 422 and r.json()["field"] == field and "must be between" in r.json()["error"], r.text
    assert world.services.tenants.require(acme.slug).config.dump() == before
    with pytest.raises(TenantError) as refused:
        world.services.tenants.update_config(acme.slug, patch)
    assert refused.value.status == 422 and refused.value.field == field


def _int_fields(cls: type, path: str = "") -> list[tuple[str, dataclasses.Field[Any]]]:
    """Every whole-number field of a configuration dataclass, nested sections included, by dotted name."""
    hints = get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            out.extend(_int_fields(hints[f.name], f"{path}{f.name}."))
        elif hints[f.name] is int:
            out.append((f"{path}{f.name}", f))
    return out


def test_every_whole_number_setting_has_bounds_published_in_the_schema(world: AdminWorld) -> None:
    """No whole-number setting of a tenant or of the self-recovery flow is unbounded; the OpenAPI schema says the bounds."""
    fields = _int_fields(TenantConfig) + [(f"flows.self-recovery.settings.{n}", f) for n, f in _int_fields(SelfRecoveryConfig)]
    assert len(fields) >= 15
    for name, f in fields:
        bounds = bounds_of(f)
        assert bounds is not None, f"{name} has no bounds"
        assert 0 <= bounds[0] <= f.default <= bounds[1], name
    schema = world.document["components"]["schemas"]["TenantConfigPatch"]["properties"]["sms"]["properties"]["per_number_daily_cap"]
    assert schema["minimum"] == 1 and schema["maximum"] == 100


def test_a_stored_value_out_of_todays_bounds_is_named_and_can_be_repaired(world: AdminWorld) -> None:
    """A configuration saved before the bounds existed keeps loading (the tenant works as before); a PATCH of
    another field is refused naming the bad one; the PATCH that brings it back within bounds is accepted."""
    acme = world.tenant()
    token = world.service_token(acme)
    with world.services.db.session() as s:
        row = s.scalar(select(Tenant).where(Tenant.slug == acme.slug))
        row.config = {**row.config, "sms": {**row.config["sms"], "per_number_daily_cap": -1}}
    world.services.tenants.invalidate(acme.slug)
    assert world.services.tenants.require(acme.slug).config.sms.per_number_daily_cap == -1
    token = world.service_token(acme)  # the tenant still issues tokens
    r = world.call("PATCH", f"/admin/realms/{acme.slug}/config", token, json={"mfa": {"policy": "required"}})
    assert r.status_code == 422 and r.json()["field"] == "sms.per_number_daily_cap"
    r = world.call("PATCH", f"/admin/realms/{acme.slug}/config", token, json={"sms": {"per_number_daily_cap": 5}})
    assert r.status_code == 200 and r.json()["config"]["sms"]["per_number_daily_cap"] == 5
