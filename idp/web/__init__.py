"""The HTTP layer: blueprints parse requests, call one layer down, and render.

``init_web`` wires every blueprint, the i18n, the security headers and the
error handlers into an app built by :func:`idp.create_app`.
"""

from __future__ import annotations

from flask import Flask


def init_web(app: Flask) -> None:
    from idp.web import browser, errors, i18n, security_headers

    i18n.init_app(app)
    security_headers.init_app(app)
    errors.init_app(app)
    browser.init_app(app)

    from idp.oidc.blueprint import bp as oidc_bp
    from idp.web.flows import bp as flows_bp
    from idp.web.health import bp as health_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(oidc_bp)
    app.register_blueprint(flows_bp)
