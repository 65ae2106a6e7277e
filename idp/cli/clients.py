"""``idp client create|update|list|show``: relying parties (OAuth 2.0 / OIDC clients) of a tenant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from idp.cli.base import CliError, cli, emit, json_option, services
from idp.cli.operator import operator_actions
from idp.cli.views import client_view
from idp.oidc.clients import ADMIN_SCOPE, SUPPORTED_SCOPES


def admin_scope(grants: tuple[str, ...] | list[str]) -> str:
    """The scopes of an admin client: ``admin`` alone for a service account, with the OIDC scopes when users sign in."""
    if set(grants) == {"client_credentials"}:
        return ADMIN_SCOPE
    return " ".join((*SUPPORTED_SCOPES, ADMIN_SCOPE))


def logout_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--frontchannel-logout-uri`` / ``--backchannel-logout-uri`` and their ``--...-session-required`` switches."""
    options = (
        click.option(
            "--frontchannel-logout-uri",
            "frontchannel_logout_uri",
            default=None,
            metavar="URI",
            help="Framed by the logout page to sign the user out of this RP (OpenID Connect Front-Channel Logout); "
            "https, or http on a loopback address. An empty value removes it.",
        ),
        click.option(
            "--frontchannel-logout-session-required/--no-frontchannel-logout-session-required",
            "frontchannel_logout_session_required",
            default=None,
            help="The frame's URL carries iss and sid.",
        ),
        click.option(
            "--backchannel-logout-uri",
            "backchannel_logout_uri",
            default=None,
            metavar="URI",
            help="Where logout tokens are POSTed when a session ends (OpenID Connect Back-Channel Logout); "
            "https, or http on a loopback address. An empty value removes it.",
        ),
        click.option(
            "--backchannel-logout-session-required/--no-backchannel-logout-session-required",
            "backchannel_logout_session_required",
            default=None,
            help="Logout tokens carry sid (they always do here).",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


def security_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--require-par/--no-require-par`` (RFC 9126 §6), ``--require-dpop/--no-require-dpop`` (RFC 9449 §5.2) and
    ``--response-mode`` (R-64)."""
    options = (
        click.option(
            "--require-par/--no-require-par",
            "require_pushed_authorization_requests",
            default=None,
            help="Accept only pushed authorization requests (PAR) from this client (require_pushed_authorization_requests).",
        ),
        click.option(
            "--require-dpop/--no-require-dpop",
            "dpop_bound_access_tokens",
            default=None,
            help="Refuse token requests of this client without a DPoP proof (dpop_bound_access_tokens).",
        ),
        click.option(
            "--response-mode",
            "response_modes",
            multiple=True,
            type=click.Choice(["query", "form_post"]),
            callback=lambda _ctx, _param, value: list(value) or None,
            help="An authorization response mode the client may ask for; repeat for more (response_modes). Default: query and form_post.",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


def given(**values: Any) -> dict[str, Any]:
    """The options that were given (not None)."""
    return {k: v for k, v in values.items() if v is not None}


@cli.group("client")
def client() -> None:
    """Register and inspect relying parties (OIDC clients)."""


@client.command("create")
@click.argument("tenant")
@click.argument("client_id")
@click.option("--redirect-uri", "redirect_uris", multiple=True, metavar="URI", help="Allowed redirect URI (exact match); repeat for more.")
@click.option(
    "--post-logout-redirect-uri",
    "post_logout_redirect_uris",
    multiple=True,
    metavar="URI",
    help="Allowed post-logout redirect URI (exact match); repeat for more.",
)
@click.option("--public", is_flag=True, help="A public client (no secret; PKCE required), e.g. a SPA or a mobile app.")
@click.option(
    "--grant",
    "grants",
    multiple=True,
    metavar="GRANT",
    help="Allowed grant type (authorization_code, refresh_token, client_credentials); repeat for more. Default: authorization_code and refresh_token.",
)
@click.option(
    "--auth-method",
    type=click.Choice(["client_secret_basic", "client_secret_post", "none"]),
    default=None,
    help="Token endpoint authentication (default: client_secret_basic, or none for --public).",
)
@click.option("--pkce/--no-pkce", "require_pkce", default=True, show_default=True, help="Require PKCE (always required for public clients).")
@click.option("--name", default="", help="Display name of the client.")
@click.option(
    "--consent-required/--no-consent-required",
    "consent_required",
    default=False,
    show_default=True,
    help="A third-party client: users approve the scopes it asks for on a consent page (remembered per user).",
)
@click.option(
    "--admin",
    "admin",
    is_flag=True,
    help="An admin client: may ask for the scope admin (tokens for the admin API, audience idp-admin). "
    "Without --grant: a service account (client_credentials only). In master it manages every tenant, elsewhere its own tenant.",
)
@logout_options
@security_options
@json_option
def create(
    tenant: str,
    client_id: str,
    redirect_uris: tuple[str, ...],
    post_logout_redirect_uris: tuple[str, ...],
    public: bool,
    grants: tuple[str, ...],
    auth_method: str | None,
    require_pkce: bool,
    name: str,
    consent_required: bool,
    admin: bool,
    as_json: bool,
    **logout: Any,
) -> None:
    """Register CLIENT_ID in TENANT; a confidential client's secret is printed this once."""
    logout = given(**logout)
    svc = services()
    t = svc.tenants.require(tenant)
    if admin:
        row, secret = operator_actions().create_client(
            t.slug,
            {
                "client_id": client_id,
                "redirect_uris": list(redirect_uris),
                "post_logout_redirect_uris": list(post_logout_redirect_uris),
                "public": public,
                "grant_types": list(grants or ["client_credentials"]),
                "token_endpoint_auth_method": auth_method,
                "require_pkce": require_pkce,
                "name": name,
                "scope": admin_scope(grants or ("client_credentials",)),
                "consent_required": consent_required,
                **logout,
            },
        )
    else:
        row, secret = svc.clients.create(
            t,
            client_id,
            list(redirect_uris),
            post_logout_redirect_uris=list(post_logout_redirect_uris),
            public=public,
            grant_types=list(grants) or None,
            auth_method=auth_method,
            require_pkce=require_pkce,
            name=name,
            consent_required=consent_required,
            **logout,
        )
    if not as_json and secret:
        click.echo("The client secret is shown this once; store it now.", err=True)
    emit(client_view(t, row, client_secret=secret), as_json)


@client.command("update")
@click.argument("tenant")
@click.argument("client_id")
@click.option("--redirect-uri", "redirect_uris", multiple=True, metavar="URI", help="Replace the redirect URIs; repeat for more.")
@click.option(
    "--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True, metavar="URI", help="Replace the post-logout redirect URIs."
)
@click.option("--name", default=None, help="Display name of the client.")
@click.option("--scope", default=None, metavar="SCOPES", help="Replace the scopes the client may ask for (space-separated).")
@click.option(
    "--consent-required/--no-consent-required",
    "consent_required",
    default=None,
    help="Make it a third-party client whose scopes users approve on a consent page, or a first-party one that never asks.",
)
@logout_options
@security_options
@json_option
def update(
    tenant: str,
    client_id: str,
    redirect_uris: tuple[str, ...],
    post_logout_redirect_uris: tuple[str, ...],
    name: str | None,
    scope: str | None,
    consent_required: bool | None,
    as_json: bool,
    **logout: Any,
) -> None:
    """Change CLIENT_ID of TENANT: only the options given change (the admin API's rules and audit apply)."""
    t = services().tenants.require(tenant)
    changes = given(name=name, scope=scope, consent_required=consent_required, **logout)
    if redirect_uris:
        changes["redirect_uris"] = list(redirect_uris)
    if post_logout_redirect_uris:
        changes["post_logout_redirect_uris"] = list(post_logout_redirect_uris)
    if not changes:
        raise CliError("nothing to change: give at least one option (see idp client update --help)")
    emit(client_view(t, operator_actions().update_client(t.slug, client_id, changes)), as_json)


@client.command("list")
@click.argument("tenant")
@json_option
def list_(tenant: str, as_json: bool) -> None:
    """List the clients of TENANT."""
    svc = services()
    t = svc.tenants.require(tenant)
    rows = [client_view(t, c) for c in svc.clients.list(t)]
    emit(rows, as_json, columns=("client_id", "name", "public", "redirect_uris"))


@client.command("show")
@click.argument("tenant")
@click.argument("client_id")
@json_option
def show(tenant: str, client_id: str, as_json: bool) -> None:
    """Show client CLIENT_ID of TENANT (never its secret)."""
    svc = services()
    t = svc.tenants.require(tenant)
    emit(client_view(t, svc.clients.require(t, client_id)), as_json)
