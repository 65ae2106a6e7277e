"""What every ``idp`` command shares: the group, the service layer, ``--json`` output and one-line errors.

A command module (``idp/cli/<noun>.py``) imports :data:`cli` from here, adds its
command or group to it, and is imported once by :mod:`idp.cli`. Worked example::

    import click

    from idp.cli.base import cli, emit, json_option, services

    @cli.group("widget")
    def widget() -> None:
        \"\"\"Manage widgets.\"\"\"

    @widget.command("list")
    @click.argument("tenant")
    @json_option
    def list_widgets(tenant: str, as_json: bool) -> None:
        \"\"\"List the widgets of TENANT.\"\"\"
        t = services().tenants.require(tenant)
        emit([{"tenant": t.slug}], as_json)

Errors: raise the service's own error (``TenantError``, ``UserError``, ``ClientError`` ...)
or :class:`CliError`; :class:`IdpGroup` prints its message as ONE line on stderr and
exits 1 (2 for bad usage), with no traceback. Every rule lives in the service
layer, so a refused command has written nothing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import click

from idp.services import Services, build_services
from idp.settings import Settings, SettingsError

F = TypeVar("F", bound=Callable[..., Any])


class CliError(click.ClickException):
    """A refusal the CLI reports as one plain line (exit status 1)."""


def _domain_errors() -> tuple[type[BaseException], ...]:
    """The service layer's refusals: their messages are written for people, one line each."""
    from idp.accounts.users import UserError
    from idp.admin.auth import AdminAuthError
    from idp.tenants.config import ConfigError
    from idp.tenants.service import TenantError

    errors: list[type[BaseException]] = [SettingsError, TenantError, UserError, ConfigError, AdminAuthError]
    try:
        from idp.oidc.clients import ClientError
    except ImportError:  # pragma: no cover - the module ships with the package
        pass
    else:
        errors.append(ClientError)
    return tuple(errors)


def _one_line(message: str) -> str:
    return " ".join(str(message).split()) or "failed"


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` as one line on stderr and exit with ``code``."""
    click.echo(f"error: {_one_line(message)}", err=True)
    sys.exit(code)


class IdpGroup(click.Group):
    """The ``idp`` group: any refusal, usage error included, is one line on stderr, never a traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Commands in the order they were registered (init, serve, demo, then the nouns), not alphabetical."""
        return list(self.commands)

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:  # type: ignore[override]
        try:
            rv = super().main(args, prog_name=prog_name or "idp", complete_var=complete_var, standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            fail(exc.format_message(), exc.exit_code)
        except click.ClickException as exc:
            fail(exc.format_message(), exc.exit_code)
        except click.Abort:
            fail("aborted")
        except _domain_errors() as exc:
            fail(str(exc))
        except _database_errors() as exc:
            fail(f"the database refused the operation ({_db_reason(exc)}); run `idp init` first if it has no schema")
        if isinstance(rv, int) and rv != 0:
            sys.exit(rv)
        sys.exit(0)


def _database_errors() -> tuple[type[BaseException], ...]:
    from sqlalchemy.exc import OperationalError, ProgrammingError

    return (OperationalError, ProgrammingError)


def _db_reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return _one_line(str(orig if orig is not None else exc)).split(" [SQL")[0][:200]


@click.group(cls=IdpGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="idp", prog_name="idp")
def cli() -> None:
    """Operate a multi-tenant OpenID Connect identity provider.

    Settings come from IDP_* environment variables (see the README); the
    embedded default keeps everything in ./instance (IDP_INSTANCE_PATH).
    """


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point (``idp``)."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="idp")


# -- the service layer ----------------------------------------------------------


def load_services(settings: Settings | None = None) -> Services:
    """The service layer from ``IDP_*`` settings, with the flow plugins loaded and frozen (as the app does)."""
    from idp.flowengine.registry import FlowRegistry

    settings = settings or Settings.from_env()
    settings.validate()
    registry = FlowRegistry()
    registry.load_entry_points()
    registry.freeze()
    return build_services(settings, registry)


def services() -> Services:
    """The service layer of the running command, built once and closed when the command ends."""
    ctx = click.get_current_context().find_root()
    obj = ctx.meta.get("idp.services")
    if obj is None:
        obj = load_services()
        ctx.meta["idp.services"] = obj
        ctx.call_on_close(obj.close)
    return obj  # type: ignore[no-any-return]


# -- output -----------------------------------------------------------------------


def json_option(f: F) -> F:
    """The ``--json`` flag every command takes (passed as ``as_json``)."""
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of text.")(f)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in value]
    return value


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value) if value else "-"
    if isinstance(value, Mapping):
        return json.dumps(_jsonable(value), sort_keys=True)
    return str(value)


def emit(data: Any, as_json: bool, columns: Iterable[str] | None = None) -> None:
    """Print ``data`` (a mapping, or a list of mappings) as JSON or as text.

    Text: a mapping prints ``key: value`` lines; a list prints a table of ``columns``.
    Shapes (:mod:`idp.cli.views`) print as the admin API's models.
    """
    from idp.cli.views import plain

    data = plain(data, as_json)
    if as_json:
        click.echo(json.dumps(_jsonable(data), indent=2, sort_keys=False))
        return
    if isinstance(data, Mapping):
        width = max((len(k) for k in data), default=0)
        for key, value in data.items():
            click.echo(f"{key + ':':<{width + 1}} {_text(value)}")
        return
    rows = list(data)
    cols = list(columns or (rows[0].keys() if rows else ()))
    if not rows:
        click.echo("(none)")
        return
    cells = [[_text(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(cols, widths)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def read_password(password: str | None, password_stdin: bool) -> str:
    """The password from ``--password`` or one line of stdin (``--password-stdin``); exactly one is required."""
    if password is not None and password_stdin:
        raise click.UsageError("give either --password or --password-stdin, not both")
    if password_stdin:
        line = click.get_text_stream("stdin").readline()
        value = line.removesuffix("\n")
        value = value.removesuffix("\r")
        if not value:
            raise CliError("no password on standard input")
        return value
    if password is None:
        raise click.UsageError("a password is required: --password P or --password-stdin")
    return password


def password_options(f: F) -> F:
    f = click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")(f)
    f = click.option("--password", "password", metavar="P", help="The password (visible in the process list; prefer --password-stdin).")(f)
    return f
