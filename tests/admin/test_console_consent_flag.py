"""The console and consents (issue 15 item 3), in FR/EN: the client page sets and clears the consent flag of a client;
the user page lists the user's consents and revokes one."""

from __future__ import annotations

import re

from admin.console_support import console_session, text
from admin.support import AdminWorld

FORM = {"name": "Shop", "redirect_uris": "https://shop.example.com/cb", "post_logout_redirect_uris": "", "scope": "openid email"}


def test_the_consent_flag_is_a_labelled_check_box(world: AdminWorld) -> None:
    realm = world.tenant()
    world.services.clients.create(realm.tenant, "shop", ["https://shop.example.com/cb"], name="Shop", scope="openid email")
    for lang, label in (("fr", "Client tiers : demander le consentement des utilisateurs"), ("en", "Third-party client: ask users to consent")):
        page = console_session(world, realm, lang).get("clients/shop")
        assert page.status_code == 200
        assert re.search(r'<input type="checkbox" id="(f-consent_required)" name="consent_required"[^>]*>\s*<label for="\1">' + re.escape(label) + "</label>", page.text.replace("&#39;", "'")), page.text
    console = console_session(world, realm, "en")
    assert console.post("clients/shop/edit", {**FORM, "consent_required": "on"}).status_code == 303
    assert world.services.clients.get(realm.tenant, "shop").consent_required is True
    assert 'name="consent_required" checked' in console.get("clients/shop").text
    assert console.post("clients/shop/edit", FORM).status_code == 303  # unticked
    assert world.services.clients.get(realm.tenant, "shop").consent_required is False


def test_the_user_page_lists_consents_and_revokes_one(world: AdminWorld) -> None:
    """R-76: an administrator reviews a user's consents on the user's page and revokes one (the admin API's rule and
    audit); a second revocation of the same consent is a readable refusal in the page's language."""
    realm = world.tenant()
    s = world.services
    plain = realm.users["plain"]
    s.clients.create(realm.tenant, "partner", ["https://partner.example.com/cb"], name="Partner Photos", consent_required=True)
    console = console_session(world, realm, "fr")
    assert "Aucun consentement à une application tierce." in text(console.get(f"users/{plain.sub}"))
    s.consents.grant(realm.tenant, plain.id, "partner", ["openid", "email"])
    page = console.get(f"users/{plain.sub}")
    assert page.status_code == 200
    row = re.search(r'<table id="consents"[^>]*>.*?</table>', page.text, re.S)
    assert row is not None and "Partner Photos" in row.group(0) and "openid email" in row.group(0)
    assert 'aria-label="Retirer le consentement à Partner Photos"' in row.group(0)
    revoked = console.post(f"users/{plain.sub}/consents/partner")
    assert revoked.status_code == 303 and "done=consent_revoked" in revoked.headers["Location"]
    assert s.consents.list_for_user(realm.tenant, plain.id) == []
    [event] = s.audit.query(realm.tenant.id, type="consent.revoked")
    assert event.actor == f"admin:{realm.slug}/admin" and event.user_id == plain.id
    again = console.post(f"users/{plain.sub}/consents/partner")
    assert again.status_code == 404 and "Cet utilisateur n'a pas (ou plus) de consentement à cette application." in text(again)
