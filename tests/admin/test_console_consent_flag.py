"""The console's client page sets and clears the consent flag of a client (issue 15 item 3), in FR/EN."""

from __future__ import annotations

import re

from admin.console_support import console_session
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
