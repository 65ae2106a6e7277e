"""The admin console in Chromium: a tenant admin signs in through the tenant itself (code flow with
PKCE, password then TOTP), enables self-recovery, sees the refusal on a legacy tenant, resets a
user's factors, and sees the statistics chart. No JavaScript is needed by the pages."""

from __future__ import annotations

from typing import Any

import pyotp
from playwright.sync_api import expect

from admin.support import PASSWORD, AdminWorld, Realm

LABELS = {
    "en": ("Username or email", "Password", "Sign in", "Code", "Continue"),
    "fr": ("Utilisateur ou e-mail", "Mot de passe", "S'authentifier", "Code", "Continuer"),
}


def _with_totp(world: AdminWorld, realm: Realm) -> pyotp.TOTP:
    secret = pyotp.random_base32()
    world.services.factors.add_totp(realm.tenant, realm.users["admin"], secret)
    return pyotp.TOTP(secret)


def sign_in(world: AdminWorld, page: Any, realm: Realm, totp: pyotp.TOTP, lang: str) -> None:
    user_label, password_label, button, code_label, go = LABELS[lang]
    page.goto(f"{world.server.url}/admin/console/realms/{realm.slug}/flows")
    assert page.url.startswith(f"{world.server.url}/realms/{realm.slug}/")  # the tenant's own sign-in pages
    page.get_by_label(user_label).fill("admin")
    page.get_by_label(password_label).fill(PASSWORD)
    page.get_by_role("button", name=button, exact=True).click()
    page.get_by_label(code_label).fill(totp.now())
    page.get_by_role("button", name=go, exact=True).click()
    page.wait_for_url(f"{world.server.url}/admin/console/realms/{realm.slug}/flows*")


def test_console_in_english_enable_recovery_reset_factors_and_chart(world: AdminWorld, new_page: Any) -> None:
    acme = world.tenant()
    totp = _with_totp(world, acme)
    plain = acme.users["plain"]
    world.services.factors.add_totp(acme.tenant, plain, pyotp.random_base32())
    page = new_page("en-US")
    sign_in(world, page, acme, totp, "en")
    assert page.locator("html").get_attribute("lang") == "en"
    row = page.locator("#flow-self-recovery")
    assert row.locator(".state").inner_text().strip() == "Disabled"
    row.get_by_role("button", name="Enable").click()
    assert page.get_by_role("status").inner_text() == "Saved."
    assert page.locator("#flow-self-recovery .state").inner_text().strip() == "Enabled"
    assert world.services.tenants.require(acme.slug).flow_live("self-recovery")

    page.get_by_role("link", name="Users").click()
    page.get_by_label("Username or email").fill("plain")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="plain").click()
    expect(page.locator("#factors tbody tr")).to_have_count(1)
    page.get_by_role("button", name="Reset second factors").click()
    assert "second factors were removed" in page.get_by_role("status").inner_text()
    assert page.locator("#factors").inner_text() == "No second factor."
    assert world.services.factors.active(acme.tenant, plain) == []

    page.get_by_role("link", name="Audit log", exact=True).click()
    assert "admin.factors_reset" in page.locator("#events").inner_text()
    assert f"admin:{acme.slug}/admin" in page.locator("#events").inner_text()
    world.services.audit.record(acme.tenant.id, "recovery.requested", user_id=plain.id)
    page.get_by_role("link", name="Recovery statistics").click()
    expect(page.locator("svg#recovery-chart")).to_be_visible()
    assert page.locator("svg#recovery-chart rect").count() >= 30 * 3
    assert page.locator("#recovery-table tbody tr").first.locator("td").nth(1).inner_text() == "1"


def test_console_in_french_refuses_self_recovery_on_a_legacy_tenant(world: AdminWorld, new_page: Any) -> None:
    old = world.tenant(experience="legacy")
    totp = _with_totp(world, old)
    page = new_page("fr-FR")
    sign_in(world, page, old, totp, "fr")
    assert page.get_by_role("heading", name="Parcours", exact=True).is_visible()
    row = page.locator("#flow-self-recovery")
    assert "Non compatible" in row.locator(".compatibility").inner_text()
    assert "--experience v2" in row.locator(".compatibility").inner_text()
    assert row.get_by_role("button", name="Migrer").count() == 0  # migration is the platform's decision
    response = None
    with page.expect_response(lambda r: r.request.method == "POST") as info:
        row.get_by_role("button", name="Activer").click()
    response = info.value
    assert response.status == 409
    refusal = page.locator("#refusal").inner_text()
    assert "La modification a été refusée" in refusal and "migrez-le d'abord" in refusal
    assert not world.services.tenants.require(old.slug).config.flow("self-recovery").enabled


def test_console_is_closed_to_a_non_admin_and_to_other_tenants(world: AdminWorld, new_page: Any) -> None:
    a, b = world.tenant(), world.tenant()
    totp = _with_totp(world, a)
    page = new_page("en-US")
    sign_in(world, page, a, totp, "en")
    page.goto(f"{world.server.url}/admin/console/realms/{b.slug}/users")
    assert page.url.startswith(f"{world.server.url}/realms/{b.slug}/")  # sent to sign in at B, shown nothing of B
    world.services.users.update(a.tenant, a.users["admin"], roles=[])
    response = page.goto(f"{world.server.url}/admin/console/realms/{a.slug}/users")
    assert response is not None and response.status == 403
    assert page.get_by_role("heading", name="Access denied").is_visible()


def test_console_forms_need_the_csrf_token(world: AdminWorld, new_page: Any) -> None:
    acme = world.tenant()
    totp = _with_totp(world, acme)
    page = new_page("en-US")
    sign_in(world, page, acme, totp, "en")
    r = page.request.post(f"{world.server.url}/admin/console/realms/{acme.slug}/flows/self-recovery", form={"action": "enable"})
    assert r.status == 400
    assert not world.services.tenants.require(acme.slug).config.flow("self-recovery").enabled
