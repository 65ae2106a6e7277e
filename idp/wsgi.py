"""The WSGI application that ``idp serve`` runs under granian (settings from ``IDP_*`` variables)."""

from idp import create_app

app = create_app()
