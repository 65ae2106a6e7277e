"""``idp admin create-user``: administrators, with the roles the admin API and the console honour."""

from __future__ import annotations

import click

from idp.admin.auth import ROLES
from idp.cli.base import cli, emit, json_option, password_options, read_password, services
from idp.cli.operator import operator_actions
from idp.cli.views import user_view


@cli.group("admin")
def admin() -> None:
    """Create administrators (platform-admin in master; tenant-admin in any tenant)."""


@admin.command("create-user")
@click.argument("tenant")
@click.argument("username")
@click.option("--role", "roles", type=click.Choice(ROLES), multiple=True, required=True, help="Role to give; repeat for more.")
@click.option("--email", default=None, metavar="E", help="Email address (unique in the tenant).")
@click.option("--locale", type=click.Choice(["en", "fr"]), default=None, help="Language of pages and messages.")
@password_options
@json_option
def create_user(
    tenant: str, username: str, roles: tuple[str, ...], email: str | None, locale: str | None, password: str | None, password_stdin: bool, as_json: bool
) -> None:
    """Create administrator USERNAME in TENANT (platform-admin only in master; the tenant's password policy applies)."""
    secret = read_password(password, password_stdin)
    data = {"username": username, "password": secret, "email": email, "locale": locale, "roles": list(roles)}
    row = operator_actions().create_user(tenant, data)
    emit(user_view(services().tenants.require(tenant), row), as_json)
