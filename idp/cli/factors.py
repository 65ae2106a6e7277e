"""``idp user add-totp|set-phone|recovery-codes|factors|remove-factor``: second factors of a user (issue 3, item 10;
passkeys, issue 14: listed with their authenticator, removed like any factor).

Every rule lives in :class:`idp.accounts.factors.FactorService`; a refusal is one
line on stderr with exit status 1, and writes nothing. Changes are audited with
the actor ``cli``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from idp.cli.base import CliError, emit, json_option, services
from idp.cli.users import user
from idp.cli.views import factor_view

if TYPE_CHECKING:  # pragma: no cover
    from idp.storage.models import User
    from idp.tenants.service import TenantView

ACTOR = "cli"


def _target(tenant: str, username: str) -> tuple[TenantView, User]:
    svc = services()
    t = svc.tenants.require(tenant)
    row = svc.users.by_username(t, username)
    if row is None:
        raise CliError(f"unknown user {username!r} in tenant {t.slug!r}")
    return t, row


def _refusal(exc: Exception) -> CliError:
    return CliError(str(exc))


@user.command("add-totp")
@click.argument("tenant")
@click.argument("username")
@click.option("--secret", default=None, metavar="BASE32", help="Use this base32 secret (128 bits or more) instead of a new random one.")
@click.option("--label", default="Authenticator", show_default=True, help="Label of the factor in listings.")
@json_option
def add_totp(tenant: str, username: str, secret: str | None, label: str, as_json: bool) -> None:
    """Bind a TOTP authenticator to USERNAME of TENANT and print its otpauth:// URI (keep it secret)."""
    from idp.accounts.factors import FactorError

    t, row = _target(tenant, username)
    try:
        factor, uri = services().factors.add_totp(t, row, secret=secret, label=label, actor=ACTOR)
    except FactorError as exc:
        raise _refusal(exc) from None
    if as_json:
        emit(factor_view(t, factor, otpauth_uri=uri), True)
    else:
        click.echo(uri)


@user.command("recovery-codes")
@click.argument("tenant")
@click.argument("username")
@json_option
def recovery_codes(tenant: str, username: str, as_json: bool) -> None:
    """Give USERNAME of TENANT a new set of 10 recovery codes and print them once (the earlier set stops
    working). For support-assisted recovery: hand the codes to the user only after checking who they are."""
    t, row = _target(tenant, username)
    codes = services().factors.generate_recovery_codes(t, row, actor=ACTOR)
    if as_json:
        emit({"tenant": t.slug, "username": row.username, "codes": codes}, True)
    else:
        click.echo("\n".join(codes))


@user.command("set-phone")
@click.argument("tenant")
@click.argument("username")
@click.argument("phone", metavar="+E164")
@json_option
def set_phone(tenant: str, username: str, phone: str, as_json: bool) -> None:
    """Bind PHONE as the SMS factor and verified number of USERNAME (replaces the earlier number)."""
    from idp.accounts.factors import FactorError

    t, row = _target(tenant, username)
    try:
        factor = services().factors.set_phone(t, row, phone, actor=ACTOR)
    except FactorError as exc:
        raise _refusal(exc) from None
    emit(factor_view(t, factor), as_json)


@user.command("factors")
@click.argument("tenant")
@click.argument("username")
@click.option("--all", "include_removed", is_flag=True, help="Include removed factors (their lifecycle record).")
@json_option
def list_factors(tenant: str, username: str, include_removed: bool, as_json: bool) -> None:
    """List the second factors of USERNAME in TENANT."""
    t, row = _target(tenant, username)
    svc = services().factors
    rows = svc.history(t, row) if include_removed else svc.active(t, row)
    passkeys = svc.passkey_details(t, row) if any(f.type == "passkey" for f in rows) else {}
    emit(
        [factor_view(t, f, passkeys) for f in rows],
        as_json,
        columns=("id", "type", "label", "phone", "created_at", "last_used_at", "removed_at") if include_removed else ("id", "type", "label", "phone", "created_at", "last_used_at"),
    )


@user.command("remove-factor")
@click.argument("tenant")
@click.argument("username")
@click.argument("factor_id")
@json_option
def remove_factor(tenant: str, username: str, factor_id: str, as_json: bool) -> None:
    """Remove factor FACTOR_ID of USERNAME at once (its lifecycle record stays)."""
    from idp.accounts.factors import FactorError

    t, row = _target(tenant, username)
    try:
        factor = services().factors.remove_factor(t, row, factor_id, actor=ACTOR)
    except FactorError as exc:
        raise _refusal(exc) from None
    emit(factor_view(t, factor), as_json)
