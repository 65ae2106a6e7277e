"""``idp demo``: a ``demo`` tenant with a user and a confidential client for a local RP; safe to re-run."""

from __future__ import annotations

from typing import Any

import click

from idp.cli.base import cli, emit, json_option, services
from idp.cli.init import ensure_initialised
from idp.cli.views import discovery_url

TENANT = "demo"
USERNAME = "demo"
#: Fixed so the README and a re-run print working credentials; reset on every run.
PASSWORD = "demo-password-42"
EMAIL = "demo@example.com"
#: The demo user's phone on file: recovery SMS codes land in the dev outbox (/dev/outbox).
PHONE = "+33612345678"
RECOVERY = "self-recovery"
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
    ensure_initialised(svc)
    tenant = svc.tenants.get(TENANT)
    if tenant is None:
        # the flagship flow is on where the set-up allows it (the dev outbox counts outside production)
        offer = (RECOVERY,) if RECOVERY in svc.registry and not svc.tenants.compatibility_for_new(TENANT, "v2", RECOVERY) else ()
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
        "self_recovery": tenant.flow_live(RECOVERY),
        "outbox": f"{svc.settings.public_url}/dev/outbox" if not svc.settings.is_production else None,
    }
