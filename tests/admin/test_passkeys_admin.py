"""Passkeys in the admin API and console (issue 14, item 5): listed with their authenticator like any factor,
removed at once (R-19, R-34), every change audited (R-14, R-46)."""

from __future__ import annotations

from support.passkeys import AAGUID, stored_passkey

from admin.console_support import console_session, text
from admin.support import AdminWorld


def test_the_api_lists_a_passkey_with_its_authenticator_and_removes_it(world: AdminWorld) -> None:
    acme = world.tenant()
    token = world.service_token(acme)
    plain = acme.users["plain"]
    passkey = stored_passkey(world.services, acme.tenant, plain)
    base = f"/admin/realms/{acme.slug}/users/{plain.sub}"
    [listed] = [f for f in world.call("GET", f"{base}/factors", token).json()["factors"] if f["id"] == passkey.id]
    assert listed["type"] == "passkey" and listed["label"] == "Laptop"
    assert listed["passkey"] == {"aaguid": AAGUID, "transports": ["internal"], "sign_count": 7, "backup_eligible": False, "backed_up": False}
    assert "public_key" not in str(listed) and "credential_id" not in str(listed)  # never key material
    r = world.call("DELETE", f"{base}/factors/{passkey.id}", token)
    assert r.status_code == 200 and r.json()["active"] is False and r.json()["passkey"] is None
    assert not world.services.factors.has_passkeys(acme.tenant, plain)
    history = world.call("GET", f"{base}/factors?history=true", token).json()["factors"]
    assert [f["passkey"]["aaguid"] for f in history if f["id"] == passkey.id] == [AAGUID]
    events = world.call("GET", f"/admin/realms/{acme.slug}/events?user={plain.sub}", token).json()["events"]
    assert any(e["type"] == "factor.removed" and e["details"].get("factor_type") == "passkey" for e in events)


def test_the_console_shows_and_removes_a_passkey(world: AdminWorld) -> None:
    acme = world.tenant()
    plain = acme.users["plain"]
    passkey = stored_passkey(world.services, acme.tenant, plain, label="Phone")
    console = console_session(world, acme, "fr")
    page = text(console.get(f"users/{plain.sub}"))
    assert "passkey" in page and "Phone" in page and f"AAGUID {AAGUID} · internal" in page
    r = console.post(f"users/{plain.sub}/factors/{passkey.id}")
    assert r.status_code == 303
    assert not world.services.factors.has_passkeys(acme.tenant, plain)
