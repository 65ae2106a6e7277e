"""``idp client create|update --consent-required`` and ``idp user consents list|revoke`` (issue 15 item 3, R-76)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

from cli.support import STRONG, Idp, _services


def test_the_flag_is_off_by_default_and_set_by_option(acme: Idp) -> None:
    plain = acme.json("client", "create", "acme", "web", "--redirect-uri", "https://app.example.com/cb")
    assert plain["consent_required"] is False
    third = acme.json("client", "create", "acme", "partner", "--redirect-uri", "https://partner.example.com/cb", "--consent-required")
    assert third["consent_required"] is True
    assert acme.json("client", "update", "acme", "partner", "--no-consent-required")["consent_required"] is False
    assert acme.json("client", "update", "acme", "web", "--consent-required")["consent_required"] is True
    assert re.search(r"^consent_required: +yes$", acme.ok("client", "show", "acme", "web").stdout, re.M)


def test_list_and_revoke_a_users_consents(acme: Idp, unchanged: Callable[..., str]) -> None:
    acme.ok("user", "create", "acme", "alice", "--password", STRONG)
    acme.ok("client", "create", "acme", "partner", "--redirect-uri", "https://partner.example.com/cb", "--name", "Partner", "--consent-required")
    assert acme.ok("user", "consents", "list", "acme", "alice").stdout.strip() == "(none)"
    svc = _services(acme)
    try:
        tenant = svc.tenants.require("acme")
        svc.consents.grant(tenant, svc.users.by_username(tenant, "alice").id, "partner", ["openid", "email"])
    finally:
        svc.close()

    [listed] = acme.json("user", "consents", "list", "acme", "alice")
    assert (listed["client_id"], listed["client_name"], listed["scopes"]) == ("partner", "Partner", ["openid", "email"])
    text = acme.ok("user", "consents", "list", "acme", "alice").stdout
    assert text.splitlines()[0].split() == ["CLIENT_ID", "CLIENT_NAME", "SCOPES", "GRANTED_AT"] and "partner" in text

    revoked = acme.json("user", "consents", "revoke", "acme", "alice", "partner")
    assert revoked["revoked"] is True and revoked["client_id"] == "partner"
    assert acme.json("user", "consents", "list", "acme", "alice") == []
    line = unchanged("user", "consents", "revoke", "acme", "alice", "partner")
    assert line == "error: no consent to 'partner' for this user ('alice' in tenant 'acme')"
    assert unchanged("user", "consents", "list", "acme", "nobody") == "error: unknown user 'nobody' in tenant 'acme'"


def test_export_and_import_carry_the_flag(acme: Idp, tmp_path: Path) -> None:
    acme.ok("client", "create", "acme", "partner", "--redirect-uri", "https://partner.example.com/cb", "--consent-required")
    document = json.loads(acme.ok("tenant", "export", "acme").stdout)
    [partner] = [c for c in document["clients"] if c["client_id"] == "partner"]
    assert partner["consent_required"] is True
    acme.ok("client", "update", "acme", "partner", "--no-consent-required")
    path = tmp_path / "acme.json"
    path.write_text(json.dumps(document))
    acme.ok("tenant", "import", str(path))
    assert acme.json("client", "show", "acme", "partner")["consent_required"] is True
