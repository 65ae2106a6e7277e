"""The console's client page and signing keys (issue 16, item 1): edit a client through the admin API's
checks (refusals named next to their field, in FR/EN), register, rotate a secret, remove; list and
rotate the tenant's keys."""

from __future__ import annotations

from admin.console_support import console_session, field_error, text
from admin.support import AdminWorld


def test_register_edit_rotate_and_remove_a_client(world: AdminWorld) -> None:
    realm = world.tenant()
    console = console_session(world, realm, "fr")
    created = console.post("clients", {"client_id": "shop", "name": "Shop", "redirect_uris": "https://shop.example.com/cb"})
    assert created.status_code == 201 and 'id="secret"' in created.text  # shown once
    refused = console.post("clients/shop/edit", {"name": "Shop 2", "redirect_uris": "http://shop.example.com/cb", "post_logout_redirect_uris": "", "scope": "openid"})
    assert refused.status_code == 400
    assert field_error(refused, "f-redirect_uris") == "l'URI de redirection http://shop.example.com/cb doit utiliser https (http seulement sur une adresse de bouclage)"
    assert world.services.clients.get(realm.tenant, "shop").name == "Shop"  # nothing saved
    saved = console.post("clients/shop/edit", {"name": "Shop 2", "redirect_uris": "https://shop.example.com/cb\nhttps://shop.example.com/cb2", "post_logout_redirect_uris": "https://shop.example.com/", "scope": "openid email"})
    assert saved.status_code == 303
    client = world.services.clients.get(realm.tenant, "shop")
    assert (client.name, client.redirect_uris, client.post_logout_redirect_uris, client.scope) == (
        "Shop 2", ("https://shop.example.com/cb", "https://shop.example.com/cb2"), ("https://shop.example.com/",), "openid email",
    )
    event = world.services.audit.query(realm.tenant.id, type="admin.client_updated", limit=1)[0]
    assert event.actor == f"admin:{realm.slug}/admin" and event.details["client_id"] == "shop"
    rotated = console.post("clients/shop", {"action": "rotate"})
    assert rotated.status_code == 200 and 'id="secret"' in rotated.text
    assert console.post("clients/shop", {"action": "delete"}).status_code == 303
    assert world.services.clients.get(realm.tenant, "shop") is None
    assert console.get("clients/admin-console").status_code == 404  # the console's own client is not edited here


def test_keys_are_listed_and_rotated(world: AdminWorld) -> None:
    realm = world.tenant()
    console = console_session(world, realm)
    before = world.services.keys.list(realm.tenant)
    page = console.get("keys")
    assert before[0].kid in page.text and "Signing" in text(page)
    assert console.post("keys").status_code == 303
    after = world.services.keys.list(realm.tenant)
    assert len(after) == len(before) + 1 and after[0].status() == "pending"
    assert "Published, not signing yet" in text(console.get("keys?done=key_rotated"))
    assert world.services.audit.query(realm.tenant.id, type="admin.key_rotated", limit=1)[0].details["kid"] == after[0].kid


def test_the_statistics_count_the_support_tickets_saved(world: AdminWorld) -> None:
    realm = world.tenant()
    plain = realm.users["plain"]
    for _ in range(2):
        world.services.audit.record(realm.tenant.id, "recovery.completed", user_id=plain.id)
    page = text(console_session(world, realm, "fr").get("stats"))
    assert "2 tickets de support évités sur cette période." in page
    assert "<svg" in page and 'id="recovery-chart"' in page
