"""A lightweight, multi-tenant OpenID Connect identity provider.

The only way to build the web app is :func:`create_app`.
"""

from idp.app import create_app
from idp.settings import Settings

__all__ = ["Settings", "create_app"]
