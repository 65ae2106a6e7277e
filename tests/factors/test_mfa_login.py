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
from authlib.common.security import generate_token
from conftest import LiveServer, random_slug
from oidc.support import PASSWORD, Realm, make_realm, parse_form, query

PHONE = "+33612345678"


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


def _post(browser: requests.Session, page: requests.Response, **fields: str) -> requests.Response:
    """Submit the first form of ``page`` with ``fields`` over its own (csrf_token, step)."""
    form = parse_form(page.text)
    assert form.action, page.text
    data = {**form.fields, **fields}
    return browser.post(requests.compat.urljoin(page.url, form.action), data=data, timeout=60)


def _post_second_form(browser: requests.Session, page: requests.Response) -> requests.Response:
    """Submit the page's second form (the "use SMS instead" or "resend" button)."""
    forms = re.findall(r"<form\b.*?</form>", page.text, re.DOTALL)
    assert len(forms) >= 2, page.text
    parsed = parse_form(forms[1])
    return browser.post(requests.compat.urljoin(page.url, parsed.action or ""), data=parsed.fields, timeout=60)


def _start(realm: Realm, browser: requests.Session, **params: str) -> tuple[Any, str, requests.Response]:
    """The RP sends the browser to the authorization endpoint; returns (rp, verifier, sign-in page)."""
    rp = realm.rp("web")
    response, verifier, _ = realm.authorize(browser, rp, nonce=generate_token(16), **params)
    assert response.status_code in (302, 303), response.text
    page = browser.get(requests.compat.urljoin(response.url, response.headers["Location"]), timeout=30)
    assert page.status_code == 200 and 'name="password"' in page.text, page.text
    return rp, verifier, page


def _finish(realm: Realm, browser: requests.Session, rp: Any, verifier: str, last: requests.Response) -> dict[str, Any]:
    """Follow the redirects after the last step to the RP, redeem the code, and return the verified ID token claims."""
    response = last
    hops = 0
    while response.status_code in (302, 303) and not response.headers["Location"].startswith("https://rp.example.com"):
        response = browser.get(requests.compat.urljoin(response.url, response.headers["Location"]), allow_redirects=False, timeout=30)
        hops += 1
        assert hops < 5
    assert response.status_code in (302, 303), response.text
    location = response.headers["Location"]
    assert "code" in query(location), location
    token = rp.fetch_token(realm.endpoint("token"), authorization_response=location, code_verifier=verifier)
    return realm.verify(token["id_token"])


def _submit_final(browser: requests.Session, page: requests.Response, **fields: str) -> requests.Response:
    form = parse_form(page.text)
    return browser.post(
        requests.compat.urljoin(page.url, form.action or ""), data={**form.fields, **fields}, timeout=60, allow_redirects=False
    )


def test_password_then_totp_gives_mfa_amr_and_acr(mfa_realm: Callable[..., Realm]) -> None:
    """Issue 3 item 6: password, then a TOTP code computed with pyotp; the ID token says pwd+otp+mfa."""
    realm = mfa_realm()
    _, uri = realm.services.factors.add_totp(realm.tenant, realm.user)
    totp = pyotp.parse_uri(uri)
    browser = requests.Session()
    browser.headers["Accept-Language"] = "en"
    rp, verifier, page = _start(realm, browser)
    page = _post(browser, page, username="alice", password=PASSWORD)
    assert page.status_code == 200 and 'name="code"' in page.text and "Enter the 6-digit code." in page.text
    assert "Use an SMS code instead" not in page.text  # no SMS factor: no alternative offered
    _fresh_step()
    done = _submit_final(browser, page, code=totp.now())
    claims = _finish(realm, browser, rp, verifier, done)
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
    _, _, page = _start(realm, browser)
    page = _post(browser, page, username="alice", password=PASSWORD)
    wrong = _post(browser, page, code="000000" if code != "000000" else "111111")
    assert "This code is not valid" in html.unescape(wrong.text)
    replay = _post(browser, wrong, code=code)
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
    rp, verifier, page = _start(realm, browser)
    page = _post(browser, page, username="alice", password=PASSWORD)
    assert "Utiliser plutôt un code SMS" in html.unescape(page.text)
    sms_page = _post_second_form(browser, page)
    text = html.unescape(sms_page.text)
    assert "Saisir le code à 6 chiffres." in text and "Un code SMS a été envoyé sur votre téléphone." in text
    assert "Continuer" in text and "+33*******78" in text and PHONE not in text
    message = aws_env.last_sms(PHONE).message
    code = re.search(r"\b(\d{6})\b", message).group(1)
    done = _submit_final(browser, sms_page, code=code)
    claims = _finish(realm, browser, rp, verifier, done)
    assert set(claims["amr"]) >= {"pwd", "sms", "mfa"} and claims["acr"] == "urn:idp:acr:mfa"


def test_enrolment_under_required_policy(mfa_realm: Callable[..., Realm]) -> None:
    """Issue 3 items 3 and 6: under ``required`` a user without a factor enrols one (QR as inline SVG, no-store)."""
    realm = mfa_realm({"mfa": {"policy": "required"}})
    browser = requests.Session()
    browser.headers["Accept-Language"] = "en"
    rp, verifier, page = _start(realm, browser)
    setup = _post(browser, page, username="alice", password=PASSWORD)
    assert setup.status_code == 200 and "Register a new second factor." in setup.text
    assert "no-store" in setup.headers["Cache-Control"]
    assert "<svg" in setup.text and "<script" not in setup.text and "http://www.w3.org/2000/svg" in setup.text
    assert not re.search(r'(src|href)="https?://(?!127\.0\.0\.1)', setup.text)  # no external request
    key = re.search(r'<code class="secret"[^>]*>([A-Z2-7 ]+)</code>', setup.text).group(1)
    groups = key.split()
    assert all(len(g) == 4 for g in groups) and len("".join(groups)) == 32
    assert realm.services.factors.active(realm.tenant, realm.user) == []  # nothing saved before the first code
    totp = pyotp.TOTP("".join(groups))
    wrong = _post(browser, setup, code="000000" if totp.now() != "000000" else "111111")
    assert "This code is not valid" in html.unescape(wrong.text)
    assert realm.services.factors.active(realm.tenant, realm.user) == []
    _fresh_step()
    done = _submit_final(browser, wrong, code=totp.now())
    claims = _finish(realm, browser, rp, verifier, done)
    assert set(claims["amr"]) >= {"pwd", "otp", "mfa"}
    [factor] = realm.services.factors.active(realm.tenant, realm.user)
    assert factor.type == "totp"


@pytest.mark.parametrize("acr", ["urn:idp:acr:mfa", "mfa"])
def test_acr_values_force_the_second_factor_under_policy_off(mfa_realm: Callable[..., Realm], acr: str) -> None:
    """Issue 3 item 6: with policy ``off`` no second factor is asked, unless ``acr_values`` asks for MFA."""
    realm = mfa_realm({"mfa": {"policy": "off"}})
    _, uri = realm.services.factors.add_totp(realm.tenant, realm.user)
    totp = pyotp.parse_uri(uri)

    plain = requests.Session()
    rp, verifier, page = _start(realm, plain)
    done = _submit_final(plain, page, username="alice", password=PASSWORD)
    claims = _finish(realm, plain, rp, verifier, done)
    assert claims["amr"] == ["pwd"] and claims["acr"] == "urn:idp:acr:pwd"

    forced = requests.Session()
    rp, verifier, page = _start(realm, forced, acr_values=acr)
    page = _post(forced, page, username="alice", password=PASSWORD)
    assert 'name="code"' in page.text
    _fresh_step()
    done = _submit_final(forced, page, code=totp.now())
    claims = _finish(realm, forced, rp, verifier, done)
    assert "mfa" in claims["amr"] and claims["acr"] == "urn:idp:acr:mfa"


def test_optional_policy_skips_users_without_a_factor(mfa_realm: Callable[..., Realm]) -> None:
    realm = mfa_realm()
    browser = requests.Session()
    rp, verifier, page = _start(realm, browser)
    done = _submit_final(browser, page, username="alice", password=PASSWORD)
    claims = _finish(realm, browser, rp, verifier, done)
    assert claims["amr"] == ["pwd"]
