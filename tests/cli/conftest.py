"""Fixtures for the CLI tests: ``idp`` run in-process by click's runner against a fresh instance folder."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import PG_URL, _pg_schema_url, database_urls

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


@pytest.fixture(params=database_urls())
def any_db(request: pytest.FixtureRequest, idp: Idp) -> Idp:
    """An instance on SQLite, and on PostgreSQL (a schema of its own) when ``IDP_TEST_DATABASE_URL`` is set."""
    if request.param == "postgresql":
        idp.env["IDP_DATABASE_URL"] = _pg_schema_url(PG_URL)
    return idp
