"""The announcement's onboarding in the console (issue 16, item 2): a platform administrator creating a
tenant is asked whether to enable self-recovery when the set-up is compatible; an existing (legacy)
tenant sees the migration step first, then enables self-recovery now or from a date agreed with the
customer, which turns it on by itself when that moment has passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conftest import random_slug

from admin.console_support import console_session, field_error, text
from admin.support import AdminWorld


def test_a_new_compatible_tenant_is_offered_self_recovery(world: AdminWorld) -> None:
    console = console_session(world, world.master)
    slug = random_slug("new")
    asked = console.post("tenants", {"slug": slug, "display_name": "New Co", "experience": "v2"})
    assert asked.status_code == 200
    assert "Account self-recovery is compatible with this set-up. Enable it now?" in text(asked)
    assert world.services.tenants.get(slug) is None  # nothing written before the answer
    created = console.post("tenants", {"step": "create", "slug": slug, "display_name": "New Co", "experience": "v2", "self_recovery": "yes"})
    assert created.status_code == 303
    tenant = world.services.tenants.require(slug)
    assert tenant.display_name == "New Co" and tenant.flow_live("self-recovery")
    event = world.services.audit.query(tenant.id, type="tenant.created", limit=1)[0]
    assert event.actor == "admin:master/admin" and event.details["flows"] == ["self-recovery"]
    listed = console.get("tenants?done=tenant_created")
    assert "The tenant was created." in listed.text and f'id="tenant-{slug}"' in listed.text

    other = random_slug("new")
    console.post("tenants", {"step": "create", "slug": other, "experience": "v2", "self_recovery": "no"})
    assert not world.services.tenants.require(other).config.flow("self-recovery").enabled


def test_a_new_legacy_tenant_is_told_why_not_and_created_without_it(world: AdminWorld) -> None:
    console = console_session(world, world.master, "fr")
    slug = random_slug("old")
    asked = console.post("tenants", {"slug": slug, "experience": "legacy"})
    page = text(asked)
    assert "ne peut pas encore être activée" in page and "le tenant utilise l'ancienne expérience de connexion : migrez-le d'abord" in page
    assert 'name="self_recovery"' not in asked.text
    assert console.post("tenants", {"step": "create", "slug": slug, "experience": "legacy", "self_recovery": "yes"}).status_code == 409
    assert world.services.tenants.get(slug) is None  # refused as a whole: nothing half-created
    assert console.post("tenants", {"step": "create", "slug": slug, "experience": "legacy"}).status_code == 303
    assert world.services.tenants.require(slug).experience == "legacy"


def test_a_bad_or_taken_tenant_name_is_named_next_to_its_field(world: AdminWorld) -> None:
    console = console_session(world, world.master, "fr")
    refused = console.post("tenants", {"slug": "Not Valid", "experience": "v2"})
    assert refused.status_code == 400
    assert field_error(refused, "f-slug") == "not valid n'est pas un nom de tenant valide : utilisez des minuscules, des chiffres et des tirets"
    taken = console.post("tenants", {"slug": "master", "experience": "v2"})
    assert taken.status_code == 409 and field_error(taken, "f-slug") == "master existe déjà"


def test_only_platform_administrators_see_and_create_tenants(world: AdminWorld) -> None:
    """R-44: a tenant admin gets the refusal page, and no tenant is created."""
    realm = world.tenant()
    console = console_session(world, realm)
    assert "/tenants" not in console.get("flows").text
    assert console.get("tenants").status_code == 403
    slug = random_slug("nope")
    assert console.post("tenants", {"step": "create", "slug": slug, "experience": "v2"}).status_code == 403
    assert world.services.tenants.get(slug) is None


def test_a_legacy_tenant_migrates_first_then_schedules_an_agreed_date(world: AdminWorld) -> None:
    legacy = world.tenant(experience="legacy")
    tenant_admin = console_session(world, legacy, "en")
    page = text(tenant_admin.get("flows"))
    assert "A platform administrator makes this move: ask your contact." in page
    assert "Available once the tenant has moved to the new login experience." in page
    assert "Schedule" not in page.split('id="step-enable"')[1].split("</li>")[0]

    platform = console_session(world, world.master).at(legacy)
    assert "Migrate to the new login experience" in text(platform.get("flows"))
    assert platform.post("experience", {"experience": "v2"}).status_code == 303
    missing = platform.post("flows/self-recovery", {"action": "schedule", "date": "", "time": ""})
    assert missing.status_code == 422 and "Choose the date agreed with the customer." in text(missing)
    assert 'aria-describedby="schedule-error"' in missing.text

    agreed = (datetime.now(UTC) + timedelta(days=3)).date()
    french = console_session(world, legacy, "fr")
    assert french.post("flows/self-recovery", {"action": "schedule", "date": agreed.isoformat(), "time": "08:30"}).status_code == 303
    binding = world.services.tenants.require(legacy.slug).config.flow("self-recovery")
    assert binding.enabled and binding.enabled_from == f"{agreed.isoformat()}T08:30:00+00:00"
    view = world.services.tenants.require(legacy.slug)
    assert not view.flow_live("self-recovery")  # not before the agreed moment
    assert view.flow_live("self-recovery", now=datetime(agreed.year, agreed.month, agreed.day, 8, 31, tzinfo=UTC))  # by itself after it
    shown = text(french.get("flows"))
    assert f"Programmé à partir du {agreed.isoformat()}T08:30:00+00:00" in shown or agreed.isoformat() in shown.split('id="step-enable"')[1]
    assert "Elle s'activera d'elle-même à ce moment-là." in shown


def test_the_sign_in_flow_offers_no_disable_button_and_the_others_do(world: AdminWorld) -> None:
    """The service refuses to disable a flow designated ``login`` (users would have no way to sign in):
    the flows page does not offer it, and offers it for an enabled flow of any other designation."""
    realm = world.tenant()
    world.services.tenants.enable_flow(realm.slug, "self-recovery")
    page = console_session(world, realm).get("flows").text
    login_row = page.split('id="flow-browser-login"', 1)[1].split("</tr>", 1)[0]
    recovery_row = page.split('id="flow-self-recovery"', 1)[1].split("</tr>", 1)[0]
    assert 'value="disable"' not in login_row and "Enabled" in login_row
    assert 'value="disable"' in recovery_row
