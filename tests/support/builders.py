"""The one builder of the tests: a tenant with a user (optionally a phone and TOTP) on a service layer, and
the shapes the suites use it in: :class:`Site` (hosted pages), :class:`Account` (self-recovery) and
:class:`Realm` (a relying party's view, with clients)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import pyotp
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

PASSWORD = "correct horse battery staple"
PHONE = "+33612345678"
REDIRECT_URI = "https://rp.example.com/callback"
POST_LOGOUT_URI = "https://rp.example.com/signed-out"
PUBLIC_REDIRECT_URI = "http://127.0.0.1:7777/native/callback"


def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """``b`` deep-merged over ``a`` (a tenant config patch over a base)."""
    out = dict(a)
    for k, v in b.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@dataclass
class Account:
    """A tenant and one user of it with :data:`PASSWORD` (``totp``: the user's authenticator, if enrolled)."""

    tenant: Any
    user: Any
    totp: pyotp.TOTP | None
    email: str | None


def make_account(
    services: Any,
    slug: str,
    username: str,
    *,
    display_name: str | None = None,
    config: dict[str, Any] | None = None,
    email: str | None = None,
    phone: str | None = None,
    phone_factor: bool = False,
    totp: bool = False,
    totp_label: str | None = None,
    locale: str | None = None,
    **profile: Any,
) -> Account:
    """Tenant ``slug`` on ``services`` (a service layer, or a live server's ``.services``) with user ``username``.

    ``phone`` goes into the profile; ``phone_factor`` also registers it as the SMS factor; ``totp``
    enrols an authenticator (``totp_label``) whose :class:`pyotp.TOTP` is returned.
    """
    services = getattr(services, "services", services)
    kwargs: dict[str, Any] = {"config": config or {}}
    if display_name is not None:
        kwargs["display_name"] = display_name
    tenant = services.tenants.create(slug, **kwargs)
    user = services.users.create(tenant, username, PASSWORD, email=email, phone=phone, locale=locale, **profile)
    if phone and phone_factor:
        services.factors.set_phone(tenant, user, phone)
    authenticator = None
    if totp:
        extra = {"label": totp_label} if totp_label is not None else {}
        _factor, uri = services.factors.add_totp(tenant, user, **extra)
        authenticator = pyotp.parse_uri(uri)
    return Account(tenant=tenant, user=user, totp=authenticator, email=email)


# -- the hosted pages' shape ------------------------------------------------------------------------------------


@dataclass
class Site:
    """A live server, one tenant on it, and one user with :data:`PASSWORD`."""

    server: Any
    tenant: Any
    username: str
    email: str

    @property
    def services(self) -> Any:
        return self.server.services

    def url(self, path: str = "") -> str:
        return f"{self.server.url}/realms/{self.tenant.slug}{path}"

    def browser(self, lang: str | None = None) -> requests.Session:
        """A new browser (cookie jar) that speaks ``lang``."""
        from support.walkers import browser

        return browser(lang)

    def walker(self, browser: requests.Session | None = None) -> Any:
        """A :class:`support.walkers.Walker` of this site's pages with ``browser`` (default: a new one)."""
        from support.walkers import Walker

        return Walker(self.server, self.tenant, browser if browser is not None else requests.Session())

    def configure(self, patch: dict[str, Any]) -> None:
        self.tenant = self.services.tenants.update_config(self.tenant.slug, patch)


def make_site(server: Any, config: dict[str, Any] | None = None, locale: str | None = None) -> Site:
    """A tenant ``w-…`` (config ``config``) on the live server with a user ``alice…`` (email, no factor)."""
    suffix = secrets.token_hex(4)
    email = f"alice.{suffix}@example.org"
    made = make_account(server, f"w-{suffix}", f"alice{suffix}", display_name=f"Acme {suffix}", config=config, email=email, locale=locale)
    return Site(server=server, tenant=made.tenant, username=made.user.username, email=email)


# -- the self-recovery shape ------------------------------------------------------------------------------------

RECOVERY_CONFIG: dict[str, Any] = {
    "flows": {"self-recovery": {"enabled": True, "settings": {}}},
    "branding": {"support_url": "https://support.example.org"},
}


def make_recovery_account(services: Any, config: dict[str, Any] | None = None, phone: str | None = PHONE, locale: str = "en") -> Account:
    """A tenant ``r-…`` with the self-recovery flow on (and ``config`` merged over it), and a user ``bob…`` with
    an email, TOTP (``old phone``) and, unless ``phone`` is None, ``phone`` as SMS factor."""
    suffix = secrets.token_hex(4)
    base = merge(RECOVERY_CONFIG, config) if config else RECOVERY_CONFIG
    return make_account(
        services,
        f"r-{suffix}",
        f"bob{suffix}",
        display_name=f"Acme {suffix}",
        config=base,
        email=f"bob.{suffix}@example.org",
        phone=phone,
        phone_factor=True,
        totp=True,
        totp_label="old phone",
        locale=locale,
    )


# -- the relying party's shape ----------------------------------------------------------------------------------


@dataclass
class Realm:
    """A tenant on a live server with a user and four clients (basic, post, public, service), seen by a RP."""

    server: Any
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


def make_realm(server: Any, slug: str, config: dict[str, Any] | None = None) -> Realm:
    """A tenant with a user ``alice`` and the clients ``web`` (basic), ``web-post`` (post), ``native`` (public), ``service`` (client credentials)."""
    services = server.services
    made = make_account(
        services, slug, "alice", config=config, email="alice@example.com", phone=PHONE, given_name="Alice", family_name="Martin"
    )
    tenant = made.tenant
    realm = Realm(server=server, tenant=tenant, user=made.user)
    _, realm.secrets["web"] = services.clients.create(tenant, "web", [REDIRECT_URI], post_logout_redirect_uris=[POST_LOGOUT_URI])
    _, realm.secrets["web-post"] = services.clients.create(tenant, "web-post", [REDIRECT_URI], auth_method="client_secret_post")
    services.clients.create(tenant, "native", [PUBLIC_REDIRECT_URI], public=True)
    _, realm.secrets["service"] = services.clients.create(tenant, "service", [], grant_types=["client_credentials"])
    return realm
