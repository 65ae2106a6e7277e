"""Fixtures of the hosted-page tests: ``site`` is a live server with a tenant and a user."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import LiveServer, free_port
from werkzeug.serving import make_server

from idp import create_app
from idp.flowengine.registry import FlowRegistry
from idp.storage.schema import upgrade
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


@pytest.fixture
def make_registry_server(make_settings: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """A live server (real HTTP, loopback) whose app is built with a given flow registry."""
    made: list[tuple[Any, threading.Thread, Any]] = []

    def make(registry: FlowRegistry) -> LiveServer:
        port = free_port()
        app = create_app(make_settings(public_url=f"http://127.0.0.1:{port}"), registry=registry)
        services = app.extensions["idp"]
        upgrade(services.db)
        server = make_server("127.0.0.1", port, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        made.append((server, thread, services))
        return LiveServer(url=f"http://127.0.0.1:{port}", app=app, services=services)

    yield make
    for server, thread, services in made:
        server.shutdown()
        thread.join(5)
        services.close()
