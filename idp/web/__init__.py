"""The HTTP layer: blueprints parse requests, call one layer down, and render.

``init_web`` wires every blueprint, the i18n, the page helpers, CSRF, the
security headers and the error handlers into an app built by :func:`idp.create_app`.
"""

from __future__ import annotations

from flask import Flask


def init_web(app: Flask) -> None:
    from idp.web import browser, csrf, errors, i18n, pages, security_headers

    i18n.init_app(app)
    pages.init_app(app)
    csrf.init_app(app)
    security_headers.init_app(app)
    errors.init_app(app)
    browser.init_app(app)

    from idp import admin, observability
    from idp.messaging import outbox_pages
    from idp.oidc.blueprint import bp as oidc_bp
    from idp.web.account import bp as account_bp
    from idp.web.flows import bp as flows_bp
    from idp.web.health import bp as health_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(oidc_bp)
    app.register_blueprint(flows_bp)
    app.register_blueprint(account_bp)
    observability.init_app(app)  # metrics, JSON logs, 503s for outages
    outbox_pages.init_app(app)  # /dev/outbox (development only)
    admin.init_app(app)  # /admin API and console (issue 5)

    from idp.oidc import fastlane

    fastlane.init_app(app)  # discovery and JWKS from the caches, before Flask (issue 7)
