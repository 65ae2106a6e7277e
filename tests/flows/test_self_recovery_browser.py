"""Account self-recovery in a real Chromium (Playwright), in French and English, with SES and SNS on moto.

The browser clicks what a person clicks; the test reads the email and the SMS
back from moto's server, and the key from the enrolment page (issue 4, "Tests").
"""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from support.builders import PASSWORD, PHONE, make_realm
from support.messages import code_in, link_in, lock_link_in

from flows.self_recovery import requests as recovery_requests

WORDS = {
    "en": {
        "lost": "Lost your credentials?",
        "submit": "Submit",
        "second": "Reset my second authentication factor",
        "sign_in": "Sign in",
        "continue": "Continue",
        "recovered": "Your account is recovered",
        "subject": "Reset your sign-in methods",
    },
    "fr": {
        "lost": "Moyens d'identification perdus ?",
        "submit": "Soumettre",
        "second": "Réinitialiser mon deuxième facteur d'authentification",
        "sign_in": "S'authentifier",
        "continue": "Continuer",
        "recovered": "Votre compte est récupéré",
        "subject": "Réinitialiser vos moyens de connexion",
    },
}


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_a_person_recovers_their_account_in_chromium(lang: str, aws_env: Any, make_live_server: Any, new_page: Any) -> None:
    """All eight steps in a real browser (R-15, R-17, R-52, R-85, R-96..R-98), starting at a relying party."""
    words = WORDS[lang]
    server = make_live_server(mail_backend="ses", sms_backend="sns")
    realm = make_realm(
        server,
        f"pw-{generate_token(6).lower()}",
        {
            "branding": {"display_name": "MyTrust iD", "support_url": "https://support.example.org"},
            "flows": {"self-recovery": {"enabled": True, "settings": {"app_store_url": "https://apps.apple.com/app/id1", "play_store_url": "https://play.google.com/store/apps/details?id=x"}}},
        },
    )
    services, tenant, user = server.services, realm.tenant, realm.user
    services.factors.set_phone(tenant, user, PHONE)
    _, old_uri = services.factors.add_totp(tenant, user, label="stolen phone")
    old_totp = pyotp.parse_uri(old_uri)
    _, before = realm.code_flow(scope="openid offline_access")  # another device's refresh token
    other_session = services.sessions.establish(tenant, user.id, ["pwd", "otp", "mfa"], "urn:idp:acr:mfa")

    rp = realm.rp()
    verifier = generate_token(48)
    url, _state = rp.create_authorization_url(realm.endpoint("auth"), code_verifier=verifier, nonce=generate_token(16))
    page = new_page(lang)
    callbacks: list[str] = []
    # the RP is not running: record the navigation to its redirect URI (the 302 from our server) instead
    page.on("request", lambda req: callbacks.append(req.url) if req.url.startswith("https://rp.example.com/") else None)

    # 1. the sign-in page: « Moyens d'identification perdus ? »
    page.goto(url)
    page.get_by_role("link", name=words["lost"]).click()
    # 2. the request
    page.get_by_label("Utilisateur ou e-mail" if lang == "fr" else "Username or email").fill(user.email)
    page.get_by_role("button", name=words["submit"]).click()
    page.get_by_role("status").wait_for()
    recovery_requests.drain()
    # 3. the email, read back from SES on moto; the link opens in the same browser
    email = aws_env.last_email(user.email)
    assert email.subject == words["subject"]
    page.goto(link_in(email.body))
    assert "token=" not in page.url
    # 4. the choice
    page.get_by_role("button", name=words["second"]).click()
    # 5. the password (seed screen 5)
    page.get_by_label("Mot de passe" if lang == "fr" else "Password").fill(PASSWORD)
    page.get_by_role("button", name=words["sign_in"], exact=True).click()
    # 6. the SMS code, read back from SNS on moto
    page.get_by_label("Code").fill(code_in(aws_env.last_sms(PHONE).message))
    page.get_by_role("button", name=words["continue"]).click()
    # 7. enrolment: the key from the page, the code from pyotp
    key = page.locator("code.secret").inner_text().replace(" ", "")
    assert page.locator("figure.qr-code svg").count() == 1
    new_totp = pyotp.TOTP(key)
    if 30 - time.time() % 30 < 2:
        time.sleep(2.1)
    page.locator("#code").fill(new_totp.now())
    page.get_by_role("button", name=words["continue"]).click()
    # 8. the end page; « Continuer » resumes the relying party's request
    page.get_by_role("heading", name=words["recovered"]).wait_for()
    page.get_by_role("link", name=words["continue"]).click()
    page.wait_for_timeout(300)
    assert callbacks and callbacks[-1].startswith("https://rp.example.com/callback?")
    token = rp.fetch_token(realm.endpoint("token"), authorization_response=callbacks[-1], code_verifier=verifier)
    assert realm.verify(token["id_token"])["sub"] == user.sub

    # the old authenticator no longer works, the new one does
    assert not services.factors.verify_totp(tenant, user, old_totp.at(time.time() + 30))
    assert services.factors.verify_totp(tenant, user, new_totp.at(time.time() + 30))
    # other sessions and refresh tokens are revoked
    assert services.sessions.find(tenant, other_session.sid) is None
    with pytest.raises(OAuthError) as refused:
        realm.rp().refresh_token(realm.endpoint("token"), refresh_token=before["refresh_token"])
    assert refused.value.error == "invalid_grant"
    # the notices arrived by email and SMS, with a "not you?" link
    assert aws_env.last_email(user.email).subject != words["subject"]
    lock_link_in(aws_env.last_email(user.email).body)
    lock_link_in(aws_env.last_sms(PHONE).message)
    assert re.search(r"\d{6}", aws_env.sent_sms(PHONE)[0].message)


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_a_junk_or_used_link_in_another_tab_leaves_the_recovery_in_progress(lang: str, make_live_server: Any, new_page: Any) -> None:
    """R-43, R-52, R-99 (issue 12 item 4): while a recovery is under way, any page of the same browser that
    navigates to the link endpoint with a junk token, or the used link opened again, shows "this link has
    expired" and the run goes on in the first tab."""
    from support.builders import make_recovery_account
    from support.walkers import Walker

    from idp.messaging.outbox import read_outbox

    server = make_live_server()
    account = make_recovery_account(server.services, locale=lang)
    Walker(server, account.tenant).request_link(account.email)
    link = link_in(read_outbox(server.services.settings.outbox_path, to=account.email, kind="email")[-1].text)
    page = new_page(lang)
    page.goto(link)
    choose = {"en": "What would you like to do?", "fr": "Que souhaitez-vous faire ?"}[lang]
    page.get_by_role("heading", name=choose).wait_for()
    expired = {"en": "This link has expired; request a new one.", "fr": "Ce lien a expiré ; demandez-en un nouveau."}[lang]
    used = {"en": "This link has already been used; request a new one.", "fr": "Ce lien a déjà été utilisé ; demandez-en un nouveau."}[lang]
    other = page.context.new_page()
    for refused, message in ((f"{server.url}/realms/{account.tenant.slug}/flow/self-recovery/enter?token=junk", expired), (link, used)):
        other.goto(refused)
        assert message in other.locator("body").inner_text().replace("\u00a0", " ")
    page.reload()
    page.get_by_role("heading", name=choose).wait_for()
    page.get_by_role("button", name={"en": "Reset my password", "fr": "Réinitialiser mon mot de passe"}[lang]).click()
    page.locator('input[name="code"]').wait_for()  # the run went on to the authenticator step
