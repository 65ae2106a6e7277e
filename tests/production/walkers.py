"""Logins and recoveries walked over HTTP that tell apart every kind of answer, for the fault and load tests.

Each walk ends with one :class:`Outcome`:

- ``ok``: the login reached the RP with a code and the token endpoint answered tokens (kept for a later
  check against the JWKS), or the recovery showed "Your account is recovered";
- ``unavailable``: a clean 503 (no stack trace, ``Retry-After``; OAuth ``temporarily_unavailable`` on
  protocol endpoints) answered some step: the walk stops there, as a person would try again later;
- ``lost``: state kept in Redis was gone after it came back empty (an expired run, a code or link that
  no longer exists): the walk stops, nothing half-done;
- ``error``: any other 5xx (a 500 is a bug);
- ``violation``: a check was skipped (a code at the RP before the second factor was asked, an ID
  token without ``otp``/``mfa``).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

import pyotp
import requests
from authlib.common.security import generate_token
from support.builders import REDIRECT_URI
from support.forms import find_form
from support.messages import find_code, find_link, find_manual_key
from support.walkers import query, submit


class Stop(Exception):
    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass
class Outcome:
    kind: str
    what: str
    detail: str = ""
    at: float = field(default_factory=time.monotonic)
    token: dict[str, Any] | None = None


def check(r: requests.Response, where: str) -> requests.Response:
    """Raise :class:`Stop` for a 503 (after checking it is clean) or another 5xx."""
    if r.status_code == 503:
        body = r.text
        if "Traceback" in body or not r.headers.get("Retry-After"):
            raise Stop("error", f"unclean 503 at {where}: {body[:300]}")
        protocol_json = "/protocol/" in r.url and r.headers.get("Content-Type", "").startswith("application/json")
        if protocol_json and r.json().get("error") != "temporarily_unavailable":
            raise Stop("error", f"503 without temporarily_unavailable at {where}")
        raise Stop("unavailable", where)
    if r.status_code >= 500:
        raise Stop("error", f"{r.status_code} at {where}: {r.text[:500]}")
    return r


def _post_form(session: requests.Session, page: requests.Response, where: str, **fields: str) -> requests.Response:
    if find_form(page.text) is None:
        raise Stop("lost", f"no form at {where}")
    return check(submit(session, page, timeout=30, **fields), where)


def _follow(session: requests.Session, r: requests.Response, where: str, stop_at: str = REDIRECT_URI) -> requests.Response:
    for _ in range(6):
        if r.status_code not in (302, 303) or r.headers["Location"].startswith(stop_at):
            return r
        r = check(session.get(urljoin(r.url, r.headers["Location"]), allow_redirects=False, timeout=30), where)
    raise Stop("error", f"redirect loop at {where}")


@dataclass
class LoginUser:
    username: str
    totp: pyotp.TOTP
    last_step: int = -1
    busy: bool = False


class UserPool:
    """Users with TOTP; each is lent to one walk at a time, and at most once per 30 s step (R-82)."""

    def __init__(self, users: list[LoginUser], reserved: int = 0) -> None:
        self.users = users
        self._lock = threading.Lock()
        #: The first ``reserved`` users are lent only after :meth:`release_reserved` (e.g. after an outage).
        self._held = reserved

    def release_reserved(self) -> None:
        with self._lock:
            self._held = 0

    def borrow(self, deadline: float) -> LoginUser | None:
        while time.monotonic() < deadline:
            step = int(time.time() // 30)
            if 30 - time.time() % 30 > 3:  # not too close to a step boundary
                with self._lock:
                    for u in self.users[self._held :]:
                        if not u.busy and u.last_step < step:
                            u.busy, u.last_step = True, step
                            return u
            time.sleep(0.1)
        return None

    def give_back(self, user: LoginUser) -> None:
        with self._lock:
            user.busy = False


def login(realm: Any, user: LoginUser, password: str) -> Outcome:
    """Password then TOTP through the hosted pages, then the token endpoint."""
    session = requests.Session()
    session.headers["Accept-Language"] = "en"
    try:
        rp = realm.rp("web")
        verifier = generate_token(48)
        url, state = rp.create_authorization_url(realm.endpoint("auth"), code_verifier=verifier, nonce=generate_token(16))
        r = check(session.get(url, allow_redirects=False, timeout=30), "authorize")
        if r.status_code not in (302, 303) or r.headers["Location"].startswith(REDIRECT_URI):
            raise Stop("violation" if "code=" in r.headers.get("Location", "") else "lost", f"authorize answered {r.status_code}")
        page = _follow(session, r, "sign-in page")
        if page.status_code != 200 or 'name="password"' not in page.text:
            raise Stop("lost", f"sign-in page {page.status_code}")
        r = _post_form(session, page, "password", username=user.username, password=password)
        if r.status_code in (302, 303):
            r = _follow(session, r, "after password")
            if r.status_code in (302, 303) and "code=" in r.headers["Location"]:
                raise Stop("violation", "a code reached the RP without the second factor")
        if r.status_code != 200 or 'name="code"' not in r.text:
            raise Stop("lost", f"after password {r.status_code}")
        r = _post_form(session, r, "totp", code=user.totp.now())
        r = _follow(session, r, "resume")
        if r.status_code not in (302, 303):
            raise Stop("lost", f"after totp {r.status_code}: {r.text[:200]}")
        params = query(r.headers["Location"])
        if "code" not in params or params.get("state") != state:
            raise Stop("lost", f"RP got {r.headers['Location'][:200]}")
        t = requests.post(
            realm.endpoint("token"),
            data={"grant_type": "authorization_code", "code": params["code"], "redirect_uri": REDIRECT_URI, "code_verifier": verifier},
            auth=("web", realm.secrets["web"]),
            timeout=30,
        )
        check(t, "token")
        if t.status_code != 200:
            raise Stop("lost", f"token {t.status_code} {t.text[:200]}")
        return Outcome("ok", "login", token=t.json())
    except Stop as stop:
        return Outcome(stop.kind, "login", stop.detail)
    except requests.RequestException as exc:
        return Outcome("error", "login", f"transport: {exc!r}")


@dataclass
class RecoveryAccount:
    tenant: Any
    user: Any
    username: str
    email: str
    phone: str
    old_factor_ids: set[str]
    busy: bool = False
    #: The secret enrolled by a walk that got as far as posting its code (None: never got there).
    new_secret: str | None = None
    completed_seen: bool = False
    final_post_unclear: bool = False


def recover(base: str, account: RecoveryAccount, password: str, read: Callable[[str, str], list[Any]], wait: float = 4.0) -> Outcome:
    """Second-factor reset: link by email, password, SMS code, new authenticator (R-97)."""
    session = requests.Session()
    session.headers["Accept-Language"] = "en"
    realm = f"{base}/realms/{account.tenant.slug}"
    try:
        page = check(session.get(f"{realm}/flow/self-recovery", timeout=30), "recovery request page")
        emails_before = len(read(account.email, "email"))
        r = _post_form(session, page, "recovery request", login=account.username)
        if r.status_code not in (200, 303):
            raise Stop("lost", f"request answered {r.status_code}")
        deadline = time.monotonic() + wait
        while len(read(account.email, "email")) <= emails_before:
            if time.monotonic() > deadline:
                raise Stop("lost", "no link mailed (the background job met the outage)")
            time.sleep(0.05)
        link = find_link(read(account.email, "email")[-1].text)
        assert link
        page = _follow(session, check(session.get(link, allow_redirects=False, timeout=30), "link"), "link")
        if page.status_code != 200 or ('name="path"' not in page.text and "second-factor" not in page.text):
            raise Stop("lost", f"link page {page.status_code}")
        page = _follow(session, _post_form(session, page, "choice", path="second-factor"), "choice")
        if 'type="password"' not in page.text:
            raise Stop("lost", "no password page")
        sms_before = len(read(account.phone, "sms"))
        page = _follow(session, _post_form(session, page, "recovery password", password=password), "recovery password")
        if 'name="code"' not in page.text:
            raise Stop("lost", f"no SMS page: {page.status_code}")
        deadline = time.monotonic() + wait
        while len(read(account.phone, "sms")) <= sms_before:
            if time.monotonic() > deadline:
                raise Stop("lost", "no SMS")
            time.sleep(0.05)
        code = find_code(read(account.phone, "sms")[-1].text)
        assert code
        page = _follow(session, _post_form(session, page, "sms code", code=code), "sms code")
        secret = find_manual_key(page.text)
        if not secret:
            raise Stop("lost", f"no enrolment page: {page.status_code}")
        totp = pyotp.TOTP(secret)
        if 30 - time.time() % 30 < 2:
            time.sleep(2.2)
        account.new_secret = secret
        try:
            page = _follow(session, _post_form(session, page, "enrolment", code=totp.now()), "enrolment")
        except Stop:
            account.final_post_unclear = True
            raise
        if "Your account is recovered" not in page.text:
            account.final_post_unclear = True
            raise Stop("lost", f"enrolment answered {page.status_code}")
        account.completed_seen = True
        return Outcome("ok", "recovery")
    except Stop as stop:
        return Outcome(stop.kind, "recovery", stop.detail)
    except requests.RequestException as exc:
        return Outcome("error", "recovery", f"transport: {exc!r}")


def summary(outcomes: list[Outcome]) -> Counter[tuple[str, str]]:
    return Counter((o.what, o.kind) for o in outcomes)
