"""``idp user factors`` / ``remove-factor`` with passkeys (issue 14, item 5): listed with their authenticator, removed at once."""

from __future__ import annotations

from support.passkeys import AAGUID, stored_passkey

from cli.support import STRONG, Idp, _services


def test_a_passkey_is_listed_with_its_authenticator_and_removed(acme: Idp) -> None:
    acme.ok("user", "create", "acme", "alice", "--password", STRONG)
    svc = _services(acme)
    tenant = svc.tenants.require("acme")
    passkey = stored_passkey(svc, tenant, svc.users.by_username(tenant, "alice"))
    [listed] = acme.json("user", "factors", "acme", "alice")
    assert listed["id"] == passkey.id and listed["type"] == "passkey" and listed["passkey"]["aaguid"] == AAGUID
    assert passkey.id in acme.ok("user", "factors", "acme", "alice").stdout
    removed = acme.json("user", "remove-factor", "acme", "alice", passkey.id)
    assert removed["active"] is False
    assert acme.json("user", "factors", "acme", "alice") == []
    assert acme.refused("user", "remove-factor", "acme", "alice", passkey.id).startswith("error: ")
