"""The relying party side of the protocol tests: a realm on a live server, and Authlib's client playing the RP."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from conftest import LiveServer
from joserfc import jwt
from joserfc.jwk import KeySet

PASSWORD = "correct horse battery staple"
REDIRECT_URI = "https://rp.example.com/callback"
POST_LOGOUT_URI = "https://rp.example.com/signed-out"
PUBLIC_REDIRECT_URI = "http://127.0.0.1:7777/native/callback"


@dataclass
class Realm:
    """A tenant on a live server with a user and four clients (basic, post, public, service)."""

    server: LiveServer
    tenant: Any
    user: Any
    secrets: dict[str, str] = field(default_factory=dict)

    @property
    def services(self) -> Any:
        return self.server.services

    @property
    def issuer(self) -> str:
        return str(self.tenant.issuer)

    @property
    def base(self) -> str:
        return self.server.realm(self.tenant.slug)

    def endpoint(self, name: str) -> str:
        if name == "discovery":
            return f"{self.base}/.well-known/openid-configuration"
        return f"{self.base}/protocol/openid-connect/{name}"

    def browser(self, user: Any = None, acr: str = "urn:idp:acr:pwd") -> requests.Session:
        """A browser signed in as ``user`` (default: the realm's user) through the session service."""
        browser = requests.Session()
        sso = self.services.sessions.establish(self.tenant, (user or self.user).id, ["pwd"], acr)
        browser.cookies.set("idp_sso", sso.token, path=f"/realms/{self.tenant.slug}/")
        return browser

    def rp(self, client_id: str = "web", scope: str = "openid profile email phone offline_access", **kwargs: Any) -> OAuth2Session:
        """Authlib's OAuth 2.0 client, configured as the RP ``client_id`` of this realm."""
        redirect = PUBLIC_REDIRECT_URI if client_id == "native" else REDIRECT_URI
        method = "client_secret_post" if client_id == "web-post" else ("none" if client_id == "native" else "client_secret_basic")
        return OAuth2Session(
            client_id,
            self.secrets.get(client_id),
            scope=scope,
            redirect_uri=redirect,
            code_challenge_method="S256",
            token_endpoint_auth_method=method,
            **kwargs,
        )

    def authorize(self, browser: requests.Session, rp: OAuth2Session, **params: Any) -> tuple[requests.Response, str, str]:
        """Send the browser to the authorization endpoint: (response, code_verifier, state)."""
        verifier = generate_token(48)
        url, state = rp.create_authorization_url(self.endpoint("auth"), code_verifier=verifier, **params)
        return browser.get(url, allow_redirects=False), verifier, state

    def code_flow(self, browser: requests.Session | None = None, client_id: str = "web", **params: Any) -> tuple[OAuth2Session, dict[str, Any]]:
        """A whole code flow with a signed-in browser; returns the RP session and its token."""
        browser = browser or self.browser()
        rp = self.rp(client_id)
        response, verifier, _ = self.authorize(browser, rp, nonce=generate_token(16), **params)
        assert response.status_code == 302, response.text
        token = rp.fetch_token(self.endpoint("token"), authorization_response=response.headers["Location"], code_verifier=verifier)
        return rp, dict(token)

    def jwks(self) -> KeySet:
        return KeySet.import_key_set(requests.get(self.endpoint("certs"), timeout=10).json())

    def verify(self, token: str, **expected: Any) -> dict[str, Any]:
        """Claims of a JWT verified against the published JWKS (and ``iss``)."""
        decoded = jwt.decode(token, self.jwks(), algorithms=["RS256", "ES256"])
        claims = dict(decoded.claims)
        assert claims["iss"] == self.issuer
        for name, value in expected.items():
            assert claims[name] == value, name
        return claims

    def userinfo(self, access_token: str) -> requests.Response:
        return requests.get(self.endpoint("userinfo"), headers={"Authorization": f"Bearer {access_token}"}, timeout=10)

    def introspect(self, token: str, client_id: str = "web") -> dict[str, Any]:
        r = requests.post(self.endpoint("token/introspect"), data={"token": token}, auth=(client_id, self.secrets[client_id]), timeout=10)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


def make_realm(server: LiveServer, slug: str, config: dict[str, Any] | None = None) -> Realm:
    """A tenant with a user and the clients ``web`` (basic), ``web-post`` (post), ``native`` (public), ``service`` (client credentials)."""
    services = server.services
    tenant = services.tenants.create(slug, config=config or {})
    user = services.users.create(
        tenant, "alice", PASSWORD, email="alice@example.com", phone="+33612345678", given_name="Alice", family_name="Martin"
    )
    realm = Realm(server=server, tenant=tenant, user=user)
    _, realm.secrets["web"] = services.clients.create(tenant, "web", [REDIRECT_URI], post_logout_redirect_uris=[POST_LOGOUT_URI])
    _, realm.secrets["web-post"] = services.clients.create(tenant, "web-post", [REDIRECT_URI], auth_method="client_secret_post")
    services.clients.create(tenant, "native", [PUBLIC_REDIRECT_URI], public=True)
    _, realm.secrets["service"] = services.clients.create(tenant, "service", [], grant_types=["client_credentials"])
    return realm


def query(location: str) -> dict[str, str]:
    """The query parameters of a redirect ``Location``."""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


class FormParser(HTMLParser):
    """The first ``<form>`` of a page: its action and its named inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self._in_form = False
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and not self._done:
            self._in_form = True
            self.action = a.get("action") or ""
        elif tag == "input" and self._in_form and a.get("name"):
            self.fields[str(a["name"])] = a.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._in_form:
            self._in_form = False
            self._done = True


def parse_form(html: str) -> FormParser:
    parser = FormParser()
    parser.feed(html)
    return parser
