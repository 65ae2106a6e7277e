"""The account console walked by a browser without JavaScript (``requests``): a tenant, a user with an authenticator,
and the sign-in through the tenant's own pages (password, then a TOTP code) back to the console."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pyotp
import requests
from conftest import random_slug
from support.builders import PASSWORD
from support.forms import find_form, forms
from support.walkers import submit


def next_totp(totp: pyotp.TOTP, used: set[str]) -> str:
    """A code of ``totp`` not used yet (a code is accepted once, R-82) that will not cross a step boundary in flight."""
    while True:
        if 30 - time.time() % 30 < 2:
            time.sleep(30 - time.time() % 30 + 0.1)
        code = str(totp.now())
        if code not in used:
            used.add(code)
            return code
        time.sleep(30 - time.time() % 30 + 0.1)


@dataclass
class Holder:
    """One user of one tenant, with a browser of their own."""

    server: Any
    tenant: Any
    user: Any
    totp: pyotp.TOTP | None
    password: str = PASSWORD
    browser: requests.Session = field(default_factory=requests.Session)
    used: set[str] = field(default_factory=set)
    #: Whether the last sign-in asked for a second factor.
    asked_code: bool = False

    @property
    def base(self) -> str:
        return f"{self.server.url}/realms/{self.tenant.slug}/account"

    def get(self, path: str = "", **kw: Any) -> requests.Response:
        return self.browser.get(f"{self.base}{path}", timeout=30, **kw)

    def sign_in_from(self, page: requests.Response) -> requests.Response:
        """From a sign-in page: the password, then (when asked) a TOTP code; redirects followed to the console."""
        assert find_form(page.text, "password") is not None, f"{page.url}: {page.text[:500]}"
        answer = submit(self.browser, page, "password", username=self.user.username, password=self.password, allow_redirects=True)
        self.asked_code = find_form(answer.text, "code") is not None
        if self.asked_code and self.totp is not None:
            answer = submit(self.browser, answer, "code", code=next_totp(self.totp, self.used), allow_redirects=True)
        return answer

    def open(self, path: str = "") -> requests.Response:
        """GET a console page, signing in when the console sends the browser to the sign-in."""
        page = self.get(path)
        if find_form(page.text, "password") is not None:
            page = self.sign_in_from(page)
        assert page.status_code == 200, f"{page.url} {page.status_code}: {page.text[:500]}"
        return page

    def post(self, page: requests.Response, to: str, **fields: str) -> requests.Response:
        """Submit the form of ``page`` that posts to the console's ``to`` (e.g. ``/security/password``); redirects followed."""
        path = f"/realms/{self.tenant.slug}/account{to}"
        index = next((i for i, f in enumerate(forms(page.text)) if f.action.split("?")[0] == path), None)
        assert index is not None, f"no form to {path} on {page.url}: {page.text[:800]}"
        return submit(self.browser, page, index, allow_redirects=True, **fields)


def make_holder(server: Any, mfa: str = "optional", totp: bool = True, email: str | None = None, **tenant_kwargs: Any) -> Holder:
    services = server.services
    tenant = services.tenants.create(random_slug("acc"), **tenant_kwargs)
    if mfa != "optional":
        tenant = services.tenants.update_config(tenant.slug, {"mfa": {"policy": mfa}})
    user = services.users.create(tenant, random_slug("u"), PASSWORD, email=email or "holder@example.com")
    secret = None
    if totp:
        secret = pyotp.random_base32()
        services.factors.add_totp(tenant, user, secret, label="Phone")
    return Holder(server, services.tenants.require(tenant.slug), user, pyotp.TOTP(secret) if secret else None)
