"""The app factory."""

from __future__ import annotations

from flask import Flask
from flask.sessions import SessionInterface
from jinja2 import ChoiceLoader, FileSystemLoader

from idp.flowengine.registry import FlowRegistry
from idp.services import Services, build_services
from idp.settings import Settings


def create_app(settings: Settings | None = None, registry: FlowRegistry | None = None) -> Flask:
    """Build the WSGI app: settings (``IDP_*`` when None), services, blueprints; the flow registry is frozen."""
    settings = settings or Settings.from_env()
    settings.validate()

    from idp.templates import TEMPLATE_DIR

    app = Flask("idp", template_folder=str(TEMPLATE_DIR), static_folder=str(TEMPLATE_DIR / "static"), static_url_path="/static")
    app.config.update(
        SECRET_KEY=settings.effective_secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
        MAX_CONTENT_LENGTH=64 * 1024,
        JSON_SORT_KEYS=False,
    )

    # nothing lives in Flask's signed-cookie session (flow state is server-side, bound to the browser,
    # skip building its serializer on every request; any write to it raises
    app.session_interface = _NoCookieSession()

    if registry is None:
        registry = FlowRegistry()
        registry.load_entry_points()
    registry.freeze()
    # the core's pages first (base.html, _macros.html...), then the pages each installed flow ships
    app.jinja_loader = ChoiceLoader([FileSystemLoader(str(TEMPLATE_DIR)), *(FileSystemLoader(str(d)) for d in registry.resource_dirs("templates"))])
    services = build_services(settings, registry)
    app.extensions["idp"] = services

    _wire(app)
    if settings.proxy_count > 0:
        # behind N trusted proxies, the client's address and scheme come from their X-Forwarded-* headers
        # (throttling per address, audit and recovery limits need the real client, R-27, R-46, R-48)
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_count, x_proto=settings.proxy_count)  # type: ignore[method-assign]
    return app


def _wire(app: Flask) -> None:
    """Every hook, blueprint and handler, in the order they must run."""
    from idp.web import browser, consistency, csrf, errors, i18n, messages, pages, security_headers

    consistency.init_app(app)  # first: every later hook and view sees the caches after the latest admin write
    services: Services = app.extensions["idp"]
    i18n.init_app(app, services.registry.resource_dirs("translations"))
    messages.init_app(app, services.registry)  # the error texts the installed flows declare
    pages.init_app(app)
    csrf.init_app(app)
    security_headers.init_app(app)
    errors.init_app(app)
    browser.init_app(app)

    from idp.admin import init_app as init_admin
    from idp.messaging import outbox_pages
    from idp.observability import init_app as init_observability
    from idp.web import faults
    from idp.web.account import bp as account_bp
    from idp.web.account_console import bp as account_console_bp
    from idp.web.branding import bp as branding_bp
    from idp.web.flows import bp as flows_bp
    from idp.web.health import bp as health_bp
    from idp.web.oidc_endpoints import bp as oidc_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(oidc_bp)
    app.register_blueprint(flows_bp)
    app.register_blueprint(account_bp)
    app.register_blueprint(account_console_bp)
    app.register_blueprint(branding_bp)
    init_observability(app)  # metrics, JSON logs
    faults.init_app(app)  # 503s for outages
    outbox_pages.init_app(app)  # /dev/outbox (development only)
    init_admin(app)  # /admin API and console (issue 5)

    from idp.web import fastlane

    fastlane.init_app(app)  # discovery and JWKS from the caches, before Flask (issue 7)


def services_of(app: Flask) -> Services:
    """The :class:`Services` of ``app``."""
    return app.extensions["idp"]  # type: ignore[no-any-return]


class _NoCookieSession(SessionInterface):
    """Flask's session, always the null one: the IdP keeps no state in a client-side cookie."""

    def open_session(self, app: Flask, request: object) -> None:  # type: ignore[override]
        return None  # Flask then uses make_null_session(), which refuses writes

    def save_session(self, app: Flask, session: object, response: object) -> None:  # type: ignore[override]
        return None
