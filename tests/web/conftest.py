"""Fixtures of the hosted-page tests: ``site`` is a live server with a tenant and a user."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from web.support import Site, make_site


@pytest.fixture
def site(live_server: Any) -> Site:
    return make_site(live_server)


@pytest.fixture
def site_factory(live_server: Any) -> Callable[..., Site]:
    """More tenants on the same live server: ``site_factory(config={...}, locale="fr")``."""

    def make(config: dict[str, Any] | None = None, locale: str | None = None) -> Site:
        return make_site(live_server, config, locale)

    return make
