"""Fixtures of the hosted-page tests: ``site`` is a live server with a tenant and a user."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from support.builders import Site, make_site


@pytest.fixture
def site(live_server: Any) -> Site:
    return make_site(live_server)


@pytest.fixture
def site_factory(live_server: Any) -> Callable[..., Site]:
    """More tenants on the same live server: ``site_factory(config={...}, locale="fr")``."""

    def make(config: dict[str, Any] | None = None, locale: str | None = None) -> Site:
        return make_site(live_server, config, locale)

    return make


@pytest.fixture
def make_registry_server(make_live_server: Callable[..., Any]) -> Callable[..., Any]:
    """A live server (real HTTP, loopback) whose app is built with a given flow registry."""
    return lambda registry: make_live_server(registry=registry)
