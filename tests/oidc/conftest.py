"""Fixtures of the protocol tests: realms on live servers, on the embedded store or on Redis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import REDIS_URL, LiveServer, random_slug
from observability.conftest import redis_server  # a Redis of the test's own, stopped and started at will
from support.builders import Realm, make_realm

__all__ = ["redis_server"]


@pytest.fixture
def make_server(make_live_server: Callable[..., LiveServer]) -> Callable[..., LiveServer]:
    """A live server on the ``embedded`` store (default) or on ``redis``."""

    def make(backend: str = "embedded", **overrides: Any) -> LiveServer:
        if backend == "redis":
            overrides.setdefault("redis_url", REDIS_URL)
        return make_live_server(**overrides)

    return make


@pytest.fixture
def realm_factory(make_server: Callable[..., LiveServer]) -> Callable[..., Realm]:
    """``realm_factory(backend="embedded", config=None, server=None)``: a new tenant with its user and clients."""

    def make(backend: str = "embedded", config: dict[str, Any] | None = None, server: LiveServer | None = None) -> Realm:
        return make_realm(server or make_server(backend), random_slug("oidc"), config)

    return make


@pytest.fixture
def realm(realm_factory: Callable[..., Realm]) -> Realm:
    return realm_factory()


@pytest.fixture(params=["embedded", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    """Both ephemeral store backends, for tests whose rules live in the store."""
    return str(request.param)


@pytest.fixture
def any_realm(realm_factory: Callable[..., Realm], backend: str) -> Realm:
    """A realm on each store backend."""
    return realm_factory(backend)
