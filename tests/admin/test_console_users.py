"""The console's user pages (issue 16, item 1): create, edit, roles, password, factors, sessions and
disable, through the same actions as the admin API; refusals named next to their field in FR/EN;
and the audit log naming the user and the actor, with its filters."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from admin.console_support import console_session, field_error, text
from admin.support import PASSWORD, AdminWorld

NEW_USER = {
    "username": "carol",
    "email": "Carol@Example.com",
    "email_verified": "on",
    "phone": "+33611223344",
    "given_name": "Carol",
    "family_name": "Martin",
    "locale": "fr",
    "password": "a long enough passphrase",
    "roles": "tenant-admin",
}


def test_a_tenant_admin_creates_a_user_with_a_role_and_edits_it(world: AdminWorld) -> None:
    realm = world.tenant()
    console = console_session(world, realm)
    created = console.post("users", NEW_USER)
    assert created.status_code == 303
    carol = world.services.users.by_username(realm.tenant, "carol")
    assert created.headers["Location"].endswith(f"/users/{carol.sub}?done=created")
    # the address as typed, its domain in lower case (compared case-insensitively, issue 12)
    assert (carol.email, carol.email_verified, carol.phone, carol.locale, carol.roles) == ("Carol@example.com", True, "+33611223344", "fr", ["tenant-admin"])
    assert world.services.users.verify_password(carol, "a long enough passphrase")
    page = console.get(f"users/{carol.sub}?done=created")
    assert "The user was created." in page.text and 'value="Carol@example.com"' in page.text
    event = world.services.audit.query(realm.tenant.id, type="admin.user_created", limit=1)[0]
    assert event.user_id == carol.id and event.actor == f"admin:{realm.slug}/admin"

    saved = console.post(f"users/{carol.sub}/profile", {"email": "carol@example.org", "phone": "", "given_name": "Caroline", "family_name": "Martin", "locale": ""})
    assert saved.status_code == 303
    carol = world.services.users.by_username(realm.tenant, "carol")
    assert (carol.email, carol.email_verified, carol.phone, carol.given_name, carol.locale) == ("carol@example.org", False, None, "Caroline", None)
    event = world.services.audit.query(realm.tenant.id, type="admin.user_updated", limit=1)[0]
    assert set(event.details["fields"]) == {"email", "email_verified", "phone", "given_name", "locale"}  # only what changed

    assert console.post(f"users/{carol.sub}/roles", {}).status_code == 303
    assert world.services.users.by_username(realm.tenant, "carol").roles == []


@pytest.mark.parametrize(
    ("lang", "form", "input_id", "message"),
    [
        ("en", {"username": "has space"}, "f-username", "has space is not a valid username: it cannot contain spaces"),
        ("fr", {"username": "t\u0430ken"}, "f-username", "t\u0430ken n'est pas un identifiant valide\u00a0: il ne peut pas mêler des lettres de plusieurs écritures (par exemple latines et cyrilliques)"),
        ("fr", {"username": "dave", "email": "not-an-email"}, "f-email", "not-an-email n'est pas une adresse e-mail valide"),
        ("fr", {"username": "dave", "phone": "12"}, "f-phone", "12 n'est pas un numéro de téléphone : utilisez la forme internationale, par exemple +33612345678"),
        ("en", {"username": "plain"}, "f-username", "plain is already taken"),
        ("fr", {"username": "dave", "password": "short"}, "f-password", "doit compter au moins 12 caractères"),
        ("en", {"username": "dave", "password": "012345678910"}, "f-password", "This password is too common or appeared in a data breach. Choose another."),
        ("en", {"username": "dave", "roles": "platform-admin"}, "f-roles", "only platform administrators may grant platform-admin, in the master tenant"),
    ],
)
def test_a_refused_user_is_named_next_to_its_field_and_not_created(world: AdminWorld, lang: str, form: dict[str, str], input_id: str, message: str) -> None:
    realm = world.tenant()
    console = console_session(world, realm, lang)
    refused = console.post("users", form)
    assert refused.status_code in (400, 403, 409, 422)  # the admin API's status for the same refusal
    if input_id == "f-roles":
        assert re.search(r'id="f-roles-error">([^<]*)<', refused.text).group(1) == message  # type: ignore[union-attr]
        assert 'aria-describedby="f-roles-error"' in refused.text
    else:
        assert field_error(refused, input_id) == message
    assert 'value="dave"' in refused.text or form["username"] != "dave"  # what was typed stays
    _, total = world.services.users.search(realm.tenant, "dave")
    assert total == 0


def test_a_platform_admin_grants_platform_admin_in_master_only(world: AdminWorld) -> None:
    master_console = console_session(world, world.master)
    assert 'value="platform-admin"' in master_console.get("users").text
    target = world.services.users.create(world.master.tenant, f"ops-{pyotp.random_base32()[:6].lower()}", PASSWORD)
    assert master_console.post(f"users/{target.sub}/roles", {"roles": ["platform-admin", "tenant-admin"]}).status_code == 303
    assert world.services.users.by_sub(world.master.tenant, target.sub).roles == ["platform-admin", "tenant-admin"]
    realm = world.tenant()
    console = console_session(world, realm)
    assert 'value="platform-admin"' not in console.get("users").text  # not offered to a tenant admin
    plain = realm.users["plain"]
    refused = console.post(f"users/{plain.sub}/roles", {"roles": "platform-admin"})
    assert refused.status_code == 403
    assert world.services.users.by_sub(realm.tenant, plain.sub).roles == []


def test_password_factors_sessions_and_disabling(world: AdminWorld) -> None:
    realm = world.tenant()
    victim = realm.users["victim"]
    console = console_session(world, realm, "fr")
    refused = console.post(f"users/{victim.sub}/password", {"password": "short"})
    assert refused.status_code in (400, 422) and field_error(refused, "f-password") == "doit compter au moins 12 caractères"
    assert console.post(f"users/{victim.sub}/password", {"password": "another long passphrase"}).status_code == 303
    assert world.services.users.verify_password(world.services.users.by_sub(realm.tenant, victim.sub), "another long passphrase")

    totp, _ = world.services.factors.add_totp(realm.tenant, victim, pyotp.random_base32())
    page = console.get(f"users/{victim.sub}")
    assert f"/factors/{totp.id}" in page.text
    assert console.post(f"users/{victim.sub}/factors/{totp.id}").status_code == 303
    assert world.services.factors.active(realm.tenant, victim) == []
    page = console.get(f"users/{victim.sub}?done=factor_removed")
    assert "Le second facteur a été supprimé." in text(page) and f"admin:{realm.slug}/admin" in page.text  # history names who removed it

    sso = world.services.sessions.establish(realm.tenant, victim.id, ["pwd"], "urn:idp:acr:pwd")
    assert console.post(f"users/{victim.sub}", {"action": "sessions_revoked"}).status_code == 303
    assert world.services.sessions.find(realm.tenant, sso.token) is None
    assert console.post(f"users/{victim.sub}", {"action": "disabled"}).status_code == 303
    assert world.services.users.by_sub(realm.tenant, victim.sub).status == "disabled"
    assert "Désactivé" in text(console.get(f"users/{victim.sub}"))
    assert console.post(f"users/{victim.sub}", {"action": "enabled"}).status_code == 303
    assert world.services.users.by_sub(realm.tenant, victim.sub).status == "active"


def test_a_tenant_admin_cannot_touch_another_tenants_user(world: AdminWorld) -> None:
    """R-44: a subject of tenant B is unknown in tenant A's console."""
    a, b = world.tenant(), world.tenant()
    console = console_session(world, a)
    other = b.users["plain"]
    assert console.get(f"users/{other.sub}").status_code == 404
    assert console.post(f"users/{other.sub}", {"action": "disabled"}).status_code == 404
    assert world.services.users.by_sub(b.tenant, other.sub).status == "active"


def test_the_audit_log_names_user_and_actor_and_filters(world: AdminWorld) -> None:
    realm = world.tenant()
    console = console_session(world, realm, "en")
    plain, victim = realm.users["plain"], realm.users["victim"]
    console.post(f"users/{plain.sub}", {"action": "unlock"})
    console.post(f"users/{victim.sub}", {"action": "sessions_revoked"})
    old = datetime.now(UTC) - timedelta(days=10)
    world.services.audit.record(realm.tenant.id, "recovery.requested", user_id=victim.id)
    with world.services.db.session() as s:  # an event from ten days ago
        from idp.storage.models import AuditEvent

        s.add(AuditEvent(tenant_id=realm.tenant.id, type="recovery.completed", user_id=victim.id, actor="", details={}, created_at=old))

    page = console.get("events")
    rows = re.findall(r'<td class="event-user">(.*?)</td>\s*<td class="event-actor">(.*?)</td>', page.text, re.S)
    assert any("plain" in user and f"admin:{realm.slug}/admin" in actor for user, actor in rows)
    by_user = console.get("events", params={"user": "victim@example.com"}).text.split('id="events"')[1]
    assert "admin.sessions_revoked" in by_user and "admin.user_unlocked" not in by_user
    by_type = console.get("events", params={"user": "victim", "type": "recovery.requested"})
    assert "recovery.requested" in by_type.text and "admin.sessions_revoked" not in by_type.text.split('id="events"')[1]
    today = datetime.now(UTC).date().isoformat()
    recent = console.get("events", params={"user": "victim", "from": today, "to": today})
    assert "recovery.completed" not in recent.text.split('id="events"')[1]
    back_then = console.get("events", params={"from": old.date().isoformat(), "to": old.date().isoformat()})
    assert "recovery.completed" in back_then.text.split('id="events"')[1] and "admin.sessions_revoked" not in back_then.text.split('id="events"')[1]
    unknown = console.get("events", params={"user": "nobody"})
    assert "No user of this tenant has this username, email or ID." in text(unknown)
    bad = console.get("events", params={"from": "yesterday"})
    assert bad.status_code == 422 and "must be a date (YYYY-MM-DD)" in bad.text
    # R-45: the ends of the calendar are dates like any other, never a 500
    whole = console.get("events", params={"from": "0001-01-01", "to": "9999-12-31"})
    assert whole.status_code == 200 and "recovery.completed" in whole.text.split('id="events"')[1]
