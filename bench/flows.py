"""A threaded Python load generator for the multi-step browser flows (full login; self-recovery), bounded in time."""

from __future__ import annotations

import html
import json
import re
import secrets
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pyotp
import requests

from bench.seed import (
    CODE_CHALLENGE,
    CODE_VERIFIER,
    PASSWORD,
    REDIRECT_URI,
    TOTP_SECRET,
)

_INPUT = re.compile(r"<input\b[^>]*>", re.DOTALL)
_ATTR = re.compile(r'([\w-]+)="([^"]*)"')
_FORM = re.compile(r"<form\b.*?</form>", re.DOTALL)
_ACTION = re.compile(r'<form method="post" action="([^"]+)"')
_LINK = re.compile(r"https?://[^\s\"'<>]+/flow/self-recovery/enter\?token=[A-Za-z0-9_\-]+")
_CODE = re.compile(r"\b(\d{6})\b")
_KEY = re.compile(r'<code[^>]*class="[^"]*secret[^"]*"[^>]*>([A-Z2-7 ]+)</code>')


class FlowError(RuntimeError):
    pass


def form(page: requests.Response) -> tuple[str, dict[str, str]]:
    """The first form of a page: its absolute action URL and its inputs."""
    first = _FORM.search(page.text)
    if first is None:
        raise FlowError(f"no form at {page.url} ({page.status_code})")
    fields: dict[str, str] = {}
    for tag in _INPUT.findall(first.group(0)):
        attrs = {k: html.unescape(v) for k, v in _ATTR.findall(tag)}
        if "name" in attrs and attrs.get("type") != "submit":
            fields[attrs["name"]] = attrs.get("value", "")
    action = _ACTION.search(first.group(0))
    return urljoin(page.url, html.unescape(action.group(1)) if action else page.url), fields


def _ok(r: requests.Response, *codes: int) -> requests.Response:
    if r.status_code not in (codes or (200,)):
        raise FlowError(f"{r.request.method} {urlsplit(r.url).path} answered {r.status_code}")
    return r


@dataclass
class FlowResult:
    done: int = 0
    errors: int = 0
    requests: int = 0
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0
    first_error: str = ""

    def summary(self) -> dict[str, Any]:
        lat = sorted(self.latencies)
        return {
            "flows_per_s": self.done / self.seconds if self.seconds else 0.0,
            "rps": self.requests / self.seconds if self.seconds else 0.0,
            "p50_ms": statistics.median(lat) * 1000 if lat else None,
            "p99_ms": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else None,
            "errors": self.errors,
            "done": self.done,
        }


class Counting(requests.Session):
    """A browser that counts its requests."""

    def __init__(self, counter: list[int]) -> None:
        super().__init__()
        self._counter = counter
        self.headers["Accept-Language"] = "en"

    def request(self, *a: Any, **kw: Any) -> requests.Response:  # type: ignore[override]
        kw.setdefault("timeout", 30)
        self._counter[0] += 1
        return super().request(*a, **kw)


def run_load(one: Callable[[int, requests.Session], None], concurrency: int, duration: float, max_flows: int) -> FlowResult:
    """Run ``one(i, browser)`` from ``concurrency`` threads until ``duration`` seconds or ``max_flows`` flows."""
    res = FlowResult()
    lock = threading.Lock()
    nxt = [0]
    deadline = time.monotonic() + duration

    def worker() -> None:
        counter = [0]
        while time.monotonic() < deadline:
            with lock:
                i = nxt[0]
                if i >= max_flows:
                    break
                nxt[0] += 1
            browser = Counting(counter)
            t = time.perf_counter()
            try:
                one(i, browser)
                ok = True
            except Exception as exc:
                ok = False
                with lock:
                    res.first_error = res.first_error or f"{type(exc).__name__}: {exc}"
            elapsed = time.perf_counter() - t
            browser.close()
            with lock:
                if ok:
                    res.done += 1
                    res.latencies.append(elapsed)
                else:
                    res.errors += 1
        with lock:
            res.requests += counter[0]

    started = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + 120)
    res.seconds = time.monotonic() - started
    return res


def login_once(base: str, tenant: str, client_id: str, secret: str, username: str, browser: requests.Session) -> None:
    """authorize → login page → password POST → TOTP POST → code at the redirect URI → token."""
    realm = f"{base}/realms/{tenant}"
    params = {
        "client_id": client_id, "response_type": "code", "scope": "openid profile email", "redirect_uri": REDIRECT_URI,
        "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
        "code_challenge": CODE_CHALLENGE, "code_challenge_method": "S256",
    }
    r = _ok(browser.get(f"{realm}/protocol/openid-connect/auth", params=params, allow_redirects=False), 302, 303)
    page = _ok(browser.get(urljoin(r.url, r.headers["Location"])))
    action, fields = form(page)
    page = _ok(browser.post(action, data={**fields, "username": username, "password": PASSWORD}))
    if 'name="code"' not in page.text:
        raise FlowError("no TOTP page after the password")
    action, fields = form(page)
    r = _ok(browser.post(action, data={**fields, "code": pyotp.TOTP(TOTP_SECRET).now()}, allow_redirects=False), 302, 303)
    for _ in range(5):
        location = urljoin(r.url, r.headers["Location"])
        if location.startswith(REDIRECT_URI):
            break
        r = _ok(browser.get(location, allow_redirects=False), 302, 303)
    else:
        raise FlowError("no redirect to the client")
    code = parse_qs(urlsplit(location).query).get("code", [""])[0]
    if not code:
        raise FlowError(f"no code in the redirect: {location[:120]}")
    token = _ok(
        browser.post(
            f"{realm}/protocol/openid-connect/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": CODE_VERIFIER},
            auth=(client_id, secret),
        )
    )
    if "id_token" not in token.json():
        raise FlowError("no id_token")


_PASSKEY_FORM = re.compile(r'<form id="passkey-sign-in" method="post" action="([^"]+)" data-passkey="get" data-passkey-options="([^"]+)".*?</form>', re.DOTALL)


def passkey_login_once(base: str, tenant: str, client_id: str, secret: str, key: Any, browser: requests.Session) -> None:
    """authorize → login page → « Sign in with a passkey » (a software passkey signs the page's challenge) → code → token."""
    realm = f"{base}/realms/{tenant}"
    params = {
        "client_id": client_id, "response_type": "code", "scope": "openid profile email", "redirect_uri": REDIRECT_URI,
        "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
        "code_challenge": CODE_CHALLENGE, "code_challenge_method": "S256",
    }
    r = _ok(browser.get(f"{realm}/protocol/openid-connect/auth", params=params, allow_redirects=False), 302, 303)
    page = _ok(browser.get(urljoin(r.url, r.headers["Location"])))
    found = _PASSKEY_FORM.search(page.text)
    if found is None:
        raise FlowError("no passkey form on the sign-in page")
    fields = {}
    for tag in _INPUT.findall(found.group(0)):
        attrs = {k: html.unescape(v) for k, v in _ATTR.findall(tag)}
        fields[attrs["name"]] = attrs.get("value", "")
    fields["credential"] = key.assertion(html.unescape(found.group(2)))
    r = _ok(browser.post(urljoin(page.url, html.unescape(found.group(1))), data=fields, allow_redirects=False), 302, 303)
    _finish(browser, realm, client_id, secret, r)


def _finish(browser: requests.Session, realm: str, client_id: str, secret: str, r: requests.Response) -> None:
    """Follow the redirects to the client, then exchange the code for tokens."""
    for _ in range(5):
        location = urljoin(r.url, r.headers["Location"])
        if location.startswith(REDIRECT_URI):
            break
        r = _ok(browser.get(location, allow_redirects=False), 302, 303)
    else:
        raise FlowError("no redirect to the client")
    code = parse_qs(urlsplit(location).query).get("code", [""])[0]
    if not code:
        raise FlowError(f"no code in the redirect: {location[:120]}")
    token = _ok(
        browser.post(
            f"{realm}/protocol/openid-connect/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": CODE_VERIFIER},
            auth=(client_id, secret),
        )
    )
    if "id_token" not in token.json():
        raise FlowError("no id_token")


class Outbox:
    """Reads the dev outbox folder incrementally (new JSON records only), by recipient."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: set[str] = set()
        self._by_to: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def _scan(self) -> None:
        if not self.path.is_dir():
            return
        for f in self.path.glob("*.json"):
            if f.name in self._seen or f.name.startswith(".tmp-"):
                continue
            self._seen.add(f.name)
            data = json.loads(f.read_text(encoding="utf-8"))
            self._by_to.setdefault(data["to"], []).append(data)

    def wait(self, to: str, kind: str, after: int = 0, timeout: float = 30.0) -> dict[str, Any]:
        """The ``after``-th (0-based) message of ``kind`` to ``to``, waiting for it."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                self._scan()
                found = [m for m in self._by_to.get(to, []) if m["kind"] == kind]
            if len(found) > after:
                return sorted(found, key=lambda m: m["created_at"])[after]
            if time.monotonic() > deadline:
                raise FlowError(f"no {kind} to {to} in the outbox")
            time.sleep(0.02)


def recovery_once(base: str, tenant: str, username: str, email: str, phone: str, outbox: Outbox, browser: requests.Session) -> None:
    """Request, emailed link, password, SMS code, new authenticator: the second-factor path of self-recovery."""
    realm = f"{base}/realms/{tenant}"
    page = _ok(browser.get(f"{realm}/flow/self-recovery"))
    action, fields = form(page)
    _ok(browser.post(action, data={**fields, "login": username}))
    link = _LINK.search(outbox.wait(email, "email")["text"])
    if link is None:
        raise FlowError("no link in the email")
    page = _ok(browser.get(html.unescape(link.group(0))))
    action, fields = form(page)
    page = _ok(browser.post(action, data={**fields, "path": "second-factor"}))
    action, fields = form(page)
    page = _ok(browser.post(action, data={**fields, "password": PASSWORD}))
    code = _CODE.search(outbox.wait(phone, "sms")["text"])
    if code is None:
        raise FlowError("no code in the SMS")
    action, fields = form(page)
    page = _ok(browser.post(action, data={**fields, "code": code.group(1)}))
    key = _KEY.search(page.text)
    if key is None:
        raise FlowError("no enrolment page after the SMS code")
    totp = pyotp.TOTP(key.group(1).replace(" ", ""))
    if 30 - time.time() % 30 < 1.0:
        time.sleep(1.1)
    action, fields = form(page)
    page = _ok(browser.post(action, data={**fields, "code": totp.now()}))
    if "Your account is recovered" not in page.text:
        raise FlowError("recovery did not complete")
