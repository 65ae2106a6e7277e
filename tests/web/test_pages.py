"""The hosted pages in French and English: wording of the seed, branding, accessibility, no JavaScript.

R-45 (generic error pages), R-68 (no third-party content), issue 4 (the seed's screens and wording).
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import render_template
from support.builders import Site
from support.forms import page_inputs

from idp.web.pages import render_page

SIGN_IN = {
    "fr": ["Connexion à votre compte", "Utilisateur ou e-mail", "Mot de passe", "S'authentifier"],
    "en": ["Sign in to your account", "Username or email", "Password", "Sign in"],
}


def text(response: Any) -> str:
    return html.unescape(response.text)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_sign_in_page_has_the_seed_wording(site: Site, lang: str) -> None:
    """Screen 1 of the seed: « Connexion à votre compte », « Utilisateur ou e-mail », « Mot de passe », « S'authentifier »."""
    page = site.walker(site.browser(lang)).open_login()
    body = text(page)
    for words in SIGN_IN[lang]:
        assert words in body
    assert f'<html lang="{lang}">' in page.text
    assert page.url == site.url("/flow/browser-login")


def test_sign_in_form_is_accessible_and_works_without_javascript(site: Site) -> None:
    """Labels tied to fields, autocomplete hints, hidden csrf_token and step fields, and no script but the passkeys'
    one file (nonce'd, no inline code or handler: the form works without it)."""
    page = site.walker(site.browser("en")).open_login()
    body = page.text
    scripts = re.findall(r"<script[^>]*>[^<]*</script>", body)
    assert len(scripts) == 1 and re.fullmatch(r'<script nonce="[^"]+" src="/static/passkeys.js"></script>', scripts[0])
    assert not re.search(r"\son[a-z]+=", body)
    assert '<label for="username">' in body and 'id="username"' in body
    assert '<label for="password">' in body and 'id="password"' in body
    assert 'autocomplete="username webauthn"' in body and 'autocomplete="current-password"' in body
    fields = page_inputs(body)
    assert fields["step"] == "password" and len(fields["csrf_token"]) == 64
    # the sign-in form's fields, and the hidden passkey form's (posted only by the script)
    assert set(fields) == {"csrf_token", "step", "username", "password", "action", "credential"}
    assert re.search(r'<form id="passkey-sign-in" [^>]*hidden>', body)


def test_a_failed_sign_in_ties_the_message_to_the_fields(site: Site) -> None:
    """The error is announced (role=alert) and referenced by the fields' aria-describedby."""
    browser = site.browser("en")
    response = site.walker(browser).sign_in(site.username, "wrong password!")
    assert response.status_code == 200
    assert '<p id="form-error" class="alert" role="alert">Invalid username or password.</p>' in response.text
    assert response.text.count('aria-describedby="form-error"') == 2
    assert f'value="{site.username}"' in response.text


def test_tenant_branding_shows_name_logo_and_colour(site_factory: Any) -> None:
    """Display name, logo URL and primary colour; the colour rides in a nonce'd style block (no unsafe-inline)."""
    site = site_factory(
        config={"branding": {"display_name": "MyTrust iD", "logo_url": "https://cdn.example.org/logo.png", "primary_color": "#aa3300"}}
    )
    page = site.walker(site.browser("fr")).open_login()
    nonce = re.search(r"'nonce-([^']+)'", page.headers["Content-Security-Policy"]).group(1)
    assert f'<style nonce="{nonce}">:root {{ --primary: #aa3300; }}</style>' in page.text
    assert '<img class="logo" src="https://cdn.example.org/logo.png" alt="MyTrust iD"' in page.text
    assert "<title>Connexion à votre compte · MyTrust iD</title>" in text(page)


def test_without_a_logo_the_display_name_shows(site: Site) -> None:
    page = site.walker(site.browser("en")).open_login()
    assert f'<span class="brand-name">{site.tenant.display_name}</span>' in page.text


@pytest.mark.parametrize("lang,label", [("fr", "Contacter le support"), ("en", "Contact support")])
def test_contact_support_shows_only_with_a_support_url(site: Site, lang: str, label: str) -> None:
    """« Contacter le support » under the form, pointing at the tenant's support URL (issue 4, step 1)."""
    assert label not in text(site.walker(site.browser(lang)).open_login())
    site.configure({"branding": {"support_url": "https://help.example.org/contact"}})
    body = text(site.walker(site.browser(lang)).open_login())
    assert f'<a href="https://help.example.org/contact" rel="noopener noreferrer">{label}</a>' in body


def test_lost_credentials_is_hidden_while_self_recovery_is_off(site: Site) -> None:
    """The link shows only when the flow is live for the tenant (issue 4, step 1); see test_recovery_link.py."""
    body = text(site.walker(site.browser("fr")).open_login())
    assert "Moyens d'identification perdus" not in body
    assert "/flow/self-recovery" not in body


@pytest.mark.parametrize(
    "template,context,fr,en",
    [
        ("logged_out.html", {}, "Vous êtes déconnecté", "You are signed out"),
        ("signed_in.html", {"username": "alice"}, "Connecté en tant que alice.", "Signed in as alice."),
        ("flow_done.html", {}, "C'est terminé", "All done"),
        ("error.html", {"error": "link_expired"}, "Ce lien a expiré\u00a0; demandez-en un nouveau.", "This link has expired; request a new one."),
        ("error.html", {"error": "steps_out_of_order"}, "Ces étapes doivent être suivies dans l'ordre.", "These steps must be taken in order."),
        ("error.html", {"error": "no-such-id"}, "Une erreur est survenue de notre côté.", "Something went wrong on our side."),
        ("404.html", {"error": "not_found"}, "Page introuvable", "Page not found"),
        ("400.html", {"error": "csrf_failed"}, "Requête refusée", "Request refused"),
        ("503.html", {"error": "service_unavailable"}, "Service indisponible", "Service unavailable"),
    ],
)
def test_every_page_renders_in_french_and_english(site: Site, template: str, context: dict[str, Any], fr: str, en: str) -> None:
    """The pages other blueprints render (logged_out.html, error.html with ``error``) in both languages (R-45)."""
    app = site.server.app
    for lang, expected in (("fr", fr), ("en", en)):
        with app.test_request_context(f"/realms/{site.tenant.slug}/x", headers={"Accept-Language": lang}):
            response = render_page(template, status=200, tenant=site.tenant, **context)
            body = html.unescape(response.get_data(as_text=True))
        assert expected in body, (lang, template)
        assert f'<html lang="{lang}">' in body
        assert "<script" not in body


def test_logged_out_page_links_back_to_the_tenant_sign_in(site: Site) -> None:
    app = site.server.app
    with app.test_request_context(f"/realms/{site.tenant.slug}/protocol/openid-connect/logout"):
        body = render_page("logged_out.html", tenant=site.tenant).get_data(as_text=True)
    assert f'href="/realms/{site.tenant.slug}/login"' in body


def test_error_page_of_another_blueprint_follows_the_tenant_in_the_url(site_factory: Any) -> None:
    """A plain render of error.html under /realms/<t>/ picks the tenant's branding and default language."""
    site = site_factory(config={"default_locale": "fr", "branding": {"display_name": "MyTrust iD"}})
    with site.server.app.test_request_context(f"/realms/{site.tenant.slug}/login"):
        body = html.unescape(render_template("error.html", error="invalid_redirect_uri"))
    assert "L'application a demandé à vous envoyer vers une adresse qu'elle n'a pas enregistrée." in body
    assert "MyTrust iD" in body


class _VisibleText(HTMLParser):
    """The text a person sees or hears on a page: text nodes outside <style>, plus alt, aria-label and title."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self._skip += 1
        self.parts.extend(value for name, value in attrs if name in ("alt", "aria-label", "title") and value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(body: str) -> set[str]:
    parser = _VisibleText()
    parser.feed(body)
    return {" ".join(part.split()) for part in parser.parts} - {""}


@pytest.mark.parametrize(
    "template,context",
    [
        ("400.html", {"error": "csrf_failed"}),
        ("404.html", {"error": "not_found"}),
        ("503.html", {"error": "service_unavailable"}),
        ("error.html", {"error": "link_expired", "retry_url": "/realms/x/flow/self-recovery"}),
        ("error.html", {"error": "link_used", "retry_url": "/realms/x/flow/self-recovery"}),
        ("error.html", {"error": "flow_expired", "retry_url": "/realms/x/flow/self-recovery"}),
        ("error.html", {"error": "sms_unavailable"}),
    ],
)
def test_a_french_error_page_has_no_english_left(site_factory: Any, template: str, context: dict[str, Any]) -> None:
    """Issue 16 item 4: every sentence, label, title and alt text of a French error page is French (R-45)."""
    site = site_factory(config={"branding": {"display_name": "MyTrust iD", "support_url": "https://help.example.org/"}})
    pages = {}
    for lang in ("fr", "en"):
        with site.server.app.test_request_context(f"/realms/{site.tenant.slug}/x", headers={"Accept-Language": lang}):
            pages[lang] = render_page(template, status=400, tenant=site.tenant, **context).get_data(as_text=True)
    left_in_english = (visible_text(pages["fr"]) & visible_text(pages["en"])) - {"MyTrust iD", "·", "· MyTrust iD"}
    assert not left_in_english, left_in_english
    assert '<html lang="fr">' in pages["fr"]


def test_a_used_link_and_an_expired_link_say_different_things(site: Site) -> None:
    """Issue 16 item 4: « Ce lien a déjà été utilisé » for a used link, « expiré » only for an expired one."""
    with site.server.app.test_request_context(f"/realms/{site.tenant.slug}/x", headers={"Accept-Language": "fr"}):
        used = html.unescape(render_page("error.html", tenant=site.tenant, error="link_used").get_data(as_text=True))
        expired = html.unescape(render_page("error.html", tenant=site.tenant, error="link_expired").get_data(as_text=True))
    assert "Ce lien a déjà été utilisé" in used and "expiré" not in used
    assert "Ce lien a expiré" in expired and "déjà été utilisé" not in expired


@pytest.mark.parametrize("query", ["response_type=code", "response_type=code&client_id=nobody&redirect_uri=https://x.example/cb"])
def test_a_french_authorization_error_page_has_no_english_left(site: Site, query: str) -> None:
    """Issue 16 item 4: the protocol library's English detail stays off a French error page (it is logged, not shown)."""
    pages = {}
    for lang in ("fr", "en"):
        response = site.browser(lang).get(f"{site.server.url}/realms/{site.tenant.slug}/protocol/openid-connect/auth?{query}", timeout=10)
        assert response.status_code == 400
        pages[lang] = response.text
    left_in_english = (visible_text(pages["fr"]) & visible_text(pages["en"])) - {site.tenant.display_name, "·"}
    assert not left_in_english, left_in_english
    assert '<html lang="fr">' in pages["fr"]
