"""The HTTP layer: blueprints parse requests, call one layer down, and render.

:func:`idp.app.create_app` wires every blueprint, the i18n, the page helpers, CSRF, the security
headers and the error handlers of this package into the app (the admin API and console,
:mod:`idp.admin`, sit above it and are wired there too).
"""
