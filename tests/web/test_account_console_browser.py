"""The account console in Chromium, in English and French (issue 14, item 4): the holder signs in through the tenant's
own pages (password, then TOTP), renames, adds (scanning = the code computed from the key shown) and removes second
factors, regenerates recovery codes (the old set is void), changes the password, signs another session out (that
browser must sign in again) and reads the security events. axe-core finds no serious or critical violation on any
page visited; the pages run without JavaScript (the context has it off)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect
from support.builders import PASSWORD

from web.account_console_support import Holder, make_holder, next_totp

NEW_PASSWORD = "a quiet meadow under grey skies"
LOCALES = {"en": "en-US", "fr": "fr-FR"}
WORDS = {
    "en": {
        "user": "Username or email", "password": "Password", "sign_in": "Sign in", "code": "Code", "go": "Continue",
        "rename": "Rename", "remove": "Remove", "new_name": "New name", "save": "Save", "renamed": "The name was saved.",
        "an_app": "An authenticator app", "app_name": "Name of this authenticator (optional)", "enter_code": "Enter the 6-digit code the app shows",
        "add": "Add", "added": "Your authenticator app was added.", "removed": "The second factor was removed.",
        "generate": "Generate new recovery codes", "change": "Change your password", "current": "Current password",
        "new": "New password", "again": "New password again", "change_button": "Change the password", "changed": "Your password was changed.",
        "sessions": "Sessions", "sign_out": "Sign out", "session_ended": "The session was signed out.", "events": "Security events",
        "ev_changed": "Password changed", "ev_added": "Second factor added", "this": "this session",
    },
    "fr": {
        "user": "Utilisateur ou e-mail", "password": "Mot de passe", "sign_in": "S'authentifier", "code": "Code", "go": "Continuer",
        "rename": "Renommer", "remove": "Supprimer", "new_name": "Nouveau nom", "save": "Enregistrer", "renamed": "Le nom a été enregistré.",
        "an_app": "Une application d'authentification", "app_name": "Nom de cet authentificateur (facultatif)",
        "enter_code": "Saisissez le code à 6 chiffres affiché par l'application",
        "add": "Ajouter", "added": "Votre application d'authentification a été ajoutée.", "removed": "Le second facteur a été supprimé.",
        "generate": "Générer de nouveaux codes de récupération", "change": "Changer votre mot de passe", "current": "Mot de passe actuel",
        "new": "Nouveau mot de passe", "again": "Nouveau mot de passe, à nouveau", "change_button": "Changer le mot de passe",
        "changed": "Votre mot de passe a été modifié.", "sessions": "Sessions", "sign_out": "Se déconnecter",
        "session_ended": "La session a été déconnectée.", "events": "Événements de sécurité", "ev_changed": "Mot de passe modifié",
        "ev_added": "Deuxième facteur ajouté", "this": "cette session",
    },
}


class Visit:
    """One browser page in one language; every page it checks passes axe."""

    def __init__(self, holder: Holder, page: Any, lang: str, axe_check: Callable[[Any], list[str]]) -> None:
        self.holder, self.page, self.lang, self.axe_check = holder, page, lang, axe_check
        self.w = WORDS[lang]
        self.checked = 0

    def check(self) -> None:
        assert self.page.locator("html").get_attribute("lang") == self.lang, self.page.url
        violations = self.axe_check(self.page)
        assert not violations, f"{self.lang} {self.page.url}: " + "; ".join(violations)
        self.checked += 1

    def sign_in(self, path: str) -> None:
        """Open a console page without a session: the tenant's sign-in pages, then back to ``path``."""
        page, w = self.page, self.w
        page.goto(f"{self.holder.base}{path}")
        expect(page.get_by_label(w["user"])).to_be_visible()
        self.check()
        page.get_by_label(w["user"]).fill(self.holder.user.username)
        page.get_by_label(w["password"]).fill(PASSWORD)
        page.get_by_role("button", name=w["sign_in"], exact=True).click()
        expect(page.get_by_label(w["code"])).to_be_visible()
        self.check()
        assert self.holder.totp is not None
        page.get_by_label(w["code"]).fill(next_totp(self.holder.totp, self.holder.used))
        page.get_by_role("button", name=w["go"], exact=True).click()
        page.wait_for_url(f"{self.holder.base}{path}")


def _no_js_page(new_page: Callable[..., Any], locale: str) -> Any:
    page = new_page(locale)
    context = page.context.browser.new_context(locale=locale, java_script_enabled=False)
    context.set_default_timeout(15_000)
    page.context.close()
    return context.new_page()


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_the_holder_manages_factors_codes_password_sessions_and_reads_events(live_server: Any, new_page: Any, axe_check: Any, lang: str) -> None:
    """R-13/R-85 (add after a first code), R-19/R-34 (remove), R-26/R-04 (password), R-40/R-41 (sign a session out), R-46 (events)."""
    holder = make_holder(live_server)
    services, tenant, user = live_server.services, holder.tenant, holder.user
    old_codes = services.factors.generate_recovery_codes(tenant, user)
    visit = Visit(holder, new_page(LOCALES[lang]), lang, axe_check)
    page, w = visit.page, visit.w
    visit.sign_in("/security")
    expect(page.locator("#factors")).to_contain_text("Phone")
    visit.check()

    # rename
    page.get_by_role("link", name=f"{w['rename']} Phone").click()
    expect(page.get_by_label(w["new_name"])).to_be_visible()
    visit.check()
    page.get_by_label(w["new_name"]).fill("Work phone")
    page.get_by_role("button", name=w["save"], exact=True).click()
    expect(page.get_by_role("status")).to_have_text(w["renamed"])
    expect(page.locator("#factors")).to_contain_text("Work phone")

    # add an authenticator: the app "scans" the key shown and gives its first code
    page.get_by_role("link", name=w["an_app"]).click()
    expect(page.locator("code.secret")).to_be_visible()
    visit.check()
    secret = page.locator("code.secret").inner_text().replace(" ", "")
    page.get_by_label(w["app_name"]).fill("Tablet")
    page.get_by_label(w["enter_code"]).fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name=w["add"], exact=True).click()
    expect(page.get_by_role("status")).to_have_text(w["added"])
    expect(page.locator("#factors")).to_contain_text("Tablet")
    visit.check()

    # remove the first one
    page.get_by_role("link", name=f"{w['remove']} Work phone").click()
    expect(page.get_by_role("button", name=w["remove"], exact=True)).to_be_visible()
    visit.check()
    page.get_by_role("button", name=w["remove"], exact=True).click()
    expect(page.get_by_role("status")).to_have_text(w["removed"])
    expect(page.locator("#factors")).not_to_contain_text("Work phone")
    assert [f.label for f in services.factors.active(tenant, user, "totp")] == ["Tablet"]

    # new recovery codes: shown once, the old set is void
    page.get_by_role("link", name=w["generate"]).click()
    expect(page.get_by_role("button", name=w["generate"])).to_be_visible()
    visit.check()
    page.get_by_role("button", name=w["generate"]).click()
    expect(page.locator("#new-codes li")).to_have_count(10)
    visit.check()
    codes = page.locator("#new-codes code").all_inner_texts()
    assert not services.factors.use_recovery_code(tenant, user, old_codes[0])
    assert services.factors.use_recovery_code(tenant, user, codes[0])

    # the password
    page.goto(f"{holder.base}/security")
    page.get_by_role("link", name=w["change"]).click()
    expect(page.get_by_label(w["current"])).to_be_visible()
    visit.check()
    page.get_by_label(w["current"]).fill(PASSWORD)
    page.get_by_label(w["new"], exact=True).fill(NEW_PASSWORD)
    page.get_by_label(w["again"]).fill(NEW_PASSWORD)
    page.get_by_role("button", name=w["change_button"]).click()
    expect(page.get_by_role("status")).to_have_text(w["changed"])
    visit.check()
    assert services.users.verify_password(services.users.get(tenant, user.id), NEW_PASSWORD)

    # another browser is signed in; the holder signs it out from here, and that browser must sign in again
    other = services.sessions.establish(tenant, user.id, ["pwd", "otp", "mfa"], "urn:idp:acr:mfa", client_ip="203.0.113.9", user_agent="Other browser 2.0")
    second = new_page(LOCALES[lang])
    second.context.add_cookies([{"name": "idp_sso", "value": other.token, "domain": "127.0.0.1", "path": f"/realms/{tenant.slug}/"}])
    second.goto(f"{holder.base}/sessions")
    expect(second.locator("h1")).to_have_text(w["sessions"])
    page.get_by_role("link", name=w["sessions"], exact=True).click()
    row = page.locator(f"#session-{other.sid}")
    expect(row).to_contain_text("Other browser 2.0")
    expect(page.locator("#sessions")).to_contain_text(w["this"])
    visit.check()
    row.get_by_role("button").click()
    expect(page.get_by_role("status")).to_have_text(w["session_ended"])
    expect(page.locator(f"#session-{other.sid}")).to_have_count(0)
    second.goto(f"{holder.base}/sessions")
    expect(second.get_by_label(w["user"])).to_be_visible()

    # the security events
    page.get_by_role("link", name=w["events"], exact=True).click()
    expect(page.locator("#events")).to_contain_text(w["ev_changed"])
    expect(page.locator("#events")).to_contain_text(w["ev_added"])
    visit.check()
    assert visit.checked >= 12


def test_the_console_works_without_javascript(live_server: Any, new_page: Any) -> None:
    """Every page is plain HTML forms: with JavaScript off the holder still signs in and renames a factor."""
    holder = make_holder(live_server)
    page = _no_js_page(new_page, "en-US")
    visit = Visit(holder, page, "en", lambda p: [])
    visit.sign_in("/security")
    page.get_by_role("link", name="Rename Phone").click()
    page.get_by_label("New name").fill("Pocket")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("The name was saved.")
    expect(page.locator("#factors")).to_contain_text("Pocket")


def test_the_last_required_second_factor_is_refused_in_french(live_server: Any, new_page: Any, axe_check: Any) -> None:
    """Under ``mfa.policy: required`` the page says why the last second factor stays, in the page's language."""
    holder = make_holder(live_server, mfa="required")
    visit = Visit(holder, new_page("fr-FR"), "fr", axe_check)
    page = visit.page
    visit.sign_in("/security")
    expect(page.locator("body")).to_contain_text("Votre organisation exige un deuxième facteur : gardez-en au moins un.")
    page.get_by_role("link", name="Supprimer Phone").click()
    page.get_by_role("button", name="Supprimer", exact=True).click()
    expect(page.get_by_role("alert")).to_have_text(
        "Votre organisation exige un deuxième facteur : ajoutez-en un autre avant de supprimer celui-ci."
    )
    visit.check()
    assert [f.label for f in live_server.services.factors.active(holder.tenant, holder.user)] == ["Phone"]
