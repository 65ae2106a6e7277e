"""Fixtures for the CLI tests: ``idp`` run in-process by click's runner against a fresh instance folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cli.support import CLEARED, Idp


@pytest.fixture
def idp(tmp_path: Path) -> Iterator[Idp]:
    instance = tmp_path / "instance"
    env: dict[str, str | None] = {name: None for name in CLEARED}
    env.update({"IDP_INSTANCE_PATH": str(instance), "IDP_SECRET_KEY": "cli-test-secret-" + "k" * 32})
    yield Idp(instance=instance, env=env)


@pytest.fixture
def initialised(idp: Idp) -> Idp:
    idp.ok("init")
    return idp


@pytest.fixture
def acme(initialised: Idp) -> Idp:
    """An initialised instance with tenant ``acme``."""
    initialised.ok("tenant", "create", "acme", "--name", "ACME Corp")
    return initialised


@pytest.fixture
def unchanged(acme: Idp) -> Callable[..., str]:
    """Run a command that must be refused, and check that the database is unchanged afterwards."""

    def check(*args: str, input: str | None = None, code: int = 1) -> str:
        before = acme.snapshot()
        line = acme.refused(*args, input=input, code=code)
        assert acme.snapshot() == before
        return line

    return check
