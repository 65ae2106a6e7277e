"""R-44: the tenant-isolation matrix. Every admin endpoint × {own tenant, other tenant, no token,
expired token, wrong audience, non-admin user}, plus platform admins everywhere."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from admin.support import AdminWorld, Realm, expired_token
from idp.admin.openapi import OPERATIONS

BODIES: dict[str, Any] = {
    "create_realm": {"slug": "iso-new"},
    "patch_config": {"branding": {"primary_color": "#101010"}},
    "migrate_experience": {"experience": "v2"},
    "enable_flow": {},
    "create_user": {"username": "someone", "password": "a long enough passphrase 42"},
    "update_user": {"given_name": "Changed"},
    "set_password": {"password": "another long passphrase 43"},
    "create_client": {"client_id": "made", "redirect_uris": ["https://made.example.com/cb"]},
    "update_client": {"name": "renamed"},
    "rotate_key": {"publish_delay": 0},
}
TENANT_OPS = [op for op in OPERATIONS if "{tenant}" in op.path]


def _path(op: Any, realm: Realm, world: AdminWorld) -> str:
    victim = realm.users["victim"]
    values = {
        "tenant": realm.slug,
        "user_id": victim.sub,
        "client_id": "victim",
        "flow": "self-recovery",
        "factor_id": str(uuid.uuid4()),
    }
    return op.path.format(**values)


@pytest.fixture(scope="module")
def matrix(world: AdminWorld) -> dict[str, Any]:
    a, b = world.tenant(), world.tenant()
    for realm in (a, b):
        world.services.clients.create(realm.tenant, "victim", ["https://victim.example.com/cb"])
    return {
        "a": a,
        "b": b,
        "admin_a": world.user_token(a),
        "service_a": world.service_token(a),
        "plain_a": world.user_token(a, "plain"),
        "wrong_aud_a": world.service_token(a, "rp-service", scope=""),
        "expired_a": expired_token(world, a),
        "platform": world.service_token(world.master),
        "platform_user": world.user_token(world.master),
    }


@pytest.mark.parametrize("op", TENANT_OPS, ids=[op.id for op in TENANT_OPS])
def test_every_endpoint_is_closed_to_other_tenants_and_bad_tokens(world: AdminWorld, matrix: dict[str, Any], op: Any) -> None:
    a, b = matrix["a"], matrix["b"]
    kwargs = {"json": BODIES[op.id]} if op.id in BODIES else {}
    other = _path(op, b, world)
    for who in ("admin_a", "service_a"):
        r = world.call(op.method, other, matrix[who], **kwargs)
        assert r.status_code == 403, (who, r.status_code, r.text)
        assert r.json()["error"] and b.slug not in r.text  # nothing of B, not even its name
    for who in ("expired_a", "wrong_aud_a"):
        r = world.call(op.method, _path(op, a, world), matrix[who], **kwargs)
        assert r.status_code == 401, (who, r.text)
        assert r.headers["WWW-Authenticate"].startswith("Bearer ")
    r = world.call(op.method, _path(op, a, world), None, **kwargs)
    assert r.status_code == 401
    r = world.call(op.method, _path(op, a, world), matrix["plain_a"], **kwargs)
    assert r.status_code == 403, r.text
    if op.id != "migrate_experience":  # the platform's decision (issue 5)
        r = world.call(op.method, _path(op, a, world), matrix["admin_a"], **kwargs)
        assert r.status_code not in (401, 403), r.text
    for who in ("platform", "platform_user"):
        r = world.call(op.method, _path(op, b, world), matrix[who], **kwargs)
        assert r.status_code not in (401, 403), (who, r.text)


def test_tenant_list_and_creation(world: AdminWorld, matrix: dict[str, Any]) -> None:
    a = matrix["a"]
    r = world.call("GET", "/admin/realms", matrix["admin_a"])
    assert [t["slug"] for t in r.json()["realms"]] == [a.slug]
    # an admin-scoped token of an account with no admin role is refused, as Keycloak does, not answered with an empty list
    r = world.call("GET", "/admin/realms", matrix["plain_a"])
    assert r.status_code == 403 and r.json()["error"] == "the account behind the access token has no admin role"
    everyone = {t["slug"] for t in world.call("GET", "/admin/realms", matrix["platform"]).json()["realms"]}
    assert {a.slug, matrix["b"].slug, "master"} <= everyone
    for who in ("admin_a", "service_a", "plain_a"):
        assert world.call("POST", "/admin/realms", matrix[who], json={"slug": "nope"}).status_code == 403
    for who in ("expired_a", "wrong_aud_a"):
        assert world.call("GET", "/admin/realms", matrix[who]).status_code == 401
    assert world.call("GET", "/admin/realms").status_code == 401
    assert world.services.tenants.get("nope") is None


def test_revoked_or_demoted_admin_loses_access_at_once(world: AdminWorld) -> None:
    a = world.tenant()
    token = world.user_token(a)
    assert world.call("GET", f"/admin/realms/{a.slug}", token).status_code == 200
    world.services.users.update(a.tenant, a.users["admin"], roles=[])
    assert world.call("GET", f"/admin/realms/{a.slug}", token).status_code == 403
    world.services.users.update(a.tenant, a.users["admin"], roles=["tenant-admin"])
    world.services.sessions.revoke_user(a.tenant, a.users["admin"].id)
    assert world.call("GET", f"/admin/realms/{a.slug}", token).status_code == 401


def test_a_token_from_tenant_a_signed_with_b_keys_is_refused(world: AdminWorld, matrix: dict[str, Any]) -> None:
    """An issuer names its tenant; the signature must be that tenant's (a forged iss fails)."""
    from joserfc import jwt

    a, b = matrix["a"], matrix["b"]
    key = world.services.keys.signing_key(b.tenant)
    forged = jwt.encode(
        {"alg": key.alg, "kid": key.kid, "typ": "at+jwt"},
        {"iss": a.tenant.issuer, "sub": "service", "aud": "idp-admin", "client_id": "service", "iat": 0, "exp": 2**31, "jti": "x", "scope": "admin"},
        key.private,
        algorithms=[key.alg],
    )
    assert world.call("GET", f"/admin/realms/{a.slug}", forged).status_code == 401


def test_a_tenant_admin_of_master_cannot_make_itself_platform_admin(fresh_world: AdminWorld) -> None:
    """R-44: in master, an admin-scoped client is a platform service account, and platform admins'
    accounts are the platform's: a mere tenant-admin of master can touch neither."""
    world = fresh_world
    m = world.master
    helpdesk = world.services.users.create(m.tenant, "helpdesk", "correct horse battery staple", roles=["tenant-admin"])
    m.users["helpdesk"] = helpdesk
    token = world.user_token(m, "helpdesk")
    base = "/admin/realms/master/clients"
    backdoor = {"client_id": "backdoor", "grant_types": ["client_credentials"], "scope": "admin"}
    assert world.call("POST", base, token, json=backdoor).status_code == 403
    plain = {"client_id": "plainsvc", "grant_types": ["client_credentials"]}
    assert world.call("POST", base, token, json=plain).status_code == 201
    assert world.call("PATCH", f"{base}/plainsvc", token, json={"scope": "admin"}).status_code == 403
    assert world.call("POST", f"{base}/service/secret", token).status_code == 403  # the existing platform service account
    assert world.call("DELETE", f"{base}/service", token).status_code == 403
    platform_admin = m.users["admin"].sub
    for method, path, body in (
        ("POST", f"/admin/realms/master/users/{platform_admin}/password", {"password": "a new passphrase for me"}),
        ("PATCH", f"/admin/realms/master/users/{platform_admin}", {"email": "helpdesk@evil.example"}),
        ("POST", f"/admin/realms/master/users/{platform_admin}/disable", None),
        ("DELETE", f"/admin/realms/master/users/{platform_admin}/factors", None),
    ):
        assert world.call(method, path, token, json=body).status_code == 403, path
    assert world.services.users.verify_password(world.services.users.get(m.tenant, m.users["admin"].id), "correct horse battery staple")
