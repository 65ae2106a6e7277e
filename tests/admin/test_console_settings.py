"""The console's settings forms (issue 16, item 1): every part of the configuration without JSON,
saved through the same validation as the admin API's PATCH, refusals shown next to their field in
the page's language, and nothing saved when a value is refused."""

from __future__ import annotations

import pytest
import requests

from admin.console_support import console_session, field_error, text
from admin.support import AdminWorld

SECTIONS = {
    "branding": ("Display name", "Nom affiché"),
    "sign-in": ("Second factor", "Second facteur"),
    "passwords": ("Minimum length", "Longueur minimale"),
    "sms": ("Codes for the whole tenant per day", "Codes pour tout le tenant par jour"),
    "mail": ("Sender address", "Adresse d'expédition"),
    "tokens": ("Access token lifetime", "Durée de vie du jeton d'accès"),
    "self-recovery": ("Link lifetime", "Durée de vie du lien"),
}


@pytest.mark.parametrize("section", sorted(SECTIONS))
def test_every_settings_page_shows_its_form_in_english_and_french(world: AdminWorld, section: str) -> None:
    realm = world.tenant()
    for lang, label in zip(("en", "fr"), SECTIONS[section]):
        page = console_session(world, realm, lang).get(f"settings/{section}")
        assert page.status_code == 200
        assert f'<html lang="{lang}">' in page.text
        assert f">{label}</label>" in text(page)
        assert "JSON" not in page.text


def test_branding_is_saved_like_the_api_patch_and_audited(world: AdminWorld) -> None:
    realm = world.tenant()
    console = console_session(world, realm)
    form = {
        "branding.display_name": "ACME Corp",
        "branding.logo_url": "https://cdn.example.com/acme.png",
        "branding.primary_color": "#112233",
        "branding.support_url": "mailto:help@example.com",
    }
    saved = console.post("settings/branding", form)
    assert saved.status_code == 303 and saved.headers["Location"].endswith("/settings/branding?done=saved")
    branding = world.services.tenants.require(realm.slug).config.branding
    assert (branding.display_name, branding.logo_url, branding.primary_color, branding.support_url) == (
        "ACME Corp", "https://cdn.example.com/acme.png", "#112233", "mailto:help@example.com",
    )
    event = world.services.audit.query(realm.tenant.id, type="tenant.config_updated", limit=1)[0]
    assert event.actor == f"admin:{realm.slug}/admin"
    assert set(event.details["fields"]) == {"branding.display_name", "branding.logo_url", "branding.primary_color", "branding.support_url"}
    page = console.get("settings/branding?done=saved")
    assert "Saved." in page.text and 'value="ACME Corp"' in page.text


@pytest.mark.parametrize(
    ("lang", "message"),
    [("en", "must be an https URL"), ("fr", "doit être une adresse https")],
)
def test_a_refused_value_is_named_next_to_its_field_in_the_page_language(world: AdminWorld, lang: str, message: str) -> None:
    realm = world.tenant()
    before = world.services.tenants.require(realm.slug).revision
    console = console_session(world, realm, lang)
    refused = console.post("settings/branding", {"branding.display_name": "New name", "branding.logo_url": "http://insecure.example.com/logo.png", "branding.primary_color": "#1f4fd1"})
    assert refused.status_code == 422
    assert field_error(refused, "f-branding-logo_url") == message
    assert 'value="New name"' in refused.text and 'value="http://insecure.example.com/logo.png"' in refused.text  # what was typed stays
    after = world.services.tenants.require(realm.slug)
    assert after.revision == before and after.config.branding.display_name == ""  # nothing half-saved
    api = world.call("PATCH", f"/admin/realms/{realm.slug}/config", world.service_token(realm), json={"branding": {"logo_url": "http://insecure.example.com/logo.png"}})
    assert api.status_code == 422 and api.json()["field"] == "branding.logo_url"  # the same rule, the same field


def test_sms_caps_and_settings(world: AdminWorld) -> None:
    realm = world.tenant()
    console = console_session(world, realm, "fr")
    form = {
        "sms.allowed_as_second_factor": "on",
        "sms.sender_id": "ACME",
        "sms.allowed_country_codes": "33, 32 41",
        "sms.per_number_daily_cap": "3",
        "sms.per_account_daily_cap": "4",
        "sms.per_tenant_daily_cap": "many",
        "sms.resend_cooldown": "30",
        "sms.code_ttl": "300",
        "sms.max_attempts": "5",
    }
    refused = console.post("settings/sms", form)
    assert refused.status_code == 422
    assert field_error(refused, "f-sms-per_tenant_daily_cap") == "doit être un nombre entier"
    assert world.services.tenants.require(realm.slug).config.sms.per_number_daily_cap == 10
    saved = console.post("settings/sms", {**form, "sms.per_tenant_daily_cap": "200", "sms.allowed_as_second_factor": ""})
    assert saved.status_code == 303
    sms = world.services.tenants.require(realm.slug).config.sms
    assert (sms.sender_id, sms.allowed_country_codes, sms.per_number_daily_cap, sms.per_tenant_daily_cap) == ("ACME", ("33", "32", "41"), 3, 200)
    assert sms.allowed_as_second_factor is False
    refused = console.post("settings/sms", {**form, "sms.per_tenant_daily_cap": "200", "sms.code_ttl": "900"})
    assert field_error(refused, "f-sms-code_ttl") == "doit être compris entre 1 et 600 secondes"


def test_mfa_policy_and_password_policy(world: AdminWorld) -> None:
    realm = world.tenant()
    console = console_session(world, realm)
    assert console.post("settings/sign-in", {"mfa.policy": "required", "default_locale": "fr", "local_passwords": "on"}).status_code == 303
    config = world.services.tenants.require(realm.slug).config
    assert (config.mfa.policy, config.default_locale, config.local_passwords) == ("required", "fr", True)
    refused = console.post("settings/passwords", {"passwords.min_length": "6", "passwords.max_length": "128"})
    assert refused.status_code == 422 and field_error(refused, "f-passwords-min_length") == "must be between 8 and 1024 characters"
    assert console.post("settings/passwords", {"passwords.min_length": "14", "passwords.max_length": "64"}).status_code == 303
    assert world.services.tenants.require(realm.slug).config.passwords.min_length == 14


def test_self_recovery_settings(world: AdminWorld) -> None:
    realm = world.tenant()
    console = console_session(world, realm)
    page = console.get("settings/self-recovery")
    assert 'value="300"' in page.text and 'value="password, sms, totp-setup, passkey-setup"' in page.text  # the flow's defaults
    prefix = "flows.self-recovery.settings."
    form = {
        f"{prefix}link_ttl": "600",
        f"{prefix}offer_password_reset": "on",
        f"{prefix}offer_second_factor_reset": "on",
        f"{prefix}second_factor_path": "password, sms, totp-setup, passkey-setup",
        f"{prefix}password_path": "new-password",
        f"{prefix}app_store_url": "https://apps.apple.com/app/id1",
        f"{prefix}play_store_url": "",
        f"{prefix}authenticator_name": "TrustID",
        f"{prefix}max_requests_per_login_per_hour": "5",
        f"{prefix}max_requests_per_ip_per_hour": "30",
    }
    refused = console.post("settings/self-recovery", form)
    assert refused.status_code == 422
    assert field_error(refused, "f-flows-self-recovery-settings-password_path").startswith("replaces the password without proving")
    default_password_path = "verify-passkey, verify-totp, verify-sms, verify-recovery-code, new-password"
    assert f'value="{default_password_path}"' in page.text
    refused = console.post("settings/self-recovery", {**form, f"{prefix}password_path": default_password_path, f"{prefix}link_ttl": "5"})
    assert field_error(refused, "f-flows-self-recovery-settings-link_ttl") == "must be between 60 and 86400 seconds"
    saved = console.post("settings/self-recovery", {**form, f"{prefix}password_path": default_password_path})
    assert saved.status_code == 303
    settings = world.services.tenants.require(realm.slug).config.flow("self-recovery").settings
    assert settings == {"link_ttl": 600, "app_store_url": "https://apps.apple.com/app/id1", "authenticator_name": "TrustID"}  # only what changed
    # issue 14: a passkey alone may be the password path's proof of a second factor
    saved = console.post("settings/self-recovery", {**form, f"{prefix}password_path": "verify-passkey, new-password"})
    assert saved.status_code == 303
    assert world.services.tenants.require(realm.slug).config.flow("self-recovery").settings["password_path"] == ["verify-passkey", "new-password"]


def test_settings_forms_need_the_csrf_token(world: AdminWorld) -> None:
    """R-42: a form posted without this browser's token changes nothing."""
    realm = world.tenant()
    console = console_session(world, realm)
    refused = console.post("settings/passwords", {"passwords.min_length": "20", "passwords.max_length": "128"}, csrf=False)
    assert refused.status_code == 400
    assert world.services.tenants.require(realm.slug).config.passwords.min_length == 12


def test_settings_are_closed_to_other_tenants_admins(world: AdminWorld) -> None:
    """R-44: an admin of A is sent to sign in at B, and B's settings are unchanged."""
    a, b = world.tenant(), world.tenant()
    console = console_session(world, a)
    response = console.http.post(f"{world.server.url}/admin/console/realms/{b.slug}/settings/passwords", data={"csrf_token": console.csrf(), "passwords.min_length": "20"}, allow_redirects=False, timeout=20)
    assert response.status_code == 303 and f"/admin/console/realms/{b.slug}/login" in response.headers["Location"]
    assert world.services.tenants.require(b.slug).config.passwords.min_length == 12


# -- the logo, uploaded or by address ------------------------------------------------------

PNG_LOGO = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a2dd2a8d0000000049454e44ae426082"
)
SVG_LOGO = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><title>ACME</title><rect width="10" height="10" fill="#123456"/></svg>'
BRANDING = {"branding.display_name": "", "branding.logo_url": "", "branding.primary_color": "#1f4fd1", "branding.support_url": ""}


def test_an_uploaded_logo_is_stored_and_served_from_our_origin_with_its_content_type(world: AdminWorld) -> None:
    realm = world.tenant()
    console = console_session(world, realm)
    saved = console.post("settings/branding", BRANDING, files={"branding.logo_file": ("logo.png", PNG_LOGO, "application/octet-stream")})
    assert saved.status_code == 303
    digest = world.services.tenants.require(realm.slug).config.branding.uploaded_logo
    assert len(digest) == 64
    served = requests.get(f"{world.server.url}/realms/{realm.slug}/branding/logo/{digest}", timeout=10)
    assert served.status_code == 200 and served.content == PNG_LOGO
    assert served.headers["Content-Type"] == "image/png" and served.headers["X-Content-Type-Options"] == "nosniff"
    login = requests.get(f"{world.server.url}/realms/{realm.slug}/login", timeout=10)
    assert f'src="/realms/{realm.slug}/branding/logo/{digest}"' in login.text  # the hosted pages show it
    # an SVG with nothing active replaces it; the PNG is no longer served
    assert console.post("settings/branding", BRANDING, files={"branding.logo_file": ("logo.svg", SVG_LOGO, "image/svg+xml")}).status_code == 303
    svg_digest = world.services.tenants.require(realm.slug).config.branding.uploaded_logo
    served = requests.get(f"{world.server.url}/realms/{realm.slug}/branding/logo/{svg_digest}", timeout=10)
    assert served.headers["Content-Type"].startswith("image/svg+xml") and "script-src" not in served.headers["Content-Security-Policy"]
    assert "default-src 'none'" in served.headers["Content-Security-Policy"]
    assert requests.get(f"{world.server.url}/realms/{realm.slug}/branding/logo/{digest}", timeout=10).status_code == 404
    # another tenant's address for it finds nothing
    other = world.tenant()
    assert requests.get(f"{world.server.url}/realms/{other.slug}/branding/logo/{svg_digest}", timeout=10).status_code == 404
    # a logo address replaces the upload; "remove" clears both
    assert console.post("settings/branding", {**BRANDING, "branding.logo_url": "https://cdn.example.com/l.png"}).status_code == 303
    branding = world.services.tenants.require(realm.slug).config.branding
    assert (branding.uploaded_logo, branding.logo_url) == ("", "https://cdn.example.com/l.png")
    assert console.post("settings/branding", {**BRANDING, "branding.logo_url": "https://cdn.example.com/l.png", "branding.remove_logo": "on"}).status_code == 303
    branding = world.services.tenants.require(realm.slug).config.branding
    assert (branding.uploaded_logo, branding.logo_url) == ("", "")


@pytest.mark.parametrize(
    ("content", "lang", "message"),
    [
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "en", "an SVG logo may not contain <script>"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="1" height="1"/></svg>', "en", "an SVG logo may not carry the attribute onload"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><p xmlns="http://www.w3.org/1999/xhtml">x</p></foreignObject></svg>', "fr", "un logo SVG ne peut pas contenir <foreignObject>"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:x="http://www.w3.org/1999/xlink"><use x:href="https://evil.example/a.svg#x"/></svg>', "en", "an SVG logo may only link inside itself"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><rect style="fill:url(https://evil.example/t)" width="1" height="1"/></svg>', "en", "an SVG logo may not carry the attribute style"),
        # a link the parser drops or CSS spells another way (review findings): still refused
        (b'<?xml version="1.0"?><?xml-stylesheet href="https://evil.example/s.css"?><svg xmlns="http://www.w3.org/2000/svg"/>', "en", "an SVG logo may only link inside itself"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><rect fill="u\\72l(https://evil.example/t)" width="1" height="1"/></svg>', "en", "an SVG logo may only link inside itself"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><rect fill="image-set(\'https://evil.example/t\')" width="1" height="1"/></svg>', "en", "an SVG logo may only link inside itself"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><desc>' + b"x" * 5000 + b'</desc></svg><!DOCTYPE x>', "en", "must be a PNG, JPEG or SVG image; an SVG may not declare a DOCTYPE or entities"),
        (b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>', "en", "must be a PNG, JPEG or SVG image; an SVG may not declare a DOCTYPE or entities"),
        (b"GIF89a\x01\x00\x01\x00", "fr", "doit être une image PNG, JPEG ou SVG"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * (256 * 1024), "en", "must be at most 256 KB"),
    ],
)
def test_a_refused_logo_is_named_next_to_the_upload_and_changes_nothing(world: AdminWorld, content: bytes, lang: str, message: str) -> None:
    realm = world.tenant()
    console = console_session(world, realm, lang)
    before = world.services.tenants.require(realm.slug).revision
    refused = console.post("settings/branding", {**BRANDING, "branding.display_name": "Changed"}, files={"branding.logo_file": ("logo.svg", content, "image/svg+xml")})
    assert refused.status_code == 422
    assert field_error(refused, "f-branding-logo_file") == message
    after = world.services.tenants.require(realm.slug)
    assert after.revision == before and after.config.branding.display_name == "" and after.config.branding.uploaded_logo == ""
