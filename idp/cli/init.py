"""``idp init``: create or upgrade the schema, the ``master`` tenant and the first administrator; safe to run twice."""

from __future__ import annotations

import os
from typing import Any

from idp.cli.base import CliError, cli, emit, json_option, services
from idp.services import Services

#: The platform administration tenant, as in Keycloak.
MASTER = "master"
#: The first platform administrator, as Keycloak's ``KC_BOOTSTRAP_ADMIN_USERNAME`` / ``_PASSWORD``.
BOOTSTRAP_USERNAME = "IDP_BOOTSTRAP_ADMIN_USERNAME"
BOOTSTRAP_PASSWORD = "IDP_BOOTSTRAP_ADMIN_PASSWORD"


def ensure_initialised(svc: Services) -> dict[str, Any]:
    """Bring the schema to the newest revision, then make sure ``master`` exists and has a signing key."""
    from idp.storage.schema import current_revision, initialisation_lock, upgrade
    from idp.tenants.service import TenantError

    # Nodes started together each run `idp init`: one at a time, so the master tenant and its key are made once.
    with initialisation_lock(svc.db):
        upgrade(svc.db)
        created = False
        svc.tenants.invalidate(MASTER)
        if svc.tenants.get(MASTER) is None:
            try:
                svc.tenants.create(MASTER, display_name="Master", experience="v2")
                created = True
            except TenantError:
                # Another node ran `idp init` at the same moment and created it first.
                svc.tenants.invalidate(MASTER)
        master = svc.tenants.require(MASTER)
        if not list(svc.keys.list(master)):
            svc.keys.rotate(master, publish_delay=0)
        bootstrap_admin = ensure_bootstrap_admin(svc, master)
    return {
        "database": _redacted(svc.settings.database_url),
        "schema_revision": current_revision(svc.db),
        "master_created": created,
        "issuer": master.issuer,
        "bootstrap_admin_created": bootstrap_admin,
        "console_url": f"{svc.settings.public_url}/admin/console/realms/{MASTER}/",
    }


def ensure_bootstrap_admin(svc: Services, master: Any) -> str | None:
    """Create the platform administrator named by ``IDP_BOOTSTRAP_ADMIN_*`` when ``master`` has none yet.

    Returns the username created, or None (variables unset, or a platform administrator exists:
    a second run, or another node's). Runs under :func:`initialisation_lock`, so nodes started
    together create one. The password goes through ``master``'s password policy and is never printed.
    """
    from sqlalchemy import select

    from idp.admin.auth import PLATFORM_ADMIN
    from idp.storage.models import User

    username = os.environ.get(BOOTSTRAP_USERNAME, "").strip()
    password = os.environ.get(BOOTSTRAP_PASSWORD, "")
    if not username and not password:
        return None
    with svc.db.read() as s:
        roles = s.scalars(select(User.roles).where(User.tenant_id == master.id)).all()
    if any(PLATFORM_ADMIN in (r or ()) for r in roles):
        return None
    if not username or not password:
        missing = BOOTSTRAP_PASSWORD if username else BOOTSTRAP_USERNAME
        raise CliError(f"{missing} is not set: set both {BOOTSTRAP_USERNAME} and {BOOTSTRAP_PASSWORD}, or neither")
    if svc.users.by_username(master, username) is not None:
        raise CliError(
            f"{BOOTSTRAP_USERNAME}: user {username!r} of {MASTER} exists without the {PLATFORM_ADMIN} role;"
            f" grant it with `idp user grant-role {MASTER} {username} {PLATFORM_ADMIN}`"
        )
    with svc.db.transaction():
        user = svc.users.create(master, username, password, roles=[PLATFORM_ADMIN])
        svc.audit.record(master.id, "admin.bootstrap_admin_created", user_id=user.id, actor="cli:init")
    return username


def _redacted(url: str) -> str:
    """The database URL without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


@cli.command("init")
@json_option
def init(as_json: bool) -> None:
    """Create or upgrade the database schema and the master tenant (safe to run twice)."""
    emit(ensure_initialised(services()), as_json)
