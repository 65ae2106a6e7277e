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
from support.builders import PASSWORD, Site, make_site

from idp.web.flows import start_flow

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
    failed = site.walker(browser).post_login(page, site.username, "not the password")
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
    done = site.walker(browser).sign_in(site.username, PASSWORD)
    assert done.status_code == 200
    assert "Vous êtes connecté" in html.unescape(done.text) and '<html lang="fr">' in done.text


def test_accept_language_beats_the_tenant_default(site_factory: Any) -> None:
    site = site_factory(config={"default_locale": "fr"})
    assert lang_of(site.walker(site.browser("en-GB,en;q=0.8")).open_login()) == "en"
    assert lang_of(site.walker(site.browser("de-DE,fr;q=0.5")).open_login()) == "fr"


@pytest.mark.parametrize("default", ["fr", "en"])
def test_the_tenant_default_decides_last(site_factory: Any, default: str) -> None:
    site = site_factory(config={"default_locale": default})
    assert lang_of(site.walker(site.browser()).open_login()) == default  # no Accept-Language at all
    assert lang_of(site.walker(site.browser("de")).open_login()) == default


# -- the catalogs ------------------------------------------------------------------------
#
# The core's catalog (idp/translations) holds the strings of idp/ and templates/; each flow package
# ships the catalog of its own pages and code (flows/<package>/translations), merged by Flask-Babel.

#: Each catalog folder, with the sources whose strings it must hold (babel.cfg and flows/babel.cfg).
CORE = (TRANSLATIONS, ROOT, [("idp/**.py", "python"), ("templates/**.html", "jinja2")])
PLUGIN_MAP = [("**.py", "python"), ("templates/**.html", "jinja2")]
CATALOGS = [CORE] + [(pkg / "translations", pkg, PLUGIN_MAP) for pkg in sorted((ROOT / "flows").iterdir()) if (pkg / "__init__.py").exists()]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None, "N_": None}


def _name(catalog: Path) -> str:
    return str(catalog.relative_to(ROOT))


def read_catalog(lang: str, folder: Path = TRANSLATIONS) -> Any:
    with open(folder / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f)


def french_messages(folder: Path = TRANSLATIONS) -> dict[str, str]:
    """msgid → translation (the singular form for plurals) of a French catalog, fuzzy entries left out."""
    out = {}
    for m in read_catalog("fr", folder):
        if m.id and not m.fuzzy:
            msgid = m.id[0] if isinstance(m.id, tuple) else m.id
            out[msgid] = m.string[0] if isinstance(m.string, tuple) else m.string
    return out


def _translations(mo: Any) -> tuple[dict[Any, str], str | None]:
    """The messages of a compiled catalog, and its plural rule: its content, whatever tool wrote it.

    The header entry (msgid "") is left out: it names the Babel version that compiled it
    (``Generated-By``) and dates, which change with the tool, not with the translations.
    """
    catalog = gettext.GNUTranslations(mo)
    messages = {k: v for k, v in catalog._catalog.items() if k != ""}  # type: ignore[attr-defined]
    return messages, catalog.info().get("plural-forms")


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("folder", [c[0] for c in CATALOGS if c[0].exists()], ids=_name)
def test_compiled_catalogs_are_up_to_date_with_the_po_files(folder: Path, lang: str) -> None:
    """Each committed .mo holds the messages compiling its .po gives (`bash scripts/catalogs`)."""
    fresh = io.BytesIO()
    write_mo(fresh, read_catalog(lang, folder))
    fresh.seek(0)
    with open(folder / lang / "LC_MESSAGES" / "messages.mo", "rb") as f:
        assert _translations(f) == _translations(fresh)


@pytest.mark.parametrize(("folder", "sources", "method_map"), CATALOGS, ids=[_name(c[0]) for c in CATALOGS])
def test_every_user_facing_string_has_a_french_translation_in_its_own_catalog(folder: Path, sources: Path, method_map: Any) -> None:
    """Strings in templates and code (gettext, ngettext, _l) are all in the French catalog of the part that
    shows them, translated: the core's for idp/ and templates/, a flow package's own for its pages."""
    found = {msg[2] if isinstance(msg[2], str) else msg[2][0] for msg in extract_from_dir(str(sources), method_map, keywords=KEYWORDS)}
    if not found:
        return
    assert folder.exists(), f"{_name(sources)} shows {len(found)} strings but ships no catalog: bash scripts/catalogs"
    french = french_messages(folder)
    missing = sorted(m for m in found if not french.get(m))
    assert not missing, f"add these to {_name(folder)} (bash scripts/catalogs, then translate): {missing}"


def test_a_flow_pages_strings_come_from_the_catalog_its_package_ships(site: Site) -> None:
    """The sign-in page (flows/steps) is in French although only its package's catalog holds its title."""
    assert "Sign in to your account" not in french_messages()
    assert french_messages(ROOT / "flows" / "steps" / "translations")["Sign in to your account"] == FR_TITLE
    page = site.walker(site.browser("fr")).open_login()
    assert f"<h1>{FR_TITLE}</h1>" in html.unescape(page.text)
