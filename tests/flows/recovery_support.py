"""Helpers of the self-recovery tests: a tenant with the flow on, a user with TOTP and a phone, and a walker."""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import pyotp
import requests

from flows.self_recovery import requests as recovery_requests

PASSWORD = "correct horse battery staple"
PHONE = "+33612345678"

_INPUT = re.compile(r"<input\b[^>]*>", re.S)
_ATTR = re.compile(r'([\w-]+)="([^"]*)"')
_LINK = re.compile(r"https?://[^\s\"'<>]+/flow/self-recovery/enter\?token=[A-Za-z0-9_\-]+")
_LOCK = re.compile(r"https?://[^\s\"'<>]+/account/lock\?token=[A-Za-z0-9_\-]+")
_CODE = re.compile(r"\b(\d{6})\b")


def first_form(page: str) -> str:
    match = re.search(r"<form\b.*?</form>", page, re.S)
    assert match, "no form on the page"
    return match.group(0)


def inputs(page: str) -> dict[str, str]:
    """Name → value of the inputs of the page's first form."""
    out = {}
    for tag in _INPUT.findall(first_form(page)):
        attrs = {k: html.unescape(v) for k, v in _ATTR.findall(tag)}
        if "name" in attrs and attrs.get("type") != "submit":
            out[attrs["name"]] = attrs.get("value", "")
    return out


def form_action(page: str) -> str:
    match = re.search(r'<form method="post" action="([^"]+)"', page)
    assert match, "no form on the page"
    return html.unescape(match.group(1))


def link_in(text: str) -> str:
    match = _LINK.search(text)
    assert match, f"no recovery link in {text!r}"
    return html.unescape(match.group(0))


def lock_link_in(text: str) -> str:
    match = _LOCK.search(text)
    assert match, f"no lock link in {text!r}"
    return html.unescape(match.group(0))


def code_in(text: str) -> str:
    match = _CODE.search(text)
    assert match, f"no 6-digit code in {text!r}"
    return match.group(1)


def manual_key_in(page: str) -> str:
    """The enrolment page's key for typing by hand (groups of 4), without spaces."""
    match = re.search(r'<code[^>]*class="[^"]*secret[^"]*"[^>]*>([A-Z2-7 ]+)</code>', page)
    assert match, "no manual key on the enrolment page"
    return match.group(1).replace(" ", "")


@dataclass
class Account:
    tenant: Any
    user: Any
    totp: pyotp.TOTP
    email: str


@dataclass
class Walk:
    """One browser walking the recovery pages of a tenant on a live server."""

    server: Any
    tenant: Any
    browser: requests.Session = field(default_factory=requests.Session)
    page: requests.Response | None = None

    def url(self, path: str) -> str:
        return f"{self.server.url}/realms/{self.tenant.slug}{path}"

    def get(self, url: str, **kw: Any) -> requests.Response:
        self.page = self.browser.get(url, timeout=30, **kw)
        return self.page

    def post(self, headers: dict[str, str] | None = None, **fields: str) -> requests.Response:
        assert self.page is not None
        data = inputs(self.page.text)
        data.update(fields)
        self.page = self.browser.post(urljoin(self.page.url, form_action(self.page.text)), data=data, headers=headers, timeout=30)
        return self.page

    def request_link(self, login: str, **headers: str) -> requests.Response:
        self.get(self.url("/flow/self-recovery"), headers=headers or None)
        response = self.post(headers=headers or None, login=login)
        recovery_requests.drain()
        return response


def make_account(services: Any, config: dict[str, Any] | None = None, phone: str | None = PHONE, locale: str = "en") -> Account:
    suffix = secrets.token_hex(4)
    base = {"flows": {"self-recovery": {"enabled": True, "settings": {}}}, "branding": {"support_url": "https://support.example.org"}}
    if config:
        base = _merge(base, config)
    tenant = services.tenants.create(f"r-{suffix}", display_name=f"Acme {suffix}", config=base)
    email = f"bob.{suffix}@example.org"
    user = services.users.create(tenant, f"bob{suffix}", PASSWORD, email=email, phone=phone, locale=locale)
    if phone:
        services.factors.set_phone(tenant, user, phone)
    _factor, uri = services.factors.add_totp(tenant, user, label="old phone")
    return Account(tenant=tenant, user=user, totp=pyotp.parse_uri(uri), email=email)


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)
