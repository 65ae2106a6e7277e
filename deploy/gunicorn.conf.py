"""Gunicorn configuration for deployments: ``gunicorn -c deploy/gunicorn.conf.py idp.wsgi:app``.

``idp serve`` uses the same settings (shipped in the package as
:mod:`idp.cli.gunicorn_conf`); override any of them below or on the command line.
The IdP's own settings come from ``IDP_*`` environment variables.
"""

from idp.cli.gunicorn_conf import *  # noqa: F403 - gunicorn reads every setting of that module
