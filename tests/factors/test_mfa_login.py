"""The MFA sign-in end to end: a live server, Authlib's client as the RP, SES and SNS on moto's server mode.

R-30 (TOTP first, SMS as the alternative), R-36/R-82 (codes once), R-55 (notice after a failed second
factor), R-56/R-85 (no-store on the enrolment page), issue 3 item 6 (policy, acr_values, amr/acr).
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from typing import Any

import pyotp
import pytest
import requests
from conftest import LiveServer, random_slug
from support.builders import PASSWORD, PHONE, Realm, make_realm
from support.walkers import finish_authorization, start_authorization, submit


@pytest.fixture
def mfa_realm(make_live_server: Callable[..., LiveServer], aws_env: Any) -> Callable[..., Realm]:
    """A realm on a live server whose mail goes through SES and SMS through SNS (moto)."""

    def make(config: dict[str, Any] | None = None) -> Realm:
        server = make_live_server(mail_backend="ses", sms_backend="sns")
        return make_realm(server, random_slug("mfa"), config)

    return make


def _fresh_step() -> None:
    while 30 - (time.time() % 30) < 3.0:
        time.sleep(0.2)


def test_password_then_totp_gives_mfa_amr_and_acr(mfa_realm: Callable[..., Realm]) -> None:
    """Issue 3 item 6: password, then a TOTP code computed with pyotp; the ID token says pwd+otp+mfa."""
    realm = mfa_realm()
    _, uri = realm.services.factors.add_totp(realm.tenant, realm.user)
    totp = pyotp.parse_uri(uri)
    browser = requests.Session()
    browser.headers["Accept-Language"] = "en"
    rp, verifier, page = start_authorization(realm, browser)
    page = submit(browser, page, allow_redirects=True, username="alice", password=PASSWORD)
    assert page.status_code == 200 and 'name="code"' in page.text and "Enter the 6-digit code." in page.text
    assert "Use an SMS code instead" not in page.text  # no SMS factor: no alternative offered
    _fresh_step()
    done = submit(browser, page, code=totp.now())
    claims = finish_authorization(realm, browser, rp, verifier, done)
    assert set(claims["amr"]) >= {"pwd", "otp", "mfa"} and "sms" not in claims["amr"]
    assert claims["acr"] == "urn:idp:acr:mfa"
    types = [e.type for e in realm.services.audit.query(realm.tenant.id, user_id=realm.user.id)]
    assert "login.second_factor_ok" in types


def test_wrong_then_replayed_totp_refused_and_user_notified_r55_r36(mfa_realm: Callable[..., Realm], aws_env: Any) -> None:
    """R-55, R-36: a wrong code after the right password mails a notice; a code already used is refused."""
    realm = mfa_realm()
    _, uri = realm.services.factors.add_totp(realm.tenant, realm.user)
    totp = pyotp.parse_uri(uri)
    _fresh_step()
    code = totp.now()
    assert realm.services.factors.verify_totp(realm.tenant, realm.user, code)  # used elsewhere first
    browser = requests.Session()
    browser.headers["Accept-Language"] = "en"
    _, _, page = start_authorization(realm, browser)
    page = submit(browser, page, allow_redirects=True, username="alice", password=PASSWORD)
    wrong = submit(browser, page, allow_redirects=True, code="000000" if code != "000000" else "111111")
    assert "This code is not valid" in html.unescape(wrong.text)
    replay = submit(browser, wrong, allow_redirects=True, code=code)
    assert "This code was already used" in html.unescape(replay.text)
    mails = aws_env.sent_emails(to="alice@example.com")
    assert mails, "no notice mailed"
    assert all(code not in m.body for m in mails)


def test_sms_fallback_through_sns_in_french_r30_r37(mfa_realm: Callable[..., Realm], aws_env: Any) -> None:
    """R-30, R-37: TOTP is offered first; « Utiliser plutôt un code SMS » sends a code (SNS) to the verified number."""
    realm = mfa_realm()
    realm.services.factors.add_totp(realm.tenant, realm.user)
    realm.services.factors.set_phone(realm.tenant, realm.user, PHONE)
    browser = requests.Session()
    browser.headers["Accept-Language"] = "fr"
    rp, verifier, page = start_authorization(realm, browser)
    page = submit(browser, page, allow_redirects=True, username="alice", password=PASSWORD)
    assert "Utiliser plutôt un code SMS" in html.unescape(page.text)
    sms_page = submit(browser, page, 1, allow_redirects=True)
    text = html.unescape(sms_page.text)
    assert "Saisir le code à 6 chiffres." in text
    assert "Un code SMS a été envoyé sur votre téléphone <span class=\"masked\" translate=\"no\">+33*******78</span>." in text
    assert "Continuer" in text and "+33*******78" in text and PHONE not in text
    message = aws_env.last_sms(PHONE).message
    code = re.search(r"\b(\d{6})\b", message).group(1)
    done = submit(browser, sms_page, code=code)
    claims = finish_authorization(realm, browser, rp, verifier, done)
    assert set(claims["amr"]) >= {"pwd", "sms", "mfa"} and claims["acr"] == "urn:idp:acr:mfa"


def test_enrolment_under_required_policy(mfa_realm: Callable[..., Realm]) -> None:
    """Issue 3 items 3 and 6: under ``required`` a user without a factor enrols one (QR as inline SVG, no-store)."""
    realm = mfa_realm({"mfa": {"policy": "required"}})
    browser = requests.Session()
    browser.headers["Accept-Language"] = "en"
    rp, verifier, page = start_authorization(realm, browser)
    setup = submit(browser, page, allow_redirects=True, username="alice", password=PASSWORD)
    assert setup.status_code == 200 and "Register a new second factor." in setup.text
    assert "no-store" in setup.headers["Cache-Control"]
    assert "<svg" in setup.text and "<script>" not in setup.text and "http://www.w3.org/2000/svg" in setup.text
    assert not re.search(r'(src|href)="https?://(?!127\.0\.0\.1)', setup.text)  # no external request
    key = re.search(r'<code class="secret"[^>]*>([A-Z2-7 ]+)</code>', setup.text).group(1)
    groups = key.split()
    assert all(len(g) == 4 for g in groups) and len("".join(groups)) == 32
    assert realm.services.factors.active(realm.tenant, realm.user) == []  # nothing saved before the first code
    totp = pyotp.TOTP("".join(groups))
    wrong = submit(browser, setup, allow_redirects=True, code="000000" if totp.now() != "000000" else "111111")
    assert "This code is not valid" in html.unescape(wrong.text)
    assert realm.services.factors.active(realm.tenant, realm.user) == []
    _fresh_step()
    saved = submit(browser, wrong, allow_redirects=True, code=totp.now())
    # issue 14: a new set of recovery codes, shown once, before the sign-in completes
    assert saved.status_code == 200 and "Save your recovery codes." in saved.text and "no-store" in saved.headers["Cache-Control"]
    codes = re.findall(r"<li><code>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</code></li>", saved.text)
    assert len(set(codes)) == 10
    done = submit(browser, saved)
    claims = finish_authorization(realm, browser, rp, verifier, done)
    assert set(claims["amr"]) >= {"pwd", "otp", "mfa"}
    assert sorted(f.type for f in realm.services.factors.active(realm.tenant, realm.user)) == ["recovery_code", "totp"]
    assert realm.services.factors.recovery_codes_left(realm.tenant, realm.user) == 10


@pytest.mark.parametrize("acr", ["urn:idp:acr:mfa", "mfa"])
def test_acr_values_force_the_second_factor_under_policy_off(mfa_realm: Callable[..., Realm], acr: str) -> None:
    """Issue 3 item 6: with policy ``off`` no second factor is asked, unless ``acr_values`` asks for MFA."""
    realm = mfa_realm({"mfa": {"policy": "off"}})
    _, uri = realm.services.factors.add_totp(realm.tenant, realm.user)
    totp = pyotp.parse_uri(uri)

    plain = requests.Session()
    rp, verifier, page = start_authorization(realm, plain)
    done = submit(plain, page, username="alice", password=PASSWORD)
    claims = finish_authorization(realm, plain, rp, verifier, done)
    assert claims["amr"] == ["pwd"] and claims["acr"] == "urn:idp:acr:pwd"

    forced = requests.Session()
    rp, verifier, page = start_authorization(realm, forced, acr_values=acr)
    page = submit(forced, page, allow_redirects=True, username="alice", password=PASSWORD)
    assert 'name="code"' in page.text
    _fresh_step()
    done = submit(forced, page, code=totp.now())
    claims = finish_authorization(realm, forced, rp, verifier, done)
    assert "mfa" in claims["amr"] and claims["acr"] == "urn:idp:acr:mfa"


def test_optional_policy_skips_users_without_a_factor(mfa_realm: Callable[..., Realm]) -> None:
    realm = mfa_realm()
    browser = requests.Session()
    rp, verifier, page = start_authorization(realm, browser)
    done = submit(browser, page, username="alice", password=PASSWORD)
    claims = finish_authorization(realm, browser, rp, verifier, done)
    assert claims["amr"] == ["pwd"]
