"""CSRF defence on every form (R-42): the token is bound to the browser; a failure is a 400 page in the user's language."""

from __future__ import annotations

import html

import pytest
from support.builders import Site
from support.forms import form_action, inputs


@pytest.mark.parametrize("lang,message", [
    ("fr", "Votre formulaire a expiré ou a été envoyé depuis une autre page."),
    ("en", "Your form expired or was sent from another page."),
])
def test_a_form_without_token_is_refused(site: Site, lang: str, message: str) -> None:
    browser = site.browser(lang)
    page = site.walker(browser).open_login()
    fields = inputs(page.text)
    del fields["csrf_token"]
    fields.update(username=site.username, password="whatever")
    response = browser.post(site.url("/flow/browser-login"), data=fields, timeout=10, allow_redirects=False)
    assert response.status_code == 400
    assert message in html.unescape(response.text)
    assert "idp_sso" not in response.cookies


def test_a_token_from_another_browser_is_refused(site: Site) -> None:
    """A page of another site cannot use its own visitor's token in the victim's browser."""
    attacker = site.browser("en")
    token = inputs(site.walker(attacker).open_login().text)["csrf_token"]
    victim = site.browser("en")
    page = site.walker(victim).open_login()
    fields = inputs(page.text)
    assert fields["csrf_token"] != token
    fields.update(csrf_token=token, username=site.username, password="whatever")
    response = victim.post(site.url(form_action(page.text)[len(f"/realms/{site.tenant.slug}"):]), data=fields, timeout=10)
    assert response.status_code == 400


def test_a_post_without_any_cookie_is_refused(site: Site) -> None:
    page = site.walker(site.browser("en")).open_login()
    fresh = site.browser("en")
    fields = inputs(page.text)
    fields.update(username=site.username, password="whatever")
    response = fresh.post(site.url("/flow/browser-login"), data=fields, timeout=10)
    assert response.status_code == 400
