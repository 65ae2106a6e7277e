"""Language choice: ui_locales (the flow's authorization request, then the query), the user's locale,
Accept-Language, then the tenant default (issue 2, item 8). Also: the catalogs are complete and compiled."""

from __future__ import annotations

import gettext
import html
import io
from pathlib import Path
from typing import Any

import pytest
import requests
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from idp.web.flows import start_flow
from web.support import PASSWORD, Site, make_site

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "idp" / "translations"
FR_TITLE = "Connexion à votre compte"
EN_TITLE = "Sign in to your account"


def lang_of(response: requests.Response) -> str:
    body = html.unescape(response.text)
    assert (FR_TITLE in body) != (EN_TITLE in body) or "Vous êtes connecté" in body or "You are signed in" in body
    return "fr" if '<html lang="fr">' in body else "en"


def test_ui_locales_of_the_query_beats_accept_language(site: Site) -> None:
    browser = site.browser("en-US,en;q=0.9")
    page = browser.get(site.url("/login"), params={"ui_locales": "fr-CA en"}, timeout=10)
    assert lang_of(page) == "fr" and FR_TITLE in html.unescape(page.text)
    # the choice survives the form post: the form's action keeps ui_locales
    failed = site.post_login(browser, page, site.username, "not the password")
    assert "Utilisateur ou mot de passe incorrect." in html.unescape(failed.text)


def test_unsupported_ui_locales_are_ignored(site: Site) -> None:
    page = site.browser("en").get(site.url("/login"), params={"ui_locales": "de ja"}, timeout=10)
    assert lang_of(page) == "en"


def test_ui_locales_of_the_authorization_request_beats_the_query(make_live_server: Any) -> None:
    """The protocol side parks the request with start_flow(...); its ui_locales decide the pages' language."""
    server = make_live_server()
    server.app.add_url_rule(
        "/test/park/<tenant>",
        "test_park",
        lambda tenant: start_flow(tenant, "browser-login", auth_request={"client_id": "rp", "ui_locales": "fr"}),
    )
    site = make_site(server)
    browser = site.browser("en")
    page = browser.get(server.url + f"/test/park/{site.tenant.slug}", params={"ui_locales": "en"}, timeout=10)
    assert page.url.startswith(site.url("/flow/browser-login"))
    assert lang_of(page) == "fr"


def test_the_users_locale_beats_accept_language(site_factory: Any) -> None:
    """Once the flow knows the user, their saved locale decides (here: the signed-in page)."""
    site = site_factory(locale="fr")
    browser = site.browser("en")
    done = site.post_login(browser, site.open_login(browser), site.username, PASSWORD)
    assert done.status_code == 200
    assert "Vous êtes connecté" in html.unescape(done.text) and '<html lang="fr">' in done.text


def test_accept_language_beats_the_tenant_default(site_factory: Any) -> None:
    site = site_factory(config={"default_locale": "fr"})
    assert lang_of(site.open_login(site.browser("en-GB,en;q=0.8"))) == "en"
    assert lang_of(site.open_login(site.browser("de-DE,fr;q=0.5"))) == "fr"


@pytest.mark.parametrize("default", ["fr", "en"])
def test_the_tenant_default_decides_last(site_factory: Any, default: str) -> None:
    site = site_factory(config={"default_locale": default})
    assert lang_of(site.open_login(site.browser())) == default  # no Accept-Language at all
    assert lang_of(site.open_login(site.browser("de"))) == default


# -- the catalogs ------------------------------------------------------------------------


def read_catalog(lang: str) -> Any:
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f)


def french_messages() -> dict[str, str]:
    """msgid → translation (the singular form for plurals) of the French catalog, fuzzy entries left out."""
    out = {}
    for m in read_catalog("fr"):
        if m.id and not m.fuzzy:
            msgid = m.id[0] if isinstance(m.id, tuple) else m.id
            out[msgid] = m.string[0] if isinstance(m.string, tuple) else m.string
    return out


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_compiled_catalogs_are_up_to_date_with_the_po_files(lang: str) -> None:
    """Each committed .mo holds exactly what compiling its .po gives (`pybabel compile -d idp/translations`)."""
    fresh = io.BytesIO()
    write_mo(fresh, read_catalog(lang))
    fresh.seek(0)
    expected = gettext.GNUTranslations(fresh)._catalog  # type: ignore[attr-defined]
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo", "rb") as f:
        committed = gettext.GNUTranslations(f)._catalog  # type: ignore[attr-defined]
    assert committed == expected


def test_every_user_facing_string_has_a_french_translation() -> None:
    """Strings in templates and code (gettext, ngettext, _l) are all in the French catalog, translated (babel.cfg)."""
    method_map = [("idp/**.py", "python"), ("flows/**.py", "python"), ("templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}
    found = {msg[2] if isinstance(msg[2], str) else msg[2][0] for msg in extract_from_dir(str(ROOT), method_map, keywords=keywords)}
    french = french_messages()
    missing = sorted(m for m in found if not french.get(m))
    assert not missing, f"add these to the catalogs (pybabel extract/update/compile, see babel.cfg): {missing}"
