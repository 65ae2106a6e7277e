"""Tenant administration (issue 5): the admin REST API, its OpenAPI document, and the admin console.

- :mod:`idp.admin.auth`: bearer tokens of this IdP, checked as a resource server would; roles; tenant scoping.
- :mod:`idp.admin.actions`: what an admin can do, through the services, each write audited once.
- :mod:`idp.admin.api`: ``/admin/realms/...`` (JSON), described by :mod:`idp.admin.openapi` at ``/admin/openapi.json``.
- :mod:`idp.admin.console`: ``/admin/console/realms/<tenant>/...`` (server-rendered pages, signed in through the tenant).
- :mod:`idp.admin.stats`: recovery statistics from the audit log.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from idp.admin.api import bp as api_bp
    from idp.admin.console import bp as console_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(console_bp)
