"""The app's services as the HTTP layer reaches them, typed (the composition root built them, :mod:`idp.services`)."""

from __future__ import annotations

from flask import current_app

from idp.services import Services


def current_services() -> Services:
    """The :class:`~idp.services.Services` of the app serving this request."""
    services: Services = current_app.extensions["idp"]
    return services
