"""One shape per noun (issue 13, item 6): the CLI's ``--json`` prints the admin API's models, plus ``tenant``,
and neither ever shows a password hash or a client secret hash."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import requests
from admin.support import check_response
from conftest import LiveServer
from sqlalchemy import select

from cli.support import STRONG, Idp
from idp.storage.models import Client as ClientRow
from idp.storage.models import User as UserRow


def _world(idp: Idp, make_live_server: Callable[..., LiveServer]) -> tuple[LiveServer, str, dict[str, Any]]:
    """An instance with tenant acme (user alice with an address and a phone factor, client web), a live server on its
    database, and a platform service account's token."""
    idp.ok("init")
    idp.ok("tenant", "create", "acme", "--name", "ACME", "--no-self-recovery")
    ops = idp.json("client", "create", "master", "ops", "--admin")
    idp.ok(
        "user", "create", "acme", "alice", "--email", "alice@example.com", "--given-name", "Alice", "--locale", "fr",
        "--locality", "Lyon", "--country", "France", "--password", STRONG,
    )
    idp.ok("user", "grant-role", "acme", "alice", "tenant-admin")
    idp.ok("user", "set-phone", "acme", "alice", "+33612345678")
    web = idp.json("client", "create", "acme", "web", "--redirect-uri", "https://app.example.com/cb", "--backchannel-logout-uri", "https://app.example.com/bc")
    server = make_live_server(
        secret_key=idp.env["IDP_SECRET_KEY"], database_url=idp.env.get("IDP_DATABASE_URL") or "sqlite",
        public_url="http://127.0.0.1:8080",  # the CLI's (issuers are the same)
    )
    r = requests.post(
        f"{server.realm('master')}/protocol/openid-connect/token", data={"grant_type": "client_credentials", "scope": "admin"},
        auth=("ops", ops["client_secret"]), timeout=10,
    )
    assert r.status_code == 200, r.text
    return server, r.json()["access_token"], {"web_secret": web["client_secret"]}


def _get(server: LiveServer, token: str, path: str) -> Any:
    document = requests.get(f"{server.url}/admin/openapi.json", timeout=10).json()
    r = requests.get(f"{server.url}/admin/realms{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200, r.text
    check_response(document, "GET", f"/admin/realms{path}", r)
    return r.json()


def _untenanted(data: dict[str, Any]) -> dict[str, Any]:
    assert data.pop("tenant") == "acme"
    return data


def test_the_clis_json_is_the_apis_shape_plus_tenant(idp: Idp, make_live_server: Callable[..., LiveServer]) -> None:
    server, token, _ = _world(idp, make_live_server)
    cli_user = _untenanted(idp.json("user", "show", "acme", "alice"))
    api_user = _get(server, token, f"/acme/users/{cli_user['id']}")
    assert cli_user == api_user
    assert api_user["address"] == {"locality": "Lyon", "country": "France"} and api_user["roles"] == ["tenant-admin"]
    listed = _untenanted(idp.json("user", "list", "acme", "--limit", "50"))
    assert listed == _get(server, token, "/acme/users")

    assert _untenanted(idp.json("client", "show", "acme", "web")) == _get(server, token, "/acme/clients/web")
    assert [_untenanted(c) for c in idp.json("client", "list", "acme")] == _get(server, token, "/acme/clients")["clients"]
    assert [_untenanted(k) for k in idp.json("keys", "list", "acme")] == _get(server, token, "/acme/keys")["keys"]
    assert idp.json("tenant", "show", "acme") == _get(server, token, "/acme")
    assert [t for t in idp.json("tenant", "list") if t["slug"] == "acme"] == [t for t in _get(server, token, "")["realms"] if t["slug"] == "acme"]
    assert [_untenanted(f) for f in idp.json("user", "factors", "acme", "alice")] == _get(server, token, f"/acme/users/{cli_user['id']}/factors")["factors"]
    assert [_untenanted(f) for f in idp.json("tenant", "flows", "acme")] == _get(server, token, "/acme/flows")["flows"]


def test_no_output_shows_a_password_hash_or_a_client_secret_hash(idp: Idp, make_live_server: Callable[..., LiveServer]) -> None:
    server, token, secrets = _world(idp, make_live_server)
    with server.services.db.session() as s:
        password_hash = s.scalar(select(UserRow.password_hash).where(UserRow.username == "alice"))
        secret_hash = s.scalar(select(ClientRow.secret_hash).where(ClientRow.client_id == "web"))
    assert password_hash and secret_hash
    sub = idp.json("user", "show", "acme", "alice")["id"]
    outputs = [
        idp.ok(*args).stdout + idp.ok(*args, "--json").stdout
        for args in (
            ("user", "show", "acme", "alice"), ("user", "list", "acme"), ("client", "show", "acme", "web"), ("client", "list", "acme"),
            ("client", "update", "acme", "web", "--name", "Web"), ("user", "set-address", "acme", "alice", "--clear"),
        )
    ]
    outputs.append(idp.ok("tenant", "export", "acme").stdout)
    outputs += [
        json.dumps(_get(server, token, path))
        for path in (f"/acme/users/{sub}", "/acme/users", "/acme/clients/web", "/acme/clients", "/acme/events?limit=200", "/acme", f"/acme/users/{sub}/factors?history=true")
    ]
    for out in outputs:
        assert password_hash not in out and secret_hash not in out
        assert secrets["web_secret"] not in out and STRONG not in out
        assert "password_hash" not in out and "secret_hash" not in out
