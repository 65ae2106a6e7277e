"""``idp tenant create|list|show``: tenants (Keycloak's realms)."""

from __future__ import annotations

import click

from idp.cli.base import cli, emit, json_option, services
from idp.cli.views import tenant_view


@cli.group("tenant")
def tenant() -> None:
    """Create and inspect tenants (each has its own issuer, keys, users and clients)."""


@tenant.command("create")
@click.argument("slug")
@click.option("--name", "name", default="", help="Display name (default: the slug).")
@click.option(
    "--experience",
    type=click.Choice(["v2", "legacy"]),
    default="v2",
    show_default=True,
    help="Login experience: v2 (new) or legacy (existing customers not yet migrated).",
)
@json_option
def create(slug: str, name: str, experience: str, as_json: bool) -> None:
    """Create tenant SLUG with its first signing key."""
    view = services().tenants.create(slug, display_name=name, experience=experience)
    emit(tenant_view(view), as_json)


@tenant.command("list")
@json_option
def list_(as_json: bool) -> None:
    """List every tenant."""
    rows = [tenant_view(t) for t in services().tenants.list()]
    emit(rows, as_json, columns=("slug", "display_name", "experience", "issuer"))


@tenant.command("show")
@click.argument("slug")
@json_option
def show(slug: str, as_json: bool) -> None:
    """Show tenant SLUG with its configuration."""
    emit(tenant_view(services().tenants.require(slug), config=True), as_json)
