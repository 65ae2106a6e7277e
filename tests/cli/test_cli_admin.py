"""The first administrator and admin roles from the CLI (issue 11, item 3): ``idp init`` with
``IDP_BOOTSTRAP_ADMIN_*``, ``idp admin create-user``, ``idp user grant-role|revoke-role``,
``idp client create --admin``, and the demo tenant's admin. What the admin API then allows is asked
of a live server sharing the CLI's database (R-44: roles are read from the account at each request)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from conftest import LiveServer
from joserfc.util import urlsafe_b64decode
from playwright.sync_api import expect

from cli.support import CLEARED, STRONG, Idp, verify
from idp.cli.demo import ADMIN_PASSWORD, ADMIN_USERNAME

ROOT_PASSWORD = "a-long-bootstrap-passphrase"
REDIRECT_URI = "https://rp.example.com/callback"


def bootstrap_env(idp: Idp, username: str = "root", password: str = ROOT_PASSWORD) -> None:
    idp.env.update({"IDP_BOOTSTRAP_ADMIN_USERNAME": username, "IDP_BOOTSTRAP_ADMIN_PASSWORD": password})


def platform_admins(idp: Idp) -> list[str]:
    return [u["username"] for u in idp.json("user", "list", "master")["users"] if "platform-admin" in u["roles"]]


def serve(idp: Idp, make_live_server: Callable[..., LiveServer]) -> LiveServer:
    """A live server on the CLI's database (same instance folder or PostgreSQL schema, same secret key)."""
    return make_live_server(secret_key=idp.env["IDP_SECRET_KEY"], database_url=idp.env.get("IDP_DATABASE_URL") or "sqlite")


def user_token(server: LiveServer, slug: str, username: str, client_id: str, secret: str) -> str:
    """A user's access token with ``openid admin`` through the code flow with PKCE (a signed-in browser, an RP)."""
    s = server.services
    tenant = s.tenants.require(slug)
    browser = requests.Session()
    sso = s.sessions.establish(tenant, s.users.by_username(tenant, username).id, ["pwd"], "urn:idp:acr:pwd")
    browser.cookies.set("idp_sso", sso.token, path=f"/realms/{slug}/")
    rp = OAuth2Session(client_id, secret, scope="openid admin", redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    verifier = generate_token(48)
    url, _ = rp.create_authorization_url(f"{server.realm(slug)}/protocol/openid-connect/auth", code_verifier=verifier, nonce=generate_token(16))
    r = browser.get(url, allow_redirects=False)
    assert r.status_code == 302, r.text
    token = rp.fetch_token(f"{server.realm(slug)}/protocol/openid-connect/token", authorization_response=r.headers["Location"], code_verifier=verifier)
    return str(token["access_token"])


def login_client(idp: Idp, slug: str) -> tuple[str, str]:
    """An admin client users sign in to (code flow), registered with ``--admin``."""
    out = idp.json("client", "create", slug, "ops-rp", "--redirect-uri", REDIRECT_URI, "--grant", "authorization_code", "--admin")
    return "ops-rp", out["client_secret"]


def api(server: LiveServer, token: str, path: str) -> int:
    return requests.get(f"{server.url}/admin/realms{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code


def claims(token: str) -> dict[str, Any]:
    return dict(json.loads(urlsafe_b64decode(token.split(".")[1].encode())))


# -- bootstrap -------------------------------------------------------------------------


def test_init_creates_exactly_one_bootstrap_admin_and_a_second_run_is_a_no_op(idp: Idp) -> None:
    bootstrap_env(idp)
    first = idp.ok("init", "--json")
    assert json.loads(first.stdout)["bootstrap_admin_created"] == "root"
    assert json.loads(first.stdout)["console_url"] == "http://127.0.0.1:8080/admin/console/realms/master/"
    assert ROOT_PASSWORD not in first.stdout + first.stderr  # never printed
    assert platform_admins(idp) == ["root"]
    assert verify(idp, "master", "root", ROOT_PASSWORD)
    # a second run, even with other values, leaves the platform admin alone
    bootstrap_env(idp, "another", "another-long-passphrase")
    assert idp.json("init")["bootstrap_admin_created"] is None
    assert platform_admins(idp) == ["root"]
    assert verify(idp, "master", "root", ROOT_PASSWORD)
    events = [e for e in idp.snapshot()["audit_events"] if "admin.bootstrap_admin_created" in e]
    assert len(events) == 1


def test_init_without_the_variables_creates_no_admin(initialised: Idp) -> None:
    assert initialised.json("init")["bootstrap_admin_created"] is None
    assert initialised.json("user", "list", "master")["total"] == 0


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("root", "short", "error: the password must have at least 12 characters"),
        ("root", None, "error: IDP_BOOTSTRAP_ADMIN_PASSWORD is not set: set both IDP_BOOTSTRAP_ADMIN_USERNAME and IDP_BOOTSTRAP_ADMIN_PASSWORD, or neither"),
        ("bad name", ROOT_PASSWORD, "error: invalid username 'bad name': a username cannot contain spaces"),
    ],
)
def test_a_refused_bootstrap_admin_is_one_line_without_the_password(initialised: Idp, username: str, password: str | None, message: str) -> None:
    """The master tenant's password policy applies (R-01); the refusal never echoes the password."""
    initialised.env.update({"IDP_BOOTSTRAP_ADMIN_USERNAME": username, "IDP_BOOTSTRAP_ADMIN_PASSWORD": password})
    before = initialised.snapshot()
    assert initialised.refused("init") == message
    assert initialised.snapshot() == before


def test_bootstrap_refuses_an_existing_user_without_the_role(initialised: Idp) -> None:
    initialised.ok("user", "create", "master", "root", "--password", STRONG)
    bootstrap_env(initialised)
    line = initialised.refused("init")
    assert line == (
        "error: IDP_BOOTSTRAP_ADMIN_USERNAME: user 'root' of master exists without the platform-admin role;"
        " grant it with `idp user grant-role master root platform-admin`"
    )
    assert verify(initialised, "master", "root", STRONG)
    initialised.ok("user", "grant-role", "master", "root", "platform-admin")
    assert initialised.json("init")["bootstrap_admin_created"] is None  # now it has one


def test_nodes_running_init_together_create_one_bootstrap_admin(any_db: Idp) -> None:
    """Several nodes start at once, each running `idp init`: one platform admin, made by one of them."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update({k: v for k, v in any_db.env.items() if v is not None})
    env.update({"IDP_BOOTSTRAP_ADMIN_USERNAME": "root", "IDP_BOOTSTRAP_ADMIN_PASSWORD": ROOT_PASSWORD})
    procs = [
        subprocess.Popen([sys.executable, "-m", "idp.cli", "init", "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    created = [json.loads(out)["bootstrap_admin_created"] for out, _ in outs]
    assert sorted(created, key=str) == [None, None, "root"]
    assert platform_admins(any_db) == ["root"]


# -- what the admin API then allows ------------------------------------------------------


def test_bootstrap_admin_token_manages_every_tenant(idp: Idp, make_live_server: Callable[..., LiveServer]) -> None:
    bootstrap_env(idp)
    idp.ok("init")
    idp.ok("tenant", "create", "acme", "--no-self-recovery")
    client_id, secret = login_client(idp, "master")
    server = serve(idp, make_live_server)
    token = user_token(server, "master", "root", client_id, secret)
    assert claims(token)["aud"] == "idp-admin"
    assert api(server, token, "/acme/users") == 200
    assert api(server, token, "/master/users") == 200


def test_create_user_grant_and_revoke_role_change_what_the_api_allows(idp: Idp, make_live_server: Callable[..., LiveServer]) -> None:
    """R-44: a tenant admin manages its tenant only; a role taken away stops the same token at once."""
    idp.ok("init")
    idp.ok("tenant", "create", "acme", "--no-self-recovery")
    idp.ok("tenant", "create", "beta", "--no-self-recovery")
    made = idp.json("admin", "create-user", "acme", "alice", "--role", "tenant-admin", "--password-stdin", input=STRONG + "\n")
    assert made["roles"] == ["tenant-admin"] and verify(idp, "acme", "alice", STRONG)
    idp.ok("user", "create", "acme", "bob", "--password", STRONG)
    client_id, secret = login_client(idp, "acme")
    server = serve(idp, make_live_server)
    alice = user_token(server, "acme", "alice", client_id, secret)
    bob = user_token(server, "acme", "bob", client_id, secret)
    assert api(server, alice, "/acme/users") == 200
    assert api(server, alice, "/beta/users") == 403
    assert api(server, bob, "/acme/users") == 403

    assert idp.json("user", "revoke-role", "acme", "alice", "tenant-admin")["roles"] == []
    assert api(server, alice, "/acme/users") == 403
    assert idp.json("user", "grant-role", "acme", "bob", "tenant-admin")["roles"] == ["tenant-admin"]
    assert api(server, bob, "/acme/users") == 200
    assert idp.json("user", "grant-role", "acme", "bob", "tenant-admin")["roles"] == ["tenant-admin"]  # granted once


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("admin", "create-user", "acme", "eve", "--role", "platform-admin", "--password", STRONG),
         "error: only platform administrators may grant platform-admin, in the master tenant"),
        (("user", "grant-role", "acme", "taken", "platform-admin"), "error: only platform administrators may grant platform-admin, in the master tenant"),
        (("admin", "create-user", "acme", "eve", "--role", "tenant-admin", "--password", "short"), "error: the password must have at least 12 characters"),
        (("admin", "create-user", "nope", "eve", "--role", "tenant-admin", "--password", STRONG), "error: unknown tenant 'nope'"),
        (("user", "grant-role", "acme", "ghost", "tenant-admin"), "error: unknown user 'ghost' in tenant 'acme'"),
    ],
)
def test_admin_refusals_write_nothing(unchanged: Callable[..., str], acme: Idp, args: tuple[str, ...], message: str) -> None:
    acme.ok("user", "create", "acme", "taken", "--password", STRONG)
    assert unchanged(*args) == message


def test_role_must_be_a_known_one(acme: Idp) -> None:
    line = acme.refused("admin", "create-user", "acme", "eve", "--role", "root", "--password", STRONG, code=2)
    assert "'root' is not one of 'tenant-admin', 'platform-admin'" in line


def test_admin_client_token_has_scope_admin_and_audience_idp_admin(idp: Idp, make_live_server: Callable[..., LiveServer]) -> None:
    idp.ok("init")
    idp.ok("tenant", "create", "acme", "--no-self-recovery")
    idp.ok("tenant", "create", "beta", "--no-self-recovery")
    out = idp.json("client", "create", "acme", "ops", "--admin")
    assert out["scope"] == "admin" and out["grant_types"] == ["client_credentials"]
    plain = idp.json("client", "create", "acme", "plain", "--grant", "client_credentials")
    server = serve(idp, make_live_server)
    endpoint = f"{server.realm('acme')}/protocol/openid-connect/token"
    r = requests.post(endpoint, data={"grant_type": "client_credentials", "scope": "admin"}, auth=("ops", out["client_secret"]), timeout=10)
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    assert claims(token)["scope"] == "admin" and claims(token)["aud"] == "idp-admin"
    assert api(server, token, "/acme/users") == 200
    assert api(server, token, "/beta/users") == 403
    r = requests.post(endpoint, data={"grant_type": "client_credentials", "scope": "admin"}, auth=("plain", plain["client_secret"]), timeout=10)
    assert r.status_code == 200, r.text
    plain_token = r.json()["access_token"]  # without --admin the scope admin is not granted: an RP's token
    assert "admin" not in claims(plain_token).get("scope", "").split() and claims(plain_token)["aud"] == "plain"
    assert api(server, plain_token, "/acme/users") == 401


def test_demo_prints_its_tenant_admin_and_the_console_url(idp: Idp) -> None:
    out = idp.json("demo")
    assert out["console_url"] == "http://127.0.0.1:8080/admin/console/realms/demo/"
    assert (out["admin_username"], out["admin_password"]) == (ADMIN_USERNAME, ADMIN_PASSWORD)
    assert idp.json("user", "show", "demo", ADMIN_USERNAME)["roles"] == ["tenant-admin"]
    idp.ok("user", "revoke-role", "demo", ADMIN_USERNAME, "tenant-admin")
    idp.ok("user", "set-password", "demo", ADMIN_USERNAME, "--password", STRONG)
    idp.json("demo")  # a re-run gives the role and the printed password back
    assert idp.json("user", "show", "demo", ADMIN_USERNAME)["roles"] == ["tenant-admin"]
    assert verify(idp, "demo", ADMIN_USERNAME, ADMIN_PASSWORD)


# -- the README walkthrough, in Chromium ------------------------------------------------


def _sign_in(page: Any, username: str, password: str) -> None:
    page.get_by_label("Username or email").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def test_first_administrator_walkthrough(idp: Idp, make_live_server: Callable[..., LiveServer], new_page: Callable[..., Any]) -> None:
    """README "First administrator": env vars, `idp init`, sign in to the console as the bootstrap admin,
    then change a tenant's branding and MFA policy from the CLI, and see both on the tenant's sign-in."""
    bootstrap_env(idp)
    console_url = idp.json("init")["console_url"]
    idp.ok("tenant", "create", "acme", "--no-self-recovery")
    idp.ok("user", "create", "acme", "bob", "--password", STRONG)
    server = serve(idp, make_live_server)
    console = console_url.replace("http://127.0.0.1:8080", server.url)

    page = new_page("en-US")
    page.goto(console)
    assert page.url.startswith(f"{server.url}/realms/master/")  # the master tenant's own sign-in page
    _sign_in(page, "root", ROOT_PASSWORD)
    page.wait_for_url(f"{console}flows*")
    response = page.goto(f"{server.url}/admin/console/realms/acme/users")  # a platform admin manages every tenant
    assert response is not None and response.status == 200
    assert page.get_by_role("button", name="Search").is_visible()

    changed = idp.json("tenant", "config", "set", "acme", "branding.display_name=ACME Sign-in", "branding.primary_color=#0a7d3b", "mfa.policy=required")
    assert {c["key"] for c in changed["changes"]} == {"branding.display_name", "branding.primary_color", "mfa.policy"}
    server.services.tenants.invalidate("acme")  # the server's 5-second tenant cache (README "Administration")

    user_page = new_page("en-US")
    user_page.goto(f"{server.url}/realms/acme/login")
    assert user_page.locator("header .brand-name").inner_text() == "ACME Sign-in"
    assert "#0a7d3b" in user_page.locator("head style").first.inner_html()
    _sign_in(user_page, "bob", STRONG)
    expect(user_page.get_by_role("heading", name="Register a new second factor.")).to_be_visible()  # MFA now required
