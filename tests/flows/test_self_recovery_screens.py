"""The seven screens of the account self-recovery announcement, in a real Chromium, in French and English (issue 16).

The French wording is the announcement's (``/work/shared/seeds/account-self-recovery.fr.txt``), sentence for
sentence; the English announcement shows the screens as pictures only, so the English wording is our catalog's
rendering of the same sentences. Each screen is checked line by line, its logo, centring and store badges
measured, and saved as a PNG (800 px wide) in the test's tmp folder; with ``IDP_SCREENS_DIR`` set (the README
uses ``docs/screens``) a set is also written to ``<dir>/<lang>/``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pyotp
import pytest
from support.builders import PASSWORD, PHONE, make_recovery_account

from flows.self_recovery import requests as recovery_requests

LOGO_URL = "https://logo.example.org/mytrustid.svg"
LOGO_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="220" height="48" viewBox="0 0 220 48">'
    '<rect width="220" height="48" rx="8" fill="#0b3d91"/>'
    '<text x="110" y="32" font-family="Arial, sans-serif" font-size="24" font-weight="700" fill="#fff" text-anchor="middle">'
    "MyTrust iD</text></svg>"
)
APP_STORE = "https://apps.apple.com/app/trustid-authenticator/id100000001"
PLAY_STORE = "https://play.google.com/store/apps/details?id=org.example.trustid"
MASKED = "+33*******78"

#: Each screen's lines, in the order they show (the seed's sentences, exact).
SCREENS = {
    "fr": {
        "1-sign-in": ["Connexion à votre compte", "Utilisateur ou e-mail", "Mot de passe", "Moyens d'identification perdus ?", "S'authentifier", "Contacter le support"],
        "2-request": [
            "Vos moyens d'identification sont perdus ?",
            "Entrez votre nom d'utilisateur ou votre courriel ; un courriel va vous être envoyé vous permettant de mettre à jour vos moyens d'authentification.",
            "Utilisateur ou e-mail",
            "Soumettre",
            "Retour à la connexion",
        ],
        "3-email": [
            "Réinitialiser vos moyens de connexion",
            "Une réinitialisation de vos moyens de connexion pour votre compte TrustID. Si vous êtes à l'origine de cette requête,"
            " veuillez cliquer sur le lien ci-dessous pour le mettre à jour.",
            "Réinitialiser vos moyens de connexion",
            "Ce lien expire dans 5 minutes.",
            "Sinon, veuillez ignorer ce message; aucun changement ne sera effectué sur votre compte.",
        ],
        "4-choose": ["Que souhaitez-vous faire ?", "Réinitialiser mon mot de passe", "Réinitialiser mon deuxième facteur d'authentification"],
        "5-password": ["Connexion à votre compte", "Mot de passe", "Moyens d'identification perdus ?", "S'authentifier", "Contacter le support"],
        "6-sms": ["Saisir le code à 6 chiffres.", f"Un code SMS a été envoyé sur votre téléphone {MASKED}.", "Continuer"],
        "7-new-factor": [
            "Enregistrer un nouveau deuxième facteur.",
            "Si vous ne l'avez pas encore fait, veuillez télécharger TrustID Authenticator depuis votre store.",
            "Télécharger dans l'",
            "App Store",
            "DISPONIBLE SUR",
            "Google Play",
            "Scannez le QR code ci-dessous avec l'application TrustID Authenticator",
        ],
    },
    "en": {
        "1-sign-in": ["Sign in to your account", "Username or email", "Password", "Lost your credentials?", "Sign in", "Contact support"],
        "2-request": [
            "Have you lost your credentials?",
            "Enter your username or email; an email will be sent to you so that you can update your authentication means.",
            "Username or email",
            "Submit",
            "Back to sign-in",
        ],
        "3-email": [
            "Reset your sign-in methods",
            "A reset of your sign-in methods was requested for your TrustID account. If you made this request,"
            " please click the link below to update them.",
            "Reset your sign-in methods",
            "This link expires in 5 minutes.",
            "Otherwise, please ignore this message; no change will be made to your account.",
        ],
        "4-choose": ["What would you like to do?", "Reset my password", "Reset my second authentication factor"],
        "5-password": ["Sign in to your account", "Password", "Lost your credentials?", "Sign in", "Contact support"],
        "6-sms": ["Enter the 6-digit code.", f"An SMS code was sent to your phone {MASKED}.", "Continue"],
        "7-new-factor": [
            "Register a new second factor.",
            "If you haven't yet, download TrustID Authenticator from your app store.",
            "Download on the",
            "App Store",
            "GET IT ON",
            "Google Play",
            "Scan the QR code below with the TrustID Authenticator app",
        ],
    },
}
BADGES = {
    "fr": {"Télécharger dans l'App Store": APP_STORE, "Disponible sur Google Play": PLAY_STORE},
    "en": {"Download on the App Store": APP_STORE, "Get it on Google Play": PLAY_STORE},
}
BUTTONS = {
    "fr": {"submit": "Soumettre", "second": "Réinitialiser mon deuxième facteur d'authentification", "sign_in": "S'authentifier", "continue": "Continuer"},
    "en": {"submit": "Submit", "second": "Reset my second authentication factor", "sign_in": "Sign in", "continue": "Continue"},
}


def lines_of(page: Any, selector: str = "main") -> list[str]:
    """The visible lines of the page's card, whitespace (including no-break spaces) collapsed."""
    return [" ".join(line.split()) for line in page.locator(selector).inner_text().splitlines() if line.strip()]


def assert_lines_in_order(lines: list[str], expected: list[str]) -> None:
    """Every expected line is one of the screen's lines, exactly, in this order."""
    at = 0
    for want in expected:
        assert want in lines[at:], f"{want!r} missing (or out of order) in {lines}"
        at = lines.index(want, at) + 1


def centre_x(page: Any, selector: str) -> float:
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return float(box["x"] + box["width"] / 2)


def assert_centred(page: Any, selector: str) -> None:
    """The element's middle is the card's middle (within 2 px)."""
    assert abs(centre_x(page, selector) - centre_x(page, "main")) <= 2, selector


def assert_no_orphaned_punctuation(page: Any, selector: str = "main") -> None:
    """No « ? », « : », « ; » or « ! » after a space starts a line: each sits on the line of the word before it."""
    orphans = page.evaluate(
        """(selector) => {
          const out = [];
          const walker = document.createTreeWalker(document.querySelector(selector), NodeFilter.SHOW_TEXT);
          for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const text = node.data;
            for (let i = 2; i < text.length; i++) {
              if (!'?:;!'.includes(text[i]) || !' \u00a0\u202f'.includes(text[i - 1])) continue;  // French spacing
              const range = document.createRange();
              range.setStart(node, i); range.setEnd(node, i + 1);
              const mark = range.getClientRects()[0];
              range.setStart(node, i - 2); range.setEnd(node, i - 1);
              const word = range.getClientRects()[0];
              if (mark && word && Math.abs(mark.top - word.top) > 1) out.push(text);
            }
          }
          return out;
        }""",
        selector,
    )
    assert not orphans, orphans


def assert_logo(page: Any) -> None:
    """The tenant's logo, loaded, above the card, named for screen readers."""
    logo = page.locator("header.brand img.logo")
    assert logo.get_attribute("src") == LOGO_URL and logo.get_attribute("alt") == "TrustID"
    assert logo.evaluate("img => img.complete && img.naturalWidth > 0")
    assert logo.bounding_box()["y"] + logo.bounding_box()["height"] <= page.locator("main").bounding_box()["y"]
    assert_centred(page, "header.brand img.logo")


def save(page: Any, lang: str, name: str, folders: list[Path]) -> None:
    for folder in folders:
        target = folder / lang
        target.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target / f"{name}.png"), full_page=True)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_seven_screens_match_the_announcement(lang: str, make_live_server: Any, new_page: Any, tmp_path: Path) -> None:
    """Issue 16 items 3 and 4: logo, wording, secondary button, masked number, store badges, centring, one language."""
    server = make_live_server()
    account = make_recovery_account(
        server.services,
        config={
            "branding": {"display_name": "TrustID", "logo_url": LOGO_URL, "primary_color": "#0b3d91", "support_url": "https://support.example.org"},
            "flows": {
                "self-recovery": {
                    "settings": {"authenticator_name": "TrustID Authenticator", "app_store_url": APP_STORE, "play_store_url": PLAY_STORE}
                }
            },
        },
        locale="fr" if lang == "en" else "en",  # the account's locale differs: the run's language wins
    )
    folders = [tmp_path]
    if os.environ.get("IDP_SCREENS_DIR"):
        folders.append(Path(os.environ["IDP_SCREENS_DIR"]))
    page = new_page(lang)
    page.set_viewport_size({"width": 800, "height": 900})
    page.route(LOGO_URL, lambda route: route.fulfill(status=200, content_type="image/svg+xml", body=LOGO_SVG))
    csp_errors: list[str] = []
    page.on("console", lambda msg: csp_errors.append(f"{page.url}: {msg.text}") if "Content Security Policy" in msg.text else None)
    words, screens = BUTTONS[lang], SCREENS[lang]

    def screen(name: str) -> None:
        assert_logo(page)
        assert_lines_in_order(lines_of(page), screens[name])
        assert_no_orphaned_punctuation(page)
        for button in page.locator("main form > button").all():
            assert abs(centre_x(page, "main") - (button.bounding_box()["x"] + button.bounding_box()["width"] / 2)) <= 2
        assert f'lang="{lang}"' in page.content()[:200]
        save(page, lang, name, folders)

    # 1. the sign-in page
    page.goto(f"{server.url}/realms/{account.tenant.slug}/login")
    screen("1-sign-in")
    page.get_by_role("link", name=SCREENS[lang]["1-sign-in"][3]).click()
    # 2. the request; « Retour à la connexion » is a secondary button under « Soumettre »
    page.locator("#login").fill(account.email)
    screen("2-request")
    back = page.locator("main .actions a.button.secondary")
    assert back.inner_text() == screens["2-request"][-1]
    assert back.bounding_box()["y"] > page.get_by_role("button", name=words["submit"]).bounding_box()["y"]
    assert_centred(page, "main .actions a.button.secondary")
    page.get_by_role("button", name=words["submit"]).click()
    page.get_by_role("status").wait_for()
    recovery_requests.drain()
    # 3. the email, shown as a mail client would show its HTML
    from idp.messaging.outbox import read_outbox

    email = read_outbox(server.services.settings.outbox_path, to=account.email, kind="email")[-1]
    link = next(line for line in email.text.splitlines() if "/flow/self-recovery/enter?token=" in line).strip()
    page.goto("about:blank")  # out of our pages' CSP, which would block the email's inline styles
    page.set_content(email.html)
    assert page.locator("img").first.get_attribute("src") == LOGO_URL
    assert page.locator("img").first.evaluate("img => img.complete && img.naturalWidth > 0")
    assert_lines_in_order(lines_of(page, "body"), screens["3-email"])
    assert_no_orphaned_punctuation(page, "body")
    button = page.get_by_role("link", name=screens["3-email"][2], exact=True).bounding_box()
    card = page.locator("body > table table").first.bounding_box()
    assert abs(button["x"] + button["width"] / 2 - (card["x"] + card["width"] / 2)) <= 2  # the button is centred
    save(page, lang, "3-email", folders)
    page.goto(link)
    # 4. the choice
    screen("4-choose")
    page.get_by_role("button", name=words["second"]).click()
    # 5. the password
    screen("5-password")
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name=words["sign_in"], exact=True).click()
    # 6. the SMS code: the masked number inside the sentence
    screen("6-sms")
    sms = read_outbox(server.services.settings.outbox_path, to=PHONE, kind="sms")[-1].text
    page.locator("#code").fill(next(word for word in sms.split() if word.isdigit() and len(word) == 6))
    # 7. the new second factor: the app's name, our store badges to the configured URLs, the QR code centred
    page.get_by_role("button", name=words["continue"]).click()
    page.locator("figure.qr-code svg").wait_for()
    screen("7-new-factor")
    for name, url in BADGES[lang].items():
        badge = page.get_by_role("link", name=name, exact=True)
        assert badge.get_attribute("href") == url
    badges = page.locator("main .store-badges a").all()
    assert len(badges) == 2
    left, right = badges[0].bounding_box(), badges[1].bounding_box()
    assert abs((left["x"] + right["x"] + right["width"]) / 2 - centre_x(page, "main")) <= 2
    assert_centred(page, "figure.qr-code svg")
    assert page.locator("figure.qr-code svg").bounding_box()["width"] >= 150
    key = page.locator("code.secret").inner_text().replace(" ", "")
    if 30 - time.time() % 30 < 2:
        time.sleep(2.1)
    page.locator("#code").fill(pyotp.TOTP(key).now())
    page.get_by_role("button", name=words["continue"]).click()
    page.get_by_role("heading", name={"fr": "Votre compte est récupéré", "en": "Your account is recovered"}[lang]).wait_for()
    assert not csp_errors, csp_errors
    assert sorted(p.name for p in (tmp_path / lang).iterdir()) == sorted(f"{name}.png" for name in screens)


def test_store_badges_show_only_when_configured(make_live_server: Any, new_page: Any) -> None:
    """Without store URLs the enrolment page has no badge; without the app's name it says "an authenticator app"."""
    server = make_live_server()
    account = make_recovery_account(server.services)
    page = new_page("en")
    page.goto(f"{server.url}/realms/{account.tenant.slug}/flow/self-recovery")
    page.locator("#login").fill(account.email)
    page.get_by_role("button", name="Submit").click()
    page.get_by_role("status").wait_for()
    recovery_requests.drain()
    from idp.messaging.outbox import read_outbox

    email = read_outbox(server.services.settings.outbox_path, to=account.email, kind="email")[-1]
    page.goto(next(line for line in email.text.splitlines() if "/flow/self-recovery/enter?token=" in line).strip())
    page.get_by_role("button", name="Reset my second authentication factor").click()
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    sms = read_outbox(server.services.settings.outbox_path, to=PHONE, kind="sms")[-1].text
    page.locator("#code").fill(next(word for word in sms.split() if word.isdigit() and len(word) == 6))
    page.get_by_role("button", name="Continue").click()
    page.locator("figure.qr-code svg").wait_for()
    assert page.locator(".store-badges").count() == 0
    assert "If you haven't yet, download an authenticator app from your app store." in lines_of(page)
    assert "Scan the QR code below with the app." in lines_of(page)
