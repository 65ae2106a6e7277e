"""Apps for the messaging tests, built without the flow plugins (messaging does not depend on them)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from idp import Settings, create_app
from idp.flowengine.registry import FlowRegistry
from idp.storage.schema import upgrade


@pytest.fixture
def make_app(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., Flask]]:
    apps: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        app = create_app(make_settings(**overrides), registry=FlowRegistry())
        upgrade(app.extensions["idp"].db)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["idp"].close()


@pytest.fixture
def messaging_log(
    caplog: pytest.LogCaptureFixture,
) -> Iterator[pytest.LogCaptureFixture]:
    """``caplog`` attached to the ``idp.messaging`` logger itself, at INFO, whatever the app's logging
    configuration does with propagation."""
    logger = logging.getLogger("idp.messaging")
    previous = logger.level
    logger.addHandler(caplog.handler)
    logger.setLevel(logging.INFO)
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)
        logger.setLevel(previous)
