"""Fixtures for the CLI tests: ``idp`` run in-process by click's runner against a fresh instance folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, inspect, text

from idp.cli import cli

#: The IdP's variables the commands must not inherit from the shell that runs the tests.
_CLEARED = ("IDP_DATABASE_URL", "IDP_REDIS_URL", "IDP_ENV", "IDP_PUBLIC_URL", "IDP_MAIL_BACKEND", "IDP_SMS_BACKEND")

STRONG = "correct-horse-battery-staple"


@dataclass
class Idp:
    """Runs ``idp ...`` against one instance folder."""

    instance: Path
    env: dict[str, str | None]

    def run(self, *args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), env=self.env, input=input, catch_exceptions=False)

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self.run(*args, input=input)
        assert result.exit_code == 0, f"idp {' '.join(args)} -> {result.exit_code}\n{result.stdout}\n{result.stderr}"
        return result

    def json(self, *args: str, input: str | None = None) -> Any:
        return json.loads(self.ok(*args, "--json", input=input).stdout)

    def refused(self, *args: str, input: str | None = None, code: int = 1) -> str:
        """Run a command that must be refused: exit ``code``, one ``error:`` line on stderr, nothing on stdout."""
        result = self.run(*args, input=input)
        assert result.exit_code == code, f"exit {result.exit_code}: {result.stdout}{result.stderr}"
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("error: "), lines[0]
        assert "Traceback" not in result.stderr
        assert result.stdout == ""
        return lines[0]

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.instance / 'idp.db'}"

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, to prove a refused command wrote nothing."""
        engine = create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                tables = sorted(inspect(conn).get_table_names())
                return {t: [tuple(r) for r in conn.execute(text(f'SELECT * FROM "{t}" ORDER BY 1'))] for t in tables}
        finally:
            engine.dispose()


@pytest.fixture
def idp(tmp_path: Path) -> Iterator[Idp]:
    instance = tmp_path / "instance"
    env: dict[str, str | None] = {name: None for name in _CLEARED}
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
