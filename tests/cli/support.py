"""Helpers for the CLI tests: run ``idp`` in-process with click's runner against one instance folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import create_engine, inspect, text

from idp.cli import cli
from idp.cli.base import load_services
from idp.settings import Settings

#: The IdP's variables the commands must not inherit from the shell that runs the tests.
CLEARED = ("IDP_DATABASE_URL", "IDP_REDIS_URL", "IDP_ENV", "IDP_PUBLIC_URL", "IDP_MAIL_BACKEND", "IDP_SMS_BACKEND")

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
        """The database the commands use: ``IDP_DATABASE_URL`` when a test sets one (PostgreSQL), else the instance's SQLite file."""
        url = self.env.get("IDP_DATABASE_URL")
        if url:
            return url.replace("postgresql://", "postgresql+psycopg://", 1)
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


def _services(idp: Idp):  # type: ignore[no-untyped-def]
    return load_services(Settings.from_env(environ={k: v for k, v in idp.env.items() if v is not None}))


def verify(idp: Idp, tenant: str, username: str, password: str) -> bool:
    """Check a password through the service layer, as the login page would."""
    svc = _services(idp)
    try:
        t = svc.tenants.require(tenant)
        return bool(svc.users.verify_password(svc.users.by_username(t, username), password))
    finally:
        svc.close()


def secret_works(idp: Idp, tenant: str, client_id: str, secret: str) -> bool:
    """Check a client secret as the token endpoint would."""
    svc = _services(idp)
    try:
        t = svc.tenants.require(tenant)
        return bool(svc.clients.require(t, client_id).check_client_secret(secret))
    finally:
        svc.close()
