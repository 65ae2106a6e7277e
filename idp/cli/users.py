"""``idp user create|list|show|set-password|set-address|grant-role|revoke-role|consents``: accounts of a tenant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from idp.admin.auth import ROLES
from idp.cli.base import (
    CliError,
    cli,
    emit,
    json_option,
    password_options,
    read_password,
    services,
)
from idp.cli.operator import operator_actions
from idp.cli.views import consent_view, user_list, user_view
from idp.oidc.consent import ConsentError

#: ``--street-address`` ... : the members of the OIDC Core §5.1.1 address claim, option by option.
ADDRESS_OPTIONS = (
    ("--address-formatted", "formatted", "The whole address as it is shown or mailed (\\n for a new line)."),
    ("--street-address", "street_address", "Street, house number, flat... (\\n for a new line)."),
    ("--locality", "locality", "City or locality."),
    ("--region", "region", "State, province, prefecture or region."),
    ("--postal-code", "postal_code", "Postal or ZIP code."),
    ("--country", "country", "Country name."),
)


def address_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The address members as options (``address_<member>`` parameters)."""
    for flag, member, text in reversed(ADDRESS_OPTIONS):
        command = click.option(flag, f"address_{member}", default=None, metavar="TEXT", help=text)(command)
    return command


def address_from(options: dict[str, Any]) -> dict[str, str] | None:
    """The address given by :func:`address_options` (``\\n`` typed in a value is a line break), None if no option was."""
    given = {m: options[f"address_{m}"] for _, m, _ in ADDRESS_OPTIONS if options.get(f"address_{m}") is not None}
    return {m: v.replace("\\n", "\n") for m, v in given.items()} or None


@cli.group("user")
def user() -> None:
    """Create and inspect user accounts."""


@user.command("create")
@click.argument("tenant")
@click.argument("username")
@click.option("--email", default=None, metavar="E", help="Email address (unique in the tenant).")
@click.option("--phone", default=None, metavar="+E164", help="Phone number in international form, e.g. +33612345678.")
@click.option("--locale", type=click.Choice(["en", "fr"]), default=None, help="Language of pages and messages.")
@click.option("--given-name", default="", help="Given name.")
@click.option("--family-name", default="", help="Family name.")
@click.option("--email-verified", is_flag=True, help="Mark the email address as verified.")
@address_options
@password_options
@json_option
def create(
    tenant: str,
    username: str,
    email: str | None,
    phone: str | None,
    locale: str | None,
    given_name: str,
    family_name: str,
    email_verified: bool,
    password: str | None,
    password_stdin: bool,
    as_json: bool,
    **address: str | None,
) -> None:
    """Create user USERNAME in TENANT (the password must meet the tenant's policy)."""
    secret = read_password(password, password_stdin)
    svc = services()
    t = svc.tenants.require(tenant)
    row = svc.users.create(
        t,
        username,
        secret,
        email=email,
        phone=phone,
        locale=locale,
        given_name=given_name,
        family_name=family_name,
        email_verified=email_verified,
        address=address_from(address),
    )
    emit(user_view(t, row), as_json)


@user.command("list")
@click.argument("tenant")
@click.option("--query", "-q", default="", help="Only users whose username or email contains this text.")
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@json_option
def list_(tenant: str, query: str, limit: int, offset: int, as_json: bool) -> None:
    """List the users of TENANT."""
    svc = services()
    t = svc.tenants.require(tenant)
    rows, total = svc.users.search(t, query, offset=offset, limit=limit)
    if as_json:
        emit(user_list(t, rows, total, offset, limit), True)
    else:
        emit([user_view(t, r) for r in rows], False, columns=("username", "email", "phone", "enabled", "id"))


@user.command("show")
@click.argument("tenant")
@click.argument("username")
@json_option
def show(tenant: str, username: str, as_json: bool) -> None:
    """Show user USERNAME of TENANT."""
    svc = services()
    t = svc.tenants.require(tenant)
    emit(user_view(t, _require_user(t, username)), as_json)


@user.command("set-password")
@click.argument("tenant")
@click.argument("username")
@password_options
@json_option
def set_password(tenant: str, username: str, password: str | None, password_stdin: bool, as_json: bool) -> None:
    """Set the password of USERNAME in TENANT (the tenant's policy applies)."""
    secret = read_password(password, password_stdin)
    svc = services()
    t = svc.tenants.require(tenant)
    row = _require_user(t, username)
    svc.users.set_password(t, row, secret)
    emit({"tenant": t.slug, "username": row.username, "password_changed": True}, as_json)


@user.command("set-address")
@click.argument("tenant")
@click.argument("username")
@address_options
@click.option("--clear", is_flag=True, help="Remove the address.")
@json_option
def set_address(tenant: str, username: str, clear: bool, as_json: bool, **address: str | None) -> None:
    """Set the postal address of USERNAME in TENANT (the address claim, scope address): the members given replace
    the whole address; --clear removes it."""
    given = address_from(address)
    if clear == (given is not None):
        raise CliError("give the address members (--street-address, --locality...) or --clear, not both or neither")
    t = services().tenants.require(tenant)
    row = _require_user(t, username)
    row = operator_actions().update_user(t.slug, row.sub, {"address": given})
    emit(user_view(t, row), as_json)


@user.command("grant-role")
@click.argument("tenant")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
@json_option
def grant_role(tenant: str, username: str, role: str, as_json: bool) -> None:
    """Give USERNAME of TENANT the ROLE (platform-admin only in master); takes effect at their next admin request."""
    _change_roles(tenant, username, role, grant=True, as_json=as_json)


@user.command("revoke-role")
@click.argument("tenant")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
@json_option
def revoke_role(tenant: str, username: str, role: str, as_json: bool) -> None:
    """Take ROLE away from USERNAME of TENANT; their admin tokens lose it at once."""
    _change_roles(tenant, username, role, grant=False, as_json=as_json)


def _change_roles(tenant: str, username: str, role: str, grant: bool, as_json: bool) -> None:
    """Set the user's roles through the admin API's own rule (idp.admin.auth.check_roles)."""
    t = services().tenants.require(tenant)
    row = _require_user(t, username)
    roles = [r for r in (row.roles or []) if r != role] + ([role] if grant else [])
    row = operator_actions().update_user(t.slug, row.sub, {"roles": roles})
    emit(user_view(t, row), as_json)


@user.group("consents")
def consents() -> None:
    """The scopes a user granted third-party clients on the consent page."""


@consents.command("list")
@click.argument("tenant")
@click.argument("username")
@json_option
def consents_list(tenant: str, username: str, as_json: bool) -> None:
    """List the clients USERNAME of TENANT granted scopes to, with the scopes."""
    t = services().tenants.require(tenant)
    row = _require_user(t, username)
    rows = [consent_view(t, c) for c in operator_actions().consents(t.slug, row.sub)]
    emit(rows, as_json, columns=("client_id", "client_name", "scopes", "granted_at"))


@consents.command("revoke")
@click.argument("tenant")
@click.argument("username")
@click.argument("client_id")
@json_option
def consents_revoke(tenant: str, username: str, client_id: str, as_json: bool) -> None:
    """Revoke USERNAME's consent to CLIENT_ID in TENANT, and every code, refresh and access token the client got for them."""
    t = services().tenants.require(tenant)
    row = _require_user(t, username)
    try:
        ended = operator_actions().revoke_consent(t.slug, row.sub, client_id)
    except ConsentError as exc:
        raise CliError(f"{exc} ({username!r} in tenant {t.slug!r})") from None
    emit({"tenant": t.slug, "username": row.username, "client_id": client_id, "revoked": True, "authorizations_ended": ended}, as_json)


def _require_user(tenant, username: str):  # type: ignore[no-untyped-def]
    row = services().users.by_username(tenant, username)
    if row is None:
        raise CliError(f"unknown user {username!r} in tenant {tenant.slug!r}")
    return row
