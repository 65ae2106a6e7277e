"""Fixtures of the admin tests: a live server per module (``world``), built like conftest's ``make_live_server``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import LiveServer, free_port
from werkzeug.serving import make_server

from admin.support import AdminWorld
from idp import Settings, create_app
from idp.storage.schema import upgrade


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    port = free_port()
    settings = Settings.from_env(
        environ={},
        instance_path=str(tmp_path_factory.mktemp("admin") / "instance"),
        secret_key="test-secret-" + "x" * 32,
        public_url=f"http://127.0.0.1:{port}",
    )
    app = create_app(settings)
    services = app.extensions["idp"]
    upgrade(services.db)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveServer(url=f"http://127.0.0.1:{port}", app=app, services=services)
    server.shutdown()
    thread.join(5)
    services.close()


@pytest.fixture(scope="module")
def world(module_server: LiveServer) -> AdminWorld:
    return AdminWorld(module_server)


@pytest.fixture
def fresh_world(make_live_server: Any) -> AdminWorld:
    """A world of its own (tests that change what others would see)."""
    return AdminWorld(make_live_server())
