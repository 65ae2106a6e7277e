"""The app factory."""

from __future__ import annotations

from flask import Flask
from flask.sessions import SessionInterface

from idp.flowengine.registry import FlowRegistry
from idp.services import Services
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
    services = Services(settings, registry)
    app.extensions["idp"] = services

    from idp.web import init_web

    init_web(app)
    if settings.proxy_count > 0:
        # behind N trusted proxies, the client's address and scheme come from their X-Forwarded-* headers
        # (throttling per address, audit and recovery limits need the real client, R-27, R-46, R-48)
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.proxy_count, x_proto=settings.proxy_count)  # type: ignore[method-assign]
    return app


def services_of(app: Flask) -> Services:
    """The :class:`Services` of ``app``."""
    return app.extensions["idp"]  # type: ignore[no-any-return]


class _NoCookieSession(SessionInterface):
    """Flask's session, always the null one: the IdP keeps no state in a client-side cookie."""

    def open_session(self, app: Flask, request: object) -> None:  # type: ignore[override]
        return None  # Flask then uses make_null_session(), which refuses writes

    def save_session(self, app: Flask, session: object, response: object) -> None:  # type: ignore[override]
        return None
