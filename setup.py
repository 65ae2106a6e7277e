"""Packages are found, not listed: the core (``idp``), the hosted pages (``templates/``, installed as
``idp.templates``) and every flow package under ``flows/``; a plugin is registered by its entry point
alone (``[options.entry_points] idp.flows`` in setup.cfg). Everything else is in setup.cfg."""

from setuptools import find_packages, setup

setup(packages=[*find_packages(include=["idp", "idp.*", "flows", "flows.*"]), "idp.templates"])
