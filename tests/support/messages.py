"""What the tests read in mails, texts and pages: recovery and lock links, 6-digit codes, the manual TOTP key;
the dev outbox; and :func:`wait_for`."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from typing import Any

_LINK = re.compile(r"https?://[^\s\"'<>]+/flow/self-recovery/enter\?token=[A-Za-z0-9_\-]+")
_LOCK = re.compile(r"https?://[^\s\"'<>]+/account/lock\?token=[A-Za-z0-9_\-]+")
_CODE = re.compile(r"\b(\d{6})\b")
_KEY = re.compile(r'<code[^>]*class="[^"]*secret[^"]*"[^>]*>([A-Z2-7 ]+)</code>')


def find_link(text: str) -> str | None:
    """The self-recovery link in ``text`` (a mail), unescaped, or None."""
    match = _LINK.search(text)
    return html.unescape(match.group(0)) if match else None


def link_in(text: str) -> str:
    link = find_link(text)
    assert link, f"no recovery link in {text!r}"
    return link


def lock_link_in(text: str) -> str:
    match = _LOCK.search(text)
    assert match, f"no lock link in {text!r}"
    return html.unescape(match.group(0))


def find_code(text: str) -> str | None:
    """The first 6-digit code in ``text`` (a text message or a mail), or None."""
    match = _CODE.search(text)
    return match.group(1) if match else None


def code_in(text: str) -> str:
    code = find_code(text)
    assert code, f"no 6-digit code in {text!r}"
    return code


def find_manual_key(page: str) -> str | None:
    """The enrolment page's key for typing by hand (groups of 4), without spaces, or None."""
    match = _KEY.search(page)
    return match.group(1).replace(" ", "") if match else None


def manual_key_in(page: str) -> str:
    key = find_manual_key(page)
    assert key, "no manual key on the enrolment page"
    return key


def outbox(server: Any, to: str | None = None, kind: str | None = None) -> list[Any]:
    """The messages of the dev outbox of ``server`` (a live server or a service layer) to ``to`` of ``kind``."""
    from idp.messaging.outbox import read_outbox

    services = getattr(server, "services", server)
    return read_outbox(services.settings.outbox_path, to=to, kind=kind)


def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Call ``predicate`` until it returns something true (returned), or fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(interval)
