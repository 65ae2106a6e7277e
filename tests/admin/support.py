"""Admin API test support: tenants with admins on a live server, tokens asked of the server itself.

- ``AdminWorld``: a live server with the ``master`` tenant (a platform service account and a
  platform-admin user), and tenants made by :meth:`AdminWorld.tenant` (a tenant-admin user,
  a plain user, a service account with ``admin``, and an RP client without it).
- Tokens: ``client_credentials`` for service accounts; the code flow with PKCE through a browser
  session (``requests``) for users, exactly as an RP would (tests/support/walkers.py).
- :func:`check_response`: a response validated against the OpenAPI document's schema for it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from conftest import LiveServer, random_slug
from joserfc import jwt
from jsonschema import Draft202012Validator
from support.builders import PASSWORD

REDIRECT_URI = "https://rp.example.com/callback"


@dataclass
class Realm:
    slug: str
    tenant: Any
    users: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)


class AdminWorld:
    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.services = server.services
        self.document = requests.get(f"{server.url}/admin/openapi.json", timeout=10).json()
        master = self.services.tenants.get("master") or self.services.tenants.create("master")
        self.master = self._populate(master, platform=True)

    def tenant(self, slug: str | None = None, **kwargs: Any) -> Realm:
        return self._populate(self.services.tenants.create(slug or random_slug("adm"), **kwargs), platform=False)

    def _populate(self, tenant: Any, platform: bool) -> Realm:
        s = self.services
        realm = Realm(tenant.slug, tenant)
        admin_role = "platform-admin" if platform else "tenant-admin"
        realm.users["admin"] = s.users.create(tenant, "admin", PASSWORD, email="admin@example.com", roles=[admin_role])
        realm.users["plain"] = s.users.create(tenant, "plain", PASSWORD, email="plain@example.com", phone="+33612345678")
        realm.users["victim"] = s.users.create(tenant, "victim", PASSWORD, email="victim@example.com")
        _, realm.secrets["service"] = s.clients.create(tenant, "service", [], grant_types=["client_credentials"], scope="admin")
        _, realm.secrets["rp-service"] = s.clients.create(tenant, "rp-service", [], grant_types=["client_credentials"])
        _, realm.secrets["console-rp"] = s.clients.create(tenant, "console-rp", [REDIRECT_URI], scope="openid admin")
        return realm

    # -- tokens --------------------------------------------------------------------

    def token_endpoint(self, slug: str) -> str:
        return f"{self.server.realm(slug)}/protocol/openid-connect/token"

    def service_token(self, realm: Realm, client: str = "service", scope: str = "admin") -> str:
        r = requests.post(self.token_endpoint(realm.slug), data={"grant_type": "client_credentials", "scope": scope}, auth=(client, realm.secrets[client]), timeout=10)
        assert r.status_code == 200, r.text
        return str(r.json()["access_token"])

    def user_token(self, realm: Realm, username: str = "admin", scope: str = "openid admin") -> str:
        """A user's access token through the code flow with PKCE (a signed-in browser, an Authlib RP)."""
        s = self.services
        browser = requests.Session()
        sso = s.sessions.establish(realm.tenant, realm.users[username].id, ["pwd"], "urn:idp:acr:pwd")
        browser.cookies.set("idp_sso", sso.token, path=f"/realms/{realm.slug}/")
        rp = OAuth2Session("console-rp", realm.secrets["console-rp"], scope=scope, redirect_uri=REDIRECT_URI, code_challenge_method="S256")
        verifier = generate_token(48)
        url, _ = rp.create_authorization_url(f"{self.server.realm(realm.slug)}/protocol/openid-connect/auth", code_verifier=verifier, nonce=generate_token(16))
        r = browser.get(url, allow_redirects=False)
        assert r.status_code == 302, r.text
        token = rp.fetch_token(self.token_endpoint(realm.slug), authorization_response=r.headers["Location"], code_verifier=verifier)
        return str(token["access_token"])

    # -- calls ---------------------------------------------------------------------

    def call(self, method: str, path: str, token: str | None = None, check: bool = True, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = requests.request(method, f"{self.server.url}{path}", headers=headers, timeout=20, **kwargs)
        if check:
            check_response(self.document, method, path, r)
        return r


def _template_match(template: str, path: str) -> bool:
    a, b = template.strip("/").split("/"), path.split("?")[0].strip("/").split("/")
    return len(a) == len(b) and all(x == y or (x.startswith("{") and x.endswith("}")) for x, y in zip(a, b))


def operation_of(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    matches = [t for t in document["paths"] if _template_match(t, path)]
    assert matches, f"{path} is not in the document"
    exact = min(matches, key=lambda t: t.count("{"))  # literal segments win over parameters
    return document["paths"][exact][method.lower()]  # type: ignore[no-any-return]


def check_response(document: dict[str, Any], method: str, path: str, r: requests.Response) -> None:
    """The response's status is documented for the operation and its body matches the documented schema."""
    op = operation_of(document, method, path)
    assert str(r.status_code) in op["responses"], f"{method} {path}: undocumented status {r.status_code}: {r.text[:300]}"
    content = op["responses"][str(r.status_code)].get("content")
    if content is None:
        assert not r.content, f"{method} {path}: {r.status_code} should have no body"
        return
    assert r.headers["Content-Type"].startswith("application/json"), r.headers["Content-Type"]
    schema = {"components": document["components"], **content["application/json"]["schema"]}
    errors = sorted(Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER).iter_errors(r.json()), key=str)
    assert not errors, f"{method} {path} {r.status_code}: {errors[0]}"


def expired_token(world: AdminWorld, realm: Realm) -> str:
    """A token signed by the tenant's key with every claim right but ``exp`` in the past."""
    key = world.services.keys.signing_key(realm.tenant)
    now = int(time.time())
    claims = {
        "iss": realm.tenant.issuer, "sub": "service", "aud": "idp-admin", "client_id": "service",
        "iat": now - 600, "exp": now - 300, "jti": generate_token(16), "scope": "admin",
    }
    return jwt.encode({"alg": key.alg, "kid": key.kid, "typ": "at+jwt"}, claims, key.private, algorithms=[key.alg])


def query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
