"""The admin API through real HTTP with tokens from the server itself; every response is checked
against the OpenAPI document (status documented, body matching its schema)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyotp
import requests

from admin.support import PASSWORD, AdminWorld
from idp.storage.models import AuditEvent


def test_config_patch_is_validated_like_a_file_load_and_audited(world: AdminWorld) -> None:
    acme = world.tenant()
    token = world.service_token(acme)
    r = world.call("GET", f"/admin/realms/{acme.slug}", token)
    assert r.status_code == 200 and r.json()["slug"] == acme.slug and r.json()["issuer"] == acme.tenant.issuer
    r = world.call("PATCH", f"/admin/realms/{acme.slug}/config", token, json={"branding": {"primary_color": "#123456"}, "mfa": {"policy": "required"}})
    assert r.status_code == 200, r.text
    assert r.json()["config"]["branding"]["primary_color"] == "#123456"
    for patch, field in (({"tokens": {"code_ttl": 9999}}, "tokens.code_ttl"), ({"branding": {"colour": "red"}}, "branding.colour"), ({"mfa": {"policy": "sometimes"}}, "mfa.policy")):
        r = world.call("PATCH", f"/admin/realms/{acme.slug}/config", token, json=patch)
        assert r.status_code == 422 and r.json()["field"] == field, r.text
    assert world.call("PATCH", f"/admin/realms/{acme.slug}/config", token, data="not json").status_code == 400
    assert world.services.tenants.require(acme.slug).config.mfa.policy == "required"
    assert world.call("GET", f"/admin/realms/{acme.slug}/config", token).json()["mfa"] == {"policy": "required"}
    events = world.call("GET", f"/admin/realms/{acme.slug}/events?type=tenant.config_updated", token).json()["events"]
    assert len(events) == 1 and events[0]["actor"] == f"admin:{acme.slug}/service"
    assert events[0]["details"]["fields"] == ["branding.primary_color", "mfa.policy"]


def test_self_recovery_enable_schedule_disable_and_the_legacy_refusal(world: AdminWorld) -> None:
    new, old = world.tenant(), world.tenant(experience="legacy")
    admin = world.user_token(new)
    flows = {f["name"]: f for f in world.call("GET", f"/admin/realms/{new.slug}/flows", admin).json()["flows"]}
    state = {k: v for k, v in flows["self-recovery"].items() if k not in ("bindings", "own_bindings")}  # bindings: test_flow_bindings_admin.py
    assert state == {"name": "self-recovery", "enabled": False, "enabled_from": None, "live": False, "compatible": True, "reasons": []}
    r = world.call("POST", f"/admin/realms/{new.slug}/flows/self-recovery/enable", admin)
    assert r.status_code == 200 and {f["name"]: f for f in r.json()["flows"]}["self-recovery"]["live"] is True
    later = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0).isoformat()
    r = world.call("POST", f"/admin/realms/{new.slug}/flows/self-recovery/enable", admin, json={"enabled_from": later})
    state = {f["name"]: f for f in r.json()["flows"]}["self-recovery"]
    assert state["enabled"] is True and state["live"] is False and state["enabled_from"] == later
    r = world.call("POST", f"/admin/realms/{new.slug}/flows/self-recovery/enable", admin, json={"enabled_from": "next tuesday"})
    assert r.status_code == 422 and r.json()["field"] == "enabled_from"
    r = world.call("POST", f"/admin/realms/{new.slug}/flows/self-recovery/disable", admin)
    assert {f["name"]: f for f in r.json()["flows"]}["self-recovery"]["enabled"] is False
    assert world.call("POST", f"/admin/realms/{new.slug}/flows/browser-login/disable", admin).status_code == 409
    assert world.call("POST", f"/admin/realms/{new.slug}/flows/nope/enable", admin).status_code == 404
    types = [e["type"] for e in world.call("GET", f"/admin/realms/{new.slug}/events", admin).json()["events"]]
    assert types[:3] == ["tenant.flow_disabled", "tenant.flow_enabled", "tenant.flow_enabled"]

    old_admin = world.user_token(old)
    flows = {f["name"]: f for f in world.call("GET", f"/admin/realms/{old.slug}/flows", old_admin).json()["flows"]}
    assert flows["self-recovery"]["compatible"] is False and "migrate" in flows["self-recovery"]["reasons"][0]
    r = world.call("POST", f"/admin/realms/{old.slug}/flows/self-recovery/enable", old_admin)
    assert r.status_code == 409 and "--experience v2" in r.json()["error"] and r.json()["field"] == "flow"
    assert world.call("POST", f"/admin/realms/{old.slug}/experience", old_admin, json={"experience": "v2"}).status_code == 403
    platform = world.service_token(world.master)
    r = world.call("POST", f"/admin/realms/{old.slug}/experience", platform, json={"experience": "v2"})
    assert r.status_code == 200 and r.json()["experience"] == "v2"
    assert world.call("POST", f"/admin/realms/{old.slug}/flows/self-recovery/enable", platform).status_code == 200
    migrated = world.call("GET", f"/admin/realms/{old.slug}/events?type=tenant.experience_migrated", platform).json()["events"]
    assert migrated[0]["actor"] == "admin:master/service" and migrated[0]["details"] == {"before": "legacy", "after": "v2"}


def test_platform_creates_tenants_offering_self_recovery_under_the_rules(world: AdminWorld) -> None:
    platform = world.user_token(world.master)
    r = world.call("POST", "/admin/realms", platform, json={"slug": "made-v2", "display_name": "Made", "self_recovery": True})
    assert r.status_code == 201, r.text
    assert r.json()["config"]["flows"]["self-recovery"]["enabled"] is True
    r = world.call("POST", "/admin/realms", platform, json={"slug": "made-legacy", "experience": "legacy", "self_recovery": True})
    assert r.status_code == 409 and r.json()["field"] == "self_recovery" and "migrate" in r.json()["error"]
    assert world.services.tenants.get("made-legacy") is None  # nothing written
    r = world.call("POST", "/admin/realms", platform, json={"slug": "made-legacy", "experience": "legacy"})
    assert r.status_code == 201 and r.json()["experience"] == "legacy"
    assert world.call("POST", "/admin/realms", platform, json={"slug": "made-legacy"}).status_code == 409
    r = world.call("POST", "/admin/realms", platform, json={"slug": "Bad Slug"})
    assert r.status_code == 422 and r.json()["field"] == "slug"
    r = world.call("POST", "/admin/realms", platform, json={"slug": "cfg-bad", "config": {"passwords": {"min_length": 4}}})
    assert r.status_code == 422 and r.json()["field"] == "passwords.min_length"
    created = world.call("GET", "/admin/realms/made-v2/events?type=tenant.created", platform).json()["events"]
    assert created[0]["actor"] == "admin:master/admin"


def test_users_lifecycle(world: AdminWorld) -> None:
    acme = world.tenant()
    token = world.user_token(acme)
    base = f"/admin/realms/{acme.slug}/users"
    r = world.call("POST", base, token, json={"username": "bob", "password": PASSWORD, "email": "Bob@Example.com", "phone": "+33612345679", "roles": ["tenant-admin"]})
    assert r.status_code == 201, r.text
    bob = r.json()
    assert bob["email"] == "Bob@example.com" and bob["roles"] == ["tenant-admin"] and "password" not in r.text
    assert world.call("POST", base, token, json={"username": "bob", "password": PASSWORD}).status_code == 409
    r = world.call("POST", base, token, json={"username": "weak", "password": "short"})
    assert r.status_code == 422 and r.json()["field"] == "password"
    r = world.call("POST", base, token, json={"username": 42})
    assert r.status_code == 422 and r.json()["field"] == "username"
    r = world.call("POST", base, token, json={"username": "x", "roles": ["platform-admin"]})
    assert r.status_code == 403 and r.json()["field"] == "roles"
    page = world.call("GET", f"{base}?q=&limit=2&offset=1", token).json()
    assert page["total"] == 4 and [u["username"] for u in page["users"]] == ["bob", "plain"]
    assert [u["username"] for u in world.call("GET", f"{base}?q=BOB", token).json()["users"]] == ["bob"]
    assert world.call("GET", f"{base}?limit=0", token).status_code == 422
    r = world.call("PATCH", f"{base}/{bob['id']}", token, json={"given_name": "Bob", "locale": "fr"})
    assert r.json()["given_name"] == "Bob" and r.json()["locale"] == "fr"
    assert world.call("PATCH", f"{base}/{bob['id']}", token, json={"status": "disabled"}).status_code == 422
    assert world.call("GET", f"{base}/{bob['id']}", token).json()["username"] == "bob"
    assert world.call("GET", f"{base}/no-such-user", token).status_code == 404
    assert world.call("POST", f"{base}/{bob['id']}/password", token, json={"password": "a brand new passphrase 7"}).status_code == 204
    user = world.services.users.by_username(acme.tenant, "bob")
    assert world.services.users.verify_password(user, "a brand new passphrase 7")


def test_an_email_changed_through_the_api_voids_the_recovery_link_and_tells_the_old_address(world: AdminWorld) -> None:
    """R-15, R-29, R-49 (issue 12 item 1): PATCH of the email voids the outstanding recovery link (the user has no
    second factor: that link alone would reset the password) and mails the notice to the OLD address only."""
    from flows.self_recovery.links import RecoveryLinks
    from idp.messaging.outbox import read_outbox

    acme = world.tenant()
    token = world.user_token(acme)
    victim = acme.users["victim"]
    services = world.services
    links = RecoveryLinks(services)
    link = links.issue(acme.tenant, victim.id, 300)  # mailed to the old address, not opened yet
    r = world.call("PATCH", f"/admin/realms/{acme.slug}/users/{victim.sub}", token, json={"email": "Victim.New@Example.com"})
    assert r.status_code == 200
    assert links.redeem(acme.tenant, link) is None
    assert r.json()["email"] == "Victim.New@example.com"  # kept as typed for sending, the domain lower-cased
    outbox = services.settings.outbox_path
    notices = [m for m in read_outbox(outbox, to="victim@example.com", kind="email") if "email address" in m.subject]
    assert notices and "/account/lock?token=" in notices[-1].text
    assert not [m for m in read_outbox(outbox, to="Victim.New@example.com", kind="email") if "email address" in m.subject]


def test_one_identifier_names_one_account_through_the_api(world: AdminWorld) -> None:
    """Issue 12 items 2 and 3: a username equal to another user's email, a case or width variant of a username,
    and a confusable username are refused with a clear error; the accounts stay as they were."""
    acme = world.tenant()
    token = world.user_token(acme)
    base = f"/admin/realms/{acme.slug}/users"
    r = world.call("POST", base, token, json={"username": "Plain@Example.com", "password": PASSWORD})
    assert r.status_code == 409 and r.json()["field"] == "username"
    r = world.call("POST", base, token, json={"username": "\uff30\uff2c\uff21\uff29\uff2e", "password": PASSWORD})  # fullwidth PLAIN
    assert r.status_code == 409 and r.json()["field"] == "username"
    r = world.call("POST", base, token, json={"username": "pl\u0430in2", "password": PASSWORD})  # Cyrillic a
    assert r.status_code == 400 and r.json()["field"] == "username" and "scripts" in r.json()["error"]
    victim = acme.users["victim"].sub
    r = world.call("PATCH", f"{base}/{victim}", token, json={"email": "PLAIN@example.com"})
    assert r.status_code == 409 and r.json()["field"] == "email"
    assert world.call("GET", f"{base}/{victim}", token).json()["email"] == "victim@example.com"


def test_disable_revokes_sessions_and_tokens(world: AdminWorld) -> None:
    acme = world.tenant()
    token = world.service_token(acme)
    victim_token = world.user_token(acme, "admin")  # an admin's own token: disabling ends it
    victim = acme.users["admin"]
    userinfo = f"{world.server.realm(acme.slug)}/protocol/openid-connect/userinfo"
    assert requests.get(userinfo, headers={"Authorization": f"Bearer {victim_token}"}, timeout=10).status_code == 200
    r = world.call("POST", f"/admin/realms/{acme.slug}/users/{victim.sub}/disable", token)
    assert r.status_code == 200 and r.json()["enabled"] is False
    assert requests.get(userinfo, headers={"Authorization": f"Bearer {victim_token}"}, timeout=10).status_code == 401
    assert world.call("GET", f"/admin/realms/{acme.slug}", victim_token).status_code == 401
    assert world.call("POST", f"/admin/realms/{acme.slug}/users/{victim.sub}/enable", token).json()["enabled"] is True
    types = [e["type"] for e in world.call("GET", f"/admin/realms/{acme.slug}/events?user={victim.sub}", token).json()["events"]]
    assert types[:2] == ["admin.user_enabled", "admin.user_disabled"]


def test_factors_list_remove_reset_unlock_and_logout(world: AdminWorld) -> None:
    acme = world.tenant()
    token = world.service_token(acme)
    plain = acme.users["plain"]
    s = world.services
    first, _ = s.factors.add_totp(acme.tenant, plain, pyotp.random_base32())
    s.factors.add_totp(acme.tenant, plain, pyotp.random_base32())
    base = f"/admin/realms/{acme.slug}/users/{plain.sub}"
    assert len(world.call("GET", f"{base}/factors", token).json()["factors"]) == 2
    r = world.call("DELETE", f"{base}/factors/{first.id}", token)
    assert r.status_code == 200 and r.json()["removed_by"] == f"admin:{acme.slug}/service"
    assert world.call("DELETE", f"{base}/factors/{first.id}", token).status_code == 404
    sso = s.sessions.establish(acme.tenant, plain.id, ["pwd"], "urn:idp:acr:pwd")
    r = world.call("DELETE", f"{base}/factors", token)
    assert r.status_code == 200 and len(r.json()["factors"]) == 1
    assert s.factors.active(acme.tenant, plain) == [] and s.sessions.find(acme.tenant, sso.token) is None
    history = world.call("GET", f"{base}/factors?history=true", token).json()["factors"]
    assert len(history) == 2 and all(f["removed_at"] for f in history)
    for _ in range(8):
        s.throttle.record_failure(acme.tenant, plain.id, "password", "203.0.113.9")
    assert s.throttle.check(acme.tenant, plain.id, "password", "203.0.113.9") > 0
    assert world.call("POST", f"{base}/unlock", token).status_code == 204
    assert s.throttle.check(acme.tenant, plain.id, "password", "203.0.113.9") == 0
    s.sessions.establish(acme.tenant, plain.id, ["pwd"], "urn:idp:acr:pwd")
    assert world.call("POST", f"{base}/logout", token).json()["revoked"] >= 1
    types = {e["type"] for e in world.call("GET", f"/admin/realms/{acme.slug}/events?user={plain.sub}", token).json()["events"]}
    assert {"factor.removed", "admin.factors_reset", "admin.user_unlocked", "admin.sessions_revoked"} <= types


def test_clients_secret_shown_once_rotate_delete(world: AdminWorld) -> None:
    acme = world.tenant()
    token = world.service_token(acme)
    base = f"/admin/realms/{acme.slug}/clients"
    r = world.call("POST", base, token, json={"client_id": "shop", "redirect_uris": ["https://shop.example.com/cb"], "name": "Shop"})
    assert r.status_code == 201 and len(r.json()["client_secret"]) > 30
    secret = r.json()["client_secret"]
    shown = world.call("GET", f"{base}/shop", token)
    assert shown.json()["name"] == "Shop" and secret not in shown.text and secret not in world.call("GET", base, token).text
    r = world.call("POST", base, token, json={"client_id": "bad", "redirect_uris": ["http://evil.example.com/cb"]})
    assert r.status_code == 400 and r.json()["field"] == "redirect_uris"
    assert world.call("PATCH", f"{base}/shop", token, json={"name": "Shop 2"}).json()["name"] == "Shop 2"
    new = world.call("POST", f"{base}/shop/secret", token).json()["client_secret"]
    assert new != secret
    assert world.call("DELETE", f"{base}/shop", token).status_code == 204
    assert world.call("GET", f"{base}/shop", token).status_code == 404
    r = world.call("POST", base, token, json={"client_id": "robot", "grant_types": ["client_credentials"], "scope": "admin"})
    robot = r.json()["client_secret"]
    got = requests.post(world.token_endpoint(acme.slug), data={"grant_type": "client_credentials", "scope": "admin"}, auth=("robot", robot), timeout=10)
    assert world.call("GET", f"/admin/realms/{acme.slug}", got.json()["access_token"]).status_code == 200


def test_keys_list_and_rotate(world: AdminWorld) -> None:
    acme = world.tenant()
    token = world.service_token(acme)
    keys = world.call("GET", f"/admin/realms/{acme.slug}/keys", token).json()["keys"]
    assert [k["status"] for k in keys] == ["active"]
    r = world.call("POST", f"/admin/realms/{acme.slug}/keys/rotate", token, json={"publish_delay": 600})
    assert r.status_code == 201 and r.json()["status"] == "pending"
    assert [k["status"] for k in world.call("GET", f"/admin/realms/{acme.slug}/keys", token).json()["keys"]] == ["pending", "active"]


def test_events_filter_by_type_user_time_and_page(world: AdminWorld) -> None:
    acme = world.tenant()
    token = world.service_token(acme)
    plain = acme.users["plain"]
    s = world.services
    for i in range(5):
        s.audit.record(acme.tenant.id, "login.password_ok", user_id=plain.id, client_ip=f"198.51.100.{i}")
    s.audit.record(acme.tenant.id, "login.password_failed", user_id=acme.users["admin"].id)
    base = f"/admin/realms/{acme.slug}/events"
    page = world.call("GET", f"{base}?type=login.password_ok&limit=2&offset=1", token).json()
    assert [e["client_ip"] for e in page["events"]] == ["198.51.100.3", "198.51.100.2"]
    assert all(e["user"] == plain.sub for e in page["events"])
    assert {e["type"] for e in world.call("GET", f"{base}?user={acme.users['admin'].sub}", token).json()["events"]} == {"login.password_failed"}
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert world.call("GET", f"{base}", token, params={"since": future}).json()["events"] == []
    assert len(world.call("GET", f"{base}", token, params={"until": future, "type": "login.password_ok"}).json()["events"]) == 5
    r = world.call("GET", f"{base}?since=yesterday", token)
    assert r.status_code == 422 and r.json()["field"] == "since"


def test_recovery_statistics_per_day(world: AdminWorld) -> None:
    acme = world.tenant()
    token = world.service_token(acme)
    u1, u2 = acme.users["plain"].id, acme.users["victim"].id
    day = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) - timedelta(days=2)
    rows = [
        ("recovery.requested", u1, 0), ("recovery.link_opened", u1, 1), ("sms.code_sent", u1, 3), ("recovery.completed", u1, 6),
        ("recovery.requested", u2, 10), ("recovery.link_opened", u2, 11), ("sms.code_sent", u2, 12),
        ("sms.code_sent", u1, 240),  # a sign-in code hours later: not the recovery's
    ]
    with world.services.db.session() as s:
        for type_, uid, minutes in rows:
            s.add(AuditEvent(tenant_id=acme.tenant.id, type=type_, user_id=uid, created_at=day + timedelta(minutes=minutes), details={}))
    first = (day - timedelta(days=1)).date().isoformat()
    r = world.call("GET", f"/admin/realms/{acme.slug}/stats/recovery?from={first}&to={day.date().isoformat()}", token)
    assert r.status_code == 200
    days = r.json()["days"]
    assert days[0] == {"date": first, "requested": 0, "link_opened": 0, "sms_sent": 0, "completed": 0, "abandoned": 0}
    assert days[1] == {"date": day.date().isoformat(), "requested": 2, "link_opened": 2, "sms_sent": 2, "completed": 1, "abandoned": 1}
    assert len(world.call("GET", f"/admin/realms/{acme.slug}/stats/recovery", token).json()["days"]) == 30
    r = world.call("GET", f"/admin/realms/{acme.slug}/stats/recovery?from={date.today().isoformat()}&to=2000-01-01", token)
    assert r.status_code == 422


def test_admin_scoped_tokens_name_the_admin_api_as_audience(world: AdminWorld) -> None:
    """The OIDC change this API relies on: ``admin`` scope → ``aud: idp-admin``; other tokens keep aud = client."""
    from joserfc import jwt

    acme = world.tenant()
    keys = world.services.keys.verification_keys(acme.tenant)
    admin_claims = jwt.decode(world.service_token(acme), keys).claims
    plain_claims = jwt.decode(world.service_token(acme, "rp-service", scope=""), keys).claims
    assert admin_claims["aud"] == "idp-admin" and admin_claims["scope"] == "admin"
    assert plain_claims["aud"] == "rp-service"
    got = requests.post(world.token_endpoint(acme.slug), data={"grant_type": "client_credentials", "scope": "admin"}, auth=("rp-service", acme.secrets["rp-service"]), timeout=10)
    assert "scope" not in got.json()  # a client not registered with admin never gets it


def test_user_search_takes_percent_and_underscore_literally(world: AdminWorld) -> None:
    """R-44 (object-level access stays exact): ``q`` is a literal substring; ``%`` and ``_`` are not LIKE wildcards
    (``q=%`` used to list every user), and a backslash or slash typed by the admin is literal too."""
    acme = world.tenant()
    token = world.user_token(acme)
    base = f"/admin/realms/{acme.slug}/users"
    for username, email in (("under_score", "u@example.com"), ("fifty", "50%off@example.com"), ("back", "a\\b/c@example.com")):
        world.services.users.create(acme.tenant, username, PASSWORD, email=email)

    def found(q: str) -> list[str]:
        r = world.call("GET", base, token, params={"q": q})
        assert r.status_code == 200, r.text
        return [u["username"] for u in r.json()["users"]]

    assert found("%") == ["fifty"]
    assert found("_") == ["under_score"]
    assert found("%%") == [] and found("__") == []
    assert found("r_s") == ["under_score"] and found("u%") == []
    assert found("\\") == ["back"] and found("/") == ["back"] and found("\\b/") == ["back"]
    assert found("PLAIN") == ["plain"]


def test_weak_new_passwords_get_a_422_naming_the_field_and_old_ones_still_sign_in(world: AdminWorld) -> None:
    """R-04, R-25: on create and set-password, repeated or sequential characters, common passwords and the
    account's context words (username, email, the tenant's slug and name) are refused with a 422 on field
    ``password`` stating the reason; a user whose existing password would now be refused still signs in."""
    acme = world.tenant()
    token = world.user_token(acme)
    base = f"/admin/realms/{acme.slug}/users"
    cases = {
        "aaaaaaaaaaaa": "too easy to guess",
        "123456789012": "too easy to guess",
        "password1234": "too common",
        f"my {acme.slug} passphrase": "must not contain",
        "erin-was-here-1999": "must not contain",
        "quiet erin.doe river": "must not contain",
    }
    for password, reason in cases.items():
        r = world.call("POST", base, token, json={"username": "erin", "email": "erin.doe@example.com", "password": password})
        assert r.status_code == 422 and r.json()["field"] == "password" and reason in r.json()["error"], (password, r.text)
    assert world.services.users.by_username(acme.tenant, "erin") is None  # nothing written
    plain = acme.users["plain"]
    plain_id = world.call("GET", base, token, params={"q": "plain"}).json()["users"][0]["id"]
    r = world.call("POST", f"{base}/{plain_id}/password", token, json={"password": "abcdefghijklmnop"})
    assert r.status_code == 422 and r.json()["field"] == "password" and "too easy to guess" in r.json()["error"]
    assert world.services.users.verify_password(world.services.users.get(acme.tenant, plain.id), PASSWORD)
    # only NEW passwords are checked: an account holding a password the policy now refuses still signs in
    from idp.security.passwords import hash_password
    from idp.storage.models import User

    with world.services.db.session() as s:
        row = s.get(User, plain.id)
        assert row is not None
        row.password_hash = hash_password("123456789012")
    assert world.services.users.verify_password(world.services.users.get(acme.tenant, plain.id), "123456789012")


def test_a_wildcard_redirect_uri_is_refused_by_the_admin_api(world: AdminWorld) -> None:
    """R-58: redirect URIs match exactly, so a '*' is refused at creation and update, naming the field."""
    acme = world.tenant()
    token = world.service_token(acme)
    base = f"/admin/realms/{acme.slug}/clients"
    r = world.call("POST", base, token, json={"client_id": "wild", "redirect_uris": ["https://*.example.com/cb"]})
    assert r.status_code == 400 and r.json()["field"] == "redirect_uris" and "wildcard" in r.json()["error"], r.text
    assert world.call("POST", base, token, json={"client_id": "tame", "redirect_uris": ["https://app.example.com/cb"]}).status_code == 201
    r = world.call("PATCH", f"{base}/tame", token, json={"redirect_uris": ["https://app.example.com/*"]})
    assert r.status_code == 400 and r.json()["field"] == "redirect_uris" and "wildcard" in r.json()["error"], r.text
    assert world.call("GET", f"{base}/tame", token).json()["redirect_uris"] == ["https://app.example.com/cb"]
