"""Helpers for the hosted-page tests: a live server with a tenant and a user, and a form reader."""

from __future__ import annotations

import html
import re
import secrets
from dataclasses import dataclass
from typing import Any

import requests

PASSWORD = "correct horse battery staple"

_INPUT = re.compile(r"<input\b[^>]*>", re.DOTALL)
_ATTR = re.compile(r'(\w[\w-]*)="([^"]*)"')


def inputs(page: str) -> dict[str, str]:
    """Name → value of every ``<input>`` of ``page``."""
    out = {}
    for tag in _INPUT.findall(page):
        attrs = {k: html.unescape(v) for k, v in _ATTR.findall(tag)}
        if "name" in attrs:
            out[attrs["name"]] = attrs.get("value", "")
    return out


def form_action(page: str) -> str:
    match = re.search(r'<form method="post" action="([^"]+)"', page)
    assert match, "no form on the page"
    return html.unescape(match.group(1))


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
        session = requests.Session()
        if lang:
            session.headers["Accept-Language"] = lang
        return session

    def open_login(self, browser: requests.Session, **params: str) -> requests.Response:
        """GET the tenant's sign-in page (following the 303 to the flow page)."""
        response = browser.get(self.url("/login"), params=params or None, timeout=10)
        assert response.status_code == 200, response.text
        return response

    def post_login(self, browser: requests.Session, page: requests.Response, username: str, password: str) -> requests.Response:
        fields = inputs(page.text)
        fields.update(username=username, password=password)
        return browser.post(
            requests.compat.urljoin(page.url, form_action(page.text)), data=fields, timeout=30, allow_redirects=False
        )

    def configure(self, patch: dict[str, Any]) -> None:
        self.tenant = self.services.tenants.update_config(self.tenant.slug, patch)


def make_site(server: Any, config: dict[str, Any] | None = None, locale: str | None = None) -> Site:
    suffix = secrets.token_hex(4)
    tenant = server.services.tenants.create(f"w-{suffix}", display_name=f"Acme {suffix}", config=config or {})
    username = f"alice{suffix}"
    email = f"alice.{suffix}@example.org"
    server.services.users.create(tenant, username, PASSWORD, email=email, locale=locale)
    return Site(server=server, tenant=tenant, username=username, email=email)
