"""The second-factor pages' own rules through a live server (dev outbox): resend, void codes, throttling, language.

R-06 (throttled attempts), R-53 (resend voids, tries limited), R-43 (a run cannot skip the password step).
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from typing import Any

import pyotp
import requests
from conftest import LiveServer, random_slug
from support.builders import PASSWORD, PHONE, Realm, make_realm
from support.forms import hidden_fields
from support.walkers import start_authorization, submit

from idp.messaging import read_outbox


def _realm(make_live_server: Callable[..., LiveServer], config: dict[str, Any] | None = None) -> Realm:
    server = make_live_server(mail_backend="outbox", sms_backend="outbox")
    return make_realm(server, random_slug("pg"), config)


def _codes(realm: Realm) -> list[str]:
    messages = read_outbox(realm.services.settings.outbox_path, to=PHONE, kind="sms")
    return [re.search(r"\b(\d{6})\b", m.text).group(1) for m in messages]


def test_sms_only_user_resend_voids_and_tries_run_out(make_live_server: Callable[..., LiveServer]) -> None:
    """R-53: a user whose only factor is SMS gets the SMS page first; a resend voids the first code; 5 wrong tries void it."""
    realm = _realm(make_live_server, {"sms": {"resend_cooldown": 0}})
    realm.services.factors.set_phone(realm.tenant, realm.user, PHONE)
    browser = requests.Session()
    browser.headers["Accept-Language"] = "en"
    _, _, page = start_authorization(realm, browser)
    sms_page = submit(browser, page, allow_redirects=True, username="alice", password=PASSWORD)
    assert 'An SMS code was sent to your phone <span class="masked" translate="no">+33*******78</span>.' in sms_page.text and len(_codes(realm)) == 1
    resent = submit(browser, sms_page, 1, allow_redirects=True)
    assert "A new code was sent" in resent.text
    first, second = _codes(realm)
    page = resent
    tries = 5
    if first != second:
        page = submit(browser, resent, allow_redirects=True, code=first)
        assert "This code is not valid" in html.unescape(page.text)  # the resend voided it
        tries -= 1
    wrong = "000000" if second != "000000" else "111111"
    for _ in range(tries):
        page = submit(browser, page, allow_redirects=True, code=wrong)
    assert "Too many wrong codes" in html.unescape(page.text)  # the fifth wrong try voids the code
    late = submit(browser, page, allow_redirects=True, code=second)
    # the code is void, and the account's SMS attempts from this address are now delayed as well
    assert late.status_code == 429 and "Too many attempts" in late.text
    assert realm.services.store.find(f"{realm.tenant.slug}:sms-code:{realm.user.id}") is None
    types = [e.type for e in realm.services.audit.query(realm.tenant.id, user_id=realm.user.id, limit=200)]
    assert types.count("sms.code_sent") == 2 and "login.second_factor_failed" in types


def test_totp_attempts_are_throttled_r06(make_live_server: Callable[..., LiveServer]) -> None:
    """R-06: after the free failures the TOTP page answers 429 even for the right code, until the delay ends."""
    realm = _realm(make_live_server)
    _, uri = realm.services.factors.add_totp(realm.tenant, realm.user)
    totp = pyotp.parse_uri(uri)
    browser = requests.Session()
    browser.headers["Accept-Language"] = "en"
    _, _, page = start_authorization(realm, browser)
    page = submit(browser, page, allow_redirects=True, username="alice", password=PASSWORD)
    statuses = []
    for _ in range(6):
        page = submit(browser, page, allow_redirects=True, code="000000" if totp.now() != "000000" else "111111")
        statuses.append(page.status_code)
    assert statuses == [200] * 5 + [429]
    while 30 - (time.time() % 30) < 3:
        time.sleep(0.2)
    blocked = submit(browser, page, allow_redirects=True, code=totp.now())
    assert blocked.status_code == 429 and "Too many attempts" in blocked.text
    assert int(blocked.headers["Retry-After"]) > 0  # the wait, as RFC 9110 says a 429 may carry it
    # the notice of a failed second factor went out once for this run
    mails = read_outbox(realm.services.settings.outbox_path, to="alice@example.com", kind="email")
    assert len(mails) == 1


def test_totp_page_in_french_and_sms_offer(make_live_server: Callable[..., LiveServer]) -> None:
    realm = _realm(make_live_server)
    realm.services.factors.add_totp(realm.tenant, realm.user)
    realm.services.factors.set_phone(realm.tenant, realm.user, PHONE)
    browser = requests.Session()
    browser.headers["Accept-Language"] = "fr"
    _, _, page = start_authorization(realm, browser)
    page = submit(browser, page, allow_redirects=True, username="alice", password=PASSWORD)
    text = html.unescape(page.text)
    assert "Saisir le code à 6 chiffres." in text and "Continuer" in text and "Utiliser plutôt un code SMS" in text
    assert _codes(realm) == []  # TOTP first: no SMS sent until the user asks


def test_sms_not_offered_when_the_tenant_disallows_it_r30(make_live_server: Callable[..., LiveServer]) -> None:
    realm = _realm(make_live_server, {"sms": {"allowed_as_second_factor": False}})
    realm.services.factors.add_totp(realm.tenant, realm.user)
    realm.services.factors.set_phone(realm.tenant, realm.user, PHONE)
    browser = requests.Session()
    browser.headers["Accept-Language"] = "en"
    _, _, page = start_authorization(realm, browser)
    page = submit(browser, page, allow_redirects=True, username="alice", password=PASSWORD)
    assert 'name="code"' in page.text and "Use an SMS code instead" not in page.text
    forced = browser.post(page.url, data={**hidden_fields(page.text), "action": "use_sms"}, timeout=30)
    assert "We cannot send you a text message right now." in html.unescape(forced.text)
    assert _codes(realm) == []
