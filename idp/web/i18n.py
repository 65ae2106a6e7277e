"""Languages of the hosted pages (Flask-Babel): French and English.

The language of a page is chosen in this order (issue 2, item 8):

0. the language of the flow run, for flows that speak one language per run
   (``Flow.one_language``: self-recovery keeps the language of the page where
   the user asked for the link, carried by the link, issue 16);
1. ``ui_locales`` of the flow's authorization request, else of the query string
   (space-separated tags, first supported wins);
2. the locale of the user the flow has identified;
3. the browser's ``Accept-Language``;
4. the tenant's ``default_locale`` (``en`` when the page has no tenant).

Views that know more than the request (the flow's authorization request, the
identified user) call :func:`use_locale_hints` before rendering. The tenant is
taken from the ``<tenant>`` part of the URL, so every page under
``/realms/<tenant>/`` follows its default without the view doing anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g, request
from flask_babel import Babel, get_locale, refresh

#: Languages we ship catalogs for; the first is the fallback of last resort.
SUPPORTED = ("en", "fr")

TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"


def first_supported(tags: str | None) -> str | None:
    """The first supported language in a space-separated list of BCP 47 tags (``fr-CA en`` → ``fr``)."""
    for tag in (tags or "").split():
        lang = tag.split("-")[0].split("_")[0].lower()
        if lang in SUPPORTED:
            return lang
    return None


def use_locale_hints(ui_locales: str | None = None, user_locale: str | None = None, run_locale: str | None = None) -> None:
    """Tell the selector what the view knows (the run's language, the flow's ``ui_locales``, the user's locale); re-selects."""
    g.idp_run_locale = run_locale
    g.idp_ui_locales = ui_locales
    g.idp_user_locale = user_locale
    refresh()


def current_tenant() -> Any:
    """The tenant named by the URL's ``<tenant>`` (a :class:`~idp.tenants.service.TenantView`), or None.

    Never raises: an error page must render even when the database is down.
    """
    if "idp_tenant" in g:
        return g.idp_tenant
    tenant = None
    slug = (request.view_args or {}).get("tenant") if request else None
    if isinstance(slug, str):
        try:
            tenant = current_app.extensions["idp"].tenants.get(slug)
        except Exception:
            tenant = None
    g.idp_tenant = tenant
    return tenant


def set_current_tenant(tenant: Any) -> None:
    """Record the tenant of this request (views that resolved it already) and re-select the language."""
    g.idp_tenant = tenant
    refresh()


def select_locale() -> str:
    """Flask-Babel's locale selector: the order in the module docstring."""
    run_locale = g.get("idp_run_locale")
    if run_locale in SUPPORTED:
        return str(run_locale)
    lang = first_supported(g.get("idp_ui_locales")) or first_supported(request.args.get("ui_locales"))
    if lang:
        return lang
    user_locale = g.get("idp_user_locale")
    if user_locale in SUPPORTED:
        return str(user_locale)
    lang = request.accept_languages.best_match(SUPPORTED)
    if lang:
        return str(lang)
    tenant = current_tenant()
    if tenant is not None and tenant.config.default_locale in SUPPORTED:
        return str(tenant.config.default_locale)
    return SUPPORTED[0]


def requested_language() -> str | None:
    """The language this request asks for itself (``ui_locales``, then ``Accept-Language``), or None.

    Not the user's saved locale nor the tenant default: a flow that keeps one language per run
    (``Flow.one_language``) records only a language the person is actually using.
    """
    lang = first_supported(g.get("idp_ui_locales")) or first_supported(request.args.get("ui_locales"))
    return lang or request.accept_languages.best_match(SUPPORTED)


def current_language() -> str:
    """The language of this request's pages (``en`` or ``fr``)."""
    locale = get_locale()
    return locale.language if locale is not None else SUPPORTED[0]


def init_app(app: Flask, plugin_catalogs: Sequence[Path] = ()) -> None:
    """Flask-Babel on the core's catalogs, merged with the ones installed flows ship (``plugin_catalogs``)."""
    Babel(
        app,
        default_locale=SUPPORTED[0],
        default_translation_directories=";".join(str(d) for d in (TRANSLATIONS_DIR, *plugin_catalogs)),
        locale_selector=select_locale,
    )
    app.jinja_env.globals["current_language"] = current_language
