"""One language per person (issue 16, item 4): the email, the SMS and every page of one recovery speak the
language the person used where they asked for the link, then the account's, then the tenant's; a used link
says "already used", an expired one "expired".
"""

from __future__ import annotations

import time
from typing import Any

import pyotp
import pytest
from support.builders import PASSWORD, PHONE, make_recovery_account
from support.messages import code_in, link_in, manual_key_in, outbox
from support.walkers import Walker

from flows.self_recovery import requests as recovery_requests
from flows.self_recovery.links import RecoveryLinks

CHOOSE = {"en": "What would you like to do?", "fr": "Que souhaitez-vous faire\u00a0?"}
SMS_PAGE = {"en": "Enter the 6-digit code.", "fr": "Saisir le code à 6 chiffres."}
ENROL = {"en": "Register a new second factor.", "fr": "Enregistrer un nouveau deuxième facteur."}
DONE = {"en": "Your account is recovered", "fr": "Votre compte est récupéré"}
EMAIL_SUBJECT = {"en": "Reset your sign-in methods", "fr": "Réinitialiser vos moyens de connexion"}
SMS_TEXT = {"en": "is your", "fr": "est votre code de vérification"}
NOTICE_SMS = {"en": "Not you?", "fr": "Pas vous ?"}


@pytest.fixture
def server(make_live_server: Any) -> Any:
    return make_live_server()


def walk_the_second_factor_path(server: Any, account: Any, walk: Any, lang: str, **headers: str) -> None:
    """From the emailed link to the end page, checking each page and message is in ``lang``."""
    walk.get(link_in(outbox(server, account.email, "email")[-1].text), headers=headers or None)
    assert f'<html lang="{lang}">' in walk.page.text and CHOOSE[lang] in walk.page.text
    walk.post(headers=headers or None, path="second-factor")
    assert f'<html lang="{lang}">' in walk.page.text
    walk.post(headers=headers or None, password=PASSWORD)
    assert SMS_PAGE[lang] in walk.page.text
    sms = outbox(server, PHONE, "sms")[-1].text
    assert SMS_TEXT[lang] in sms
    walk.post(headers=headers or None, code=code_in(sms))
    assert ENROL[lang] in walk.page.text
    totp = pyotp.TOTP(manual_key_in(walk.page.text))
    if 30 - time.time() % 30 < 2:
        time.sleep(2.1)
    walk.post(headers=headers or None, code=totp.now())
    assert DONE[lang] in walk.page.text and f'<html lang="{lang}">' in walk.page.text
    assert NOTICE_SMS[lang] in outbox(server, PHONE, "sms")[-1].text
    assert outbox(server, account.email, "email")[-1].subject != EMAIL_SUBJECT[lang]  # the notice, not the link
    assert f'<html lang="{lang}">' in outbox(server, account.email, "email")[-1].html


@pytest.mark.parametrize(("asked", "account_locale"), [("fr", "en"), ("en", "fr")])
def test_the_language_of_the_request_page_holds_for_the_whole_recovery(server: Any, asked: str, account_locale: str) -> None:
    """The person asks for the link in ``asked`` (Accept-Language): the email, SMS, notices and every later page
    follow it, over the account's locale and even when the link opens in a browser speaking the other language."""
    account = make_recovery_account(server.services, locale=account_locale)
    walk = Walker(server, account.tenant)
    walk.request_link(account.email, **{"Accept-Language": asked})
    assert f'<html lang="{asked}">' in walk.page.text
    email = outbox(server, account.email, "email")[-1]
    assert email.subject == EMAIL_SUBJECT[asked]
    walk_the_second_factor_path(server, account, walk, asked, **{"Accept-Language": account_locale})


def test_without_a_language_asked_the_accounts_locale_decides(server: Any) -> None:
    """No ui_locales, no Accept-Language: the email and the pages after the link follow the account's locale."""
    account = make_recovery_account(server.services, locale="fr", config={"default_locale": "en"})
    walk = Walker(server, account.tenant)
    walk.request_link(account.email)
    assert '<html lang="en">' in walk.page.text  # the person is not known yet: the tenant's default
    assert outbox(server, account.email, "email")[-1].subject == EMAIL_SUBJECT["fr"]
    walk_the_second_factor_path(server, account, walk, "fr")


def test_ui_locales_of_the_request_page_decides(server: Any) -> None:
    """``?ui_locales=fr`` on the request page beats the browser's English for the whole run."""
    account = make_recovery_account(server.services, locale="en")
    walk = Walker(server, account.tenant)
    walk.get(walk.url("/flow/self-recovery?ui_locales=fr"), headers={"Accept-Language": "en"})
    walk.post(headers={"Accept-Language": "en"}, login=account.email)
    recovery_requests.drain()
    assert outbox(server, account.email, "email")[-1].subject == EMAIL_SUBJECT["fr"]
    walk_the_second_factor_path(server, account, walk, "fr", **{"Accept-Language": "en"})


@pytest.mark.parametrize(
    ("lang", "used", "expired"),
    [
        ("fr", "Ce lien a déjà été utilisé", "Ce lien a expiré"),
        ("en", "This link has already been used", "This link has expired"),
    ],
)
def test_a_used_link_says_already_used_and_an_expired_one_expired(server: Any, lang: str, used: str, expired: str) -> None:
    """R-49: opening a link twice says it was used, not that it expired; a link past its lifetime says expired."""
    account = make_recovery_account(server.services)
    links = RecoveryLinks(server.services)
    token = links.issue(account.tenant, account.user.id, ttl=300)
    url = links.url(account.tenant, token)
    assert Walker(server, account.tenant).get(url, headers={"Accept-Language": lang}).status_code == 200
    again = Walker(server, account.tenant).get(url, headers={"Accept-Language": lang})
    assert again.status_code == 400
    assert used in again.text and expired not in again.text and f'<html lang="{lang}">' in again.text

    stale = links.issue(account.tenant, account.user.id, ttl=1)
    time.sleep(1.3)
    gone = Walker(server, account.tenant).get(links.url(account.tenant, stale), headers={"Accept-Language": lang})
    assert gone.status_code == 400
    assert expired in gone.text and used not in gone.text
