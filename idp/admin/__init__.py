"""Tenant administration (issue 5): the admin REST API, its OpenAPI document, and the admin console.

- :mod:`idp.admin.auth`: bearer tokens of this IdP, checked as a resource server would; roles; tenant scoping.
- :mod:`idp.admin.actions`: what an admin can do, through the services, each write audited once.
- :mod:`idp.admin.api`: ``/admin/realms/...`` (JSON), described by :mod:`idp.admin.openapi` at ``/admin/openapi.json``.
- :mod:`idp.admin.console`: ``/admin/console/realms/<tenant>/...`` (server-rendered pages, signed in through the tenant).
- :mod:`idp.admin.console_settings`: the console's settings forms (on the console's blueprint).
- :mod:`idp.admin.console_users`: the console's user pages (on the console's blueprint).
- :mod:`idp.admin.console_clients`: the console's client page (edit) and signing keys (list, rotate).
- :mod:`idp.admin.console_events`: the console's audit log with its filters (on the console's blueprint).
- :mod:`idp.admin.console_flows`: the console's flows page and the self-recovery onboarding.
- :mod:`idp.admin.console_tenants`: the console's tenants page and tenant onboarding (platform administrators).
- :mod:`idp.admin.console_messages`: the services' refusals in the console page's language.
- :mod:`idp.admin.stats`: recovery statistics from the audit log.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from idp.admin import console_clients, console_events, console_flows, console_settings, console_tenants, console_users  # noqa: F401  (register their pages on the console's blueprint)
    from idp.admin.api import bp as api_bp
    from idp.admin.console import bp as console_bp

    app.register_blueprint(api_bp)
    app.register_blueprint(console_bp)
