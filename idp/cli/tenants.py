"""``idp tenant create|list|show|migrate|flows|enable-flow|disable-flow``: tenants (Keycloak's realms) and their flows."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import click

from idp.cli.base import CliError, cli, emit, json_option, services
from idp.cli.views import flow_view, tenant_view
from idp.flowengine.contract import RECOVERY

if TYPE_CHECKING:  # pragma: no cover
    from idp.tenants.service import TenantView


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
@click.option(
    "--self-recovery/--no-self-recovery",
    "self_recovery",
    default=None,
    help="Enable account self-recovery. Without either flag, asked when the tenant's set-up is compatible.",
)
@json_option
def create(slug: str, name: str, experience: str, self_recovery: bool | None, as_json: bool) -> None:
    """Create tenant SLUG with its first signing key."""
    tenants = services().tenants
    recovery = services().registry.designated_name(RECOVERY)  # the installed self-recovery flow, if any
    if self_recovery and not recovery:
        raise CliError("no self-recovery flow is installed on this server")
    if self_recovery is None and not as_json and recovery:
        tenants.check_new(slug, experience)  # refuse a bad name before asking anything
        if not tenants.compatibility_for_new(slug, experience, recovery):
            self_recovery = _ask("Enable account self-recovery for this tenant?")
    flows = (recovery,) if self_recovery else ()
    view = tenants.create(slug, display_name=name, experience=experience, enable_flows=flows, actor="cli")
    emit(tenant_view(view), as_json)


def _ask(question: str) -> bool:
    """A yes/no question, No by default; no answer (a script's closed stdin) is No."""
    try:
        return click.confirm(question, default=False, err=True)
    except click.Abort:
        return False


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


@tenant.command("migrate")
@click.argument("slug")
@click.option("--experience", type=click.Choice(["v2", "legacy"]), required=True, help="The login experience to move to.")
@json_option
def migrate(slug: str, experience: str, as_json: bool) -> None:
    """Move tenant SLUG to another login experience (existing customers: legacy → v2 first)."""
    emit(tenant_view(services().tenants.migrate_experience(slug, experience, actor="cli")), as_json)


@tenant.command("flows")
@click.argument("slug")
@json_option
def flows(slug: str, as_json: bool) -> None:
    """List the flows of tenant SLUG with their state and compatibility (and every reason when not compatible)."""
    svc = services()
    view = svc.tenants.require(slug)
    rows = svc.tenants.flow_status(view)
    if as_json:
        emit([flow_view(view, r) for r in rows], as_json)
        return
    for row in rows:
        state = "live" if row["live"] else (f"scheduled from {row['enabled_from']}" if row["enabled"] else "disabled")
        compat = "compatible" if row["compatible"] else "not compatible: " + "; ".join(row["reasons"])
        click.echo(f"{row['name']}\t{state}\t{compat}")


@tenant.command("enable-flow")
@click.argument("slug")
@click.argument("flow")
@click.option("--from", "enabled_from", default=None, help="Activation date and time, ISO 8601 with a time zone (e.g. 2026-12-01T08:00:00+00:00).")
@json_option
def enable_flow(slug: str, flow: str, enabled_from: str | None, as_json: bool) -> None:
    """Enable FLOW for tenant SLUG, now or from a scheduled date; refused with every reason when not compatible."""
    when = None
    if enabled_from:
        try:
            when = datetime.fromisoformat(enabled_from)
        except ValueError:
            raise CliError(f"--from must be an ISO 8601 date and time, not {enabled_from!r}") from None
    _emit_flow(services().tenants.enable_flow(slug, flow, enabled_from=when, actor="cli"), flow, as_json)


@tenant.command("disable-flow")
@click.argument("slug")
@click.argument("flow")
@json_option
def disable_flow(slug: str, flow: str, as_json: bool) -> None:
    """Disable FLOW for tenant SLUG."""
    _emit_flow(services().tenants.disable_flow(slug, flow, actor="cli"), flow, as_json)


def _emit_flow(view: TenantView, flow: str, as_json: bool) -> None:
    """The flow's new state, as ``idp tenant flows`` and the admin API show it."""
    row = next(r for r in services().tenants.flow_status(view) if r["name"] == flow)
    emit(flow_view(view, row), as_json)
