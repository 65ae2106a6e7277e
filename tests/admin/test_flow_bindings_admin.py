"""A tenant admin reads and sets a flow's bindings through the admin API and reads them in the console (issue 13)."""

from __future__ import annotations

from admin.console_support import console_session
from admin.support import AdminWorld

OWN = [
    {"step": "password"},
    {"id": "second-factor", "requirement": "CONDITIONAL", "condition": "second-factor-needed", "bindings": [
        {"step": "totp", "requirement": "ALTERNATIVE", "max_failures": 10},
        {"step": "sms", "requirement": "DISABLED"},
        {"step": "totp-setup", "requirement": "ALTERNATIVE"},
    ]},
]


def _login_flow(world: AdminWorld, slug: str, token: str) -> dict:
    flows = world.call("GET", f"/admin/realms/{slug}/flows", token).json()["flows"]
    return next(f for f in flows if f["name"] == "browser-login")


def test_the_api_shows_the_defaults_takes_a_tenant_list_and_refuses_an_unsound_one(world: AdminWorld) -> None:
    realm = world.tenant()
    token = world.service_token(realm)
    login = _login_flow(world, realm.slug, token)
    assert login["own_bindings"] is False
    assert [b["id"] for b in login["bindings"]] == ["password", "second-factor", "save-recovery-codes"]
    assert [(b["id"], b["requirement"]) for b in login["bindings"][1]["bindings"]] == [("passkey", "ALTERNATIVE"), ("totp", "ALTERNATIVE"), ("sms", "ALTERNATIVE"), ("recovery-code", "ALTERNATIVE"), ("totp-setup", "ALTERNATIVE"), ("passkey-setup", "ALTERNATIVE")]

    r = world.call("PATCH", f"/admin/realms/{realm.slug}/config", token, json={"flows": {"browser-login": {"bindings": OWN}}})
    assert r.status_code == 200, r.text
    login = _login_flow(world, realm.slug, token)
    assert login["own_bindings"] is True and login["bindings"][1]["bindings"][1] == {"id": "sms", "step": "sms", "requirement": "DISABLED"}

    unsound = [{"step": "totp"}, {"step": "password"}]
    r = world.call("PATCH", f"/admin/realms/{realm.slug}/config", token, json={"flows": {"browser-login": {"bindings": unsound}}})
    assert r.status_code == 422 and r.json()["field"] == "flows.browser-login.bindings[totp]"
    assert "without proving: password" in r.json()["error"]
    assert _login_flow(world, realm.slug, token)["own_bindings"] is True  # the refused list was not written

    r = world.call("PATCH", f"/admin/realms/{realm.slug}/config", token, json={"flows": {"browser-login": {"bindings": []}}})
    assert r.status_code == 200 and _login_flow(world, realm.slug, token)["own_bindings"] is False  # back to the defaults


def test_the_console_lists_each_flows_steps_in_french(world: AdminWorld) -> None:
    realm = world.tenant()
    page = console_session(world, realm, "fr").get("flows")
    assert page.status_code == 200
    assert "Étapes de chaque parcours" in page.text and "Les étapes par défaut du parcours." in page.text
    assert "<code>second-factor</code>: sous condition, si <code>second-factor-needed</code>" in page.text
    assert "<code>totp</code>: au choix" in page.text
