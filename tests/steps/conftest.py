"""Unit tests of the flow steps on in-memory fakes of the step port (no server, no database, no Flask app)."""

from __future__ import annotations

import pytest
from support.fakes import FakeServices, FakeUser

PASSWORD = "correct horse battery staple"


@pytest.fixture
def services() -> FakeServices:
    return FakeServices()


@pytest.fixture
def alice(services: FakeServices) -> FakeUser:
    return services.users.add("alice", PASSWORD, email="alice@example.org")
