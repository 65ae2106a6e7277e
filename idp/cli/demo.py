"""``idp demo``: a ``demo`` tenant with a user and a confidential client for a local RP; safe to re-run."""

from __future__ import annotations

from typing import Any

import click

from idp.cli.base import CliError, cli, emit, json_option, services
from idp.cli.init import ensure_initialised
from idp.cli.views import discovery_url
from idp.flowengine.contract import RECOVERY

TENANT = "demo"
USERNAME = "demo"
#: Fixed so the README and a re-run print working credentials; reset on every run.
PASSWORD = "violet-harbour-lantern-42"
EMAIL = "demo@example.com"
#: The demo user's phone on file: recovery SMS codes land in the dev outbox (/dev/outbox).
PHONE = "+33612345678"
#: The demo tenant's administrator (role ``tenant-admin``), for the admin console; password reset on every run.
ADMIN_USERNAME = "demo-admin"
ADMIN_PASSWORD = "copper-meadow-signal-17"
CLIENT_ID = "demo-app"
#: Where a relying party on the developer's machine (port 5000, e.g. a Flask app) receives the code.
REDIRECT_URIS = ("http://127.0.0.1:5000/callback", "http://localhost:5000/callback")
POST_LOGOUT_REDIRECT_URIS = ("http://127.0.0.1:5000/", "http://localhost:5000/")


@cli.command("demo")
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    metavar="URI",
    help=f"Redirect URI of the demo client; repeat for more (default when first created: {', '.join(REDIRECT_URIS)}).",
)
@json_option
def demo(redirect_uris: tuple[str, ...], as_json: bool) -> None:
    """Create (or refresh) the demo tenant, user and client, then print how to sign in.

    Safe to re-run: the user's password is reset to the printed one and the
    client gets a new secret (the previous one stops working).
    """
    emit(ensure_demo(redirect_uris), as_json)


def ensure_demo(redirect_uris: tuple[str, ...] = ()) -> dict[str, Any]:
    """The demo tenant, user and client, created or refreshed; ``redirect_uris`` replace the client's when given."""
    from idp.oidc.clients import check_redirect_uri

    for uri in redirect_uris:  # refuse a bad URI before anything is written
        check_redirect_uri(uri)
    svc = services()
    if svc.settings.is_production:
        # its passwords are printed in the README: a known administrator credential has no place there
        raise CliError("idp demo is for development only (IDP_ENV=production): create tenants and users with idp tenant create and idp admin create-user")
    ensure_initialised(svc)
    tenant = svc.tenants.get(TENANT)
    if tenant is None:
        # the flagship flow is on where the set-up allows it (the dev outbox counts outside production)
        recovery = svc.registry.designated_name(RECOVERY)
        offer = (recovery,) if recovery and not svc.tenants.compatibility_for_new(TENANT, "v2", recovery) else ()
        tenant = svc.tenants.create(
            TENANT,
            display_name="Demo",
            experience="v2",
            config={"branding": {"support_url": "mailto:support@idp.localhost"}},
            enable_flows=offer,
            actor="cli:demo",
        )

    user = svc.users.by_username(tenant, USERNAME)
    if user is None:
        svc.users.create(
            tenant, USERNAME, PASSWORD, email=EMAIL, email_verified=True, phone=PHONE, given_name="Demo", family_name="User", locale="en"
        )
    else:
        svc.users.set_password(tenant, user, PASSWORD)

    _ensure_admin(svc, tenant)

    client = svc.clients.get(tenant, CLIENT_ID)
    if client is None:
        client, secret = svc.clients.create(
            tenant,
            CLIENT_ID,
            list(redirect_uris or REDIRECT_URIS),
            post_logout_redirect_uris=list(POST_LOGOUT_REDIRECT_URIS),
            name="Demo app",
        )
    else:
        if redirect_uris:
            client = svc.clients.update(tenant, CLIENT_ID, redirect_uris=list(redirect_uris))
        secret = svc.clients.rotate_secret(tenant, CLIENT_ID)
    return {
        "tenant": tenant.slug,
        "issuer": tenant.issuer,
        "discovery_url": discovery_url(tenant),
        "username": USERNAME,
        "password": PASSWORD,
        "client_id": client.client_id,
        "client_secret": secret,
        "redirect_uris": list(client.redirect_uris),
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris),
        "console_url": f"{svc.settings.public_url}/admin/console/realms/{tenant.slug}/",
        "admin_username": ADMIN_USERNAME,
        "admin_password": ADMIN_PASSWORD,
        "self_recovery": svc.engine.designated(tenant, RECOVERY) is not None,
        "outbox": f"{svc.settings.public_url}/dev/outbox" if not svc.settings.is_production else None,
    }


def _ensure_admin(svc: Any, tenant: Any) -> None:
    """The demo tenant's administrator, created with the role ``tenant-admin`` or given it back, password reset."""
    from idp.admin.auth import TENANT_ADMIN

    admin = svc.users.by_username(tenant, ADMIN_USERNAME)
    if admin is None:
        svc.users.create(tenant, ADMIN_USERNAME, ADMIN_PASSWORD, email="demo-admin@example.com", email_verified=True, roles=[TENANT_ADMIN], locale="en")
        return
    svc.users.set_password(tenant, admin, ADMIN_PASSWORD)
    if TENANT_ADMIN not in (admin.roles or []):
        svc.users.update(tenant, admin, roles=[*(admin.roles or []), TENANT_ADMIN])
