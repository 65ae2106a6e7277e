"""``idp keys list|rotate``: a tenant's token signing keys."""

from __future__ import annotations

import click

from idp.cli.base import cli, emit, json_option, services
from idp.cli.views import key_view


@cli.group("keys")
def keys() -> None:
    """List and rotate a tenant's signing keys."""


@keys.command("list")
@click.argument("tenant")
@json_option
def list_(tenant: str, as_json: bool) -> None:
    """List the signing keys of TENANT (newest first), with their state."""
    svc = services()
    t = svc.tenants.require(tenant)
    rows = [key_view(t, k) for k in svc.keys.list(t)]
    emit(rows, as_json, columns=("kid", "alg", "status", "active_from", "retired_at", "unpublish_at"))


@keys.command("rotate")
@click.argument("tenant")
@click.option(
    "--publish-delay",
    type=click.IntRange(0),
    default=None,
    metavar="SECONDS",
    help="Seconds the new key is published before it signs (default: the JWKS cache max-age, 600).",
)
@json_option
def rotate(tenant: str, publish_delay: int | None, as_json: bool) -> None:
    """Add a new signing key to TENANT; it is published first, signs after the delay, and the old key stays in the JWKS until its tokens expire."""
    svc = services()
    t = svc.tenants.require(tenant)
    new = svc.keys.rotate(t, publish_delay=publish_delay)
    emit(key_view(t, new), as_json)
