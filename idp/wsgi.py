"""The WSGI application for servers: ``gunicorn idp.wsgi:app`` (settings from ``IDP_*`` variables)."""

from idp import create_app

app = create_app()
