"""The hosted pages in French and English: wording of the seed, branding, accessibility, no JavaScript.

R-45 (generic error pages), R-68 (no third-party content), issue 4 (the seed's screens and wording).
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from flask import render_template

from idp.web.pages import render_page
from web.support import Site, inputs

SIGN_IN = {
    "fr": ["Connexion à votre compte", "Utilisateur ou e-mail", "Mot de passe", "S'authentifier"],
    "en": ["Sign in to your account", "Username or email", "Password", "Sign in"],
}


def text(response: Any) -> str:
    return html.unescape(response.text)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_sign_in_page_has_the_seed_wording(site: Site, lang: str) -> None:
    """Screen 1 of the seed: « Connexion à votre compte », « Utilisateur ou e-mail », « Mot de passe », « S'authentifier »."""
    page = site.open_login(site.browser(lang))
    body = text(page)
    for words in SIGN_IN[lang]:
        assert words in body
    assert f'<html lang="{lang}">' in page.text
    assert page.url == site.url("/flow/browser-login")


def test_sign_in_form_is_accessible_and_works_without_javascript(site: Site) -> None:
    """Labels tied to fields, autocomplete hints, hidden csrf_token and step fields, and no script at all."""
    page = site.open_login(site.browser("en"))
    body = page.text
    assert "<script" not in body.lower() and not re.search(r"\son[a-z]+=", body)
    assert '<label for="username">' in body and 'id="username"' in body
    assert '<label for="password">' in body and 'id="password"' in body
    assert 'autocomplete="username"' in body and 'autocomplete="current-password"' in body
    fields = inputs(body)
    assert fields["step"] == "password" and len(fields["csrf_token"]) == 64
    assert set(fields) == {"csrf_token", "step", "username", "password"}


def test_a_failed_sign_in_ties_the_message_to_the_fields(site: Site) -> None:
    """The error is announced (role=alert) and referenced by the fields' aria-describedby."""
    browser = site.browser("en")
    response = site.post_login(browser, site.open_login(browser), site.username, "wrong password!")
    assert response.status_code == 200
    assert '<p id="form-error" class="alert" role="alert">Invalid username or password.</p>' in response.text
    assert response.text.count('aria-describedby="form-error"') == 2
    assert f'value="{site.username}"' in response.text


def test_tenant_branding_shows_name_logo_and_colour(site_factory: Any) -> None:
    """Display name, logo URL and primary colour; the colour rides in a nonce'd style block (no unsafe-inline)."""
    site = site_factory(
        config={"branding": {"display_name": "MyTrust iD", "logo_url": "https://cdn.example.org/logo.png", "primary_color": "#aa3300"}}
    )
    page = site.open_login(site.browser("fr"))
    nonce = re.search(r"'nonce-([^']+)'", page.headers["Content-Security-Policy"]).group(1)
    assert f'<style nonce="{nonce}">:root {{ --primary: #aa3300; }}</style>' in page.text
    assert '<img class="logo" src="https://cdn.example.org/logo.png" alt="MyTrust iD"' in page.text
    assert "<title>Connexion à votre compte · MyTrust iD</title>" in text(page)


def test_without_a_logo_the_display_name_shows(site: Site) -> None:
    page = site.open_login(site.browser("en"))
    assert f'<span class="brand-name">{site.tenant.display_name}</span>' in page.text


@pytest.mark.parametrize("lang,label", [("fr", "Contacter le support"), ("en", "Contact support")])
def test_contact_support_shows_only_with_a_support_url(site: Site, lang: str, label: str) -> None:
    """« Contacter le support » under the form, pointing at the tenant's support URL (issue 4, step 1)."""
    assert label not in text(site.open_login(site.browser(lang)))
    site.configure({"branding": {"support_url": "https://help.example.org/contact"}})
    body = text(site.open_login(site.browser(lang)))
    assert f'<a href="https://help.example.org/contact" rel="noopener noreferrer">{label}</a>' in body


def test_lost_credentials_is_hidden_while_self_recovery_is_off(site: Site) -> None:
    """The link shows only when the flow is live for the tenant (issue 4, step 1); see test_recovery_link.py."""
    body = text(site.open_login(site.browser("fr")))
    assert "Moyens d'identification perdus ?" not in body
    assert "/flow/self-recovery" not in body


@pytest.mark.parametrize(
    "template,context,fr,en",
    [
        ("logged_out.html", {}, "Vous êtes déconnecté", "You are signed out"),
        ("signed_in.html", {"username": "alice"}, "Connecté en tant que alice.", "Signed in as alice."),
        ("flow_done.html", {}, "C'est terminé", "All done"),
        ("error.html", {"error": "link_expired"}, "Ce lien a expiré ; demandez-en un nouveau.", "This link has expired; request a new one."),
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
