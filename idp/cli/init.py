"""``idp init``: create or upgrade the schema and the ``master`` tenant; safe to run twice."""

from __future__ import annotations

from typing import Any

from idp.cli.base import cli, emit, json_option, services
from idp.services import Services

#: The platform administration tenant, as in Keycloak.
MASTER = "master"


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
    return {
        "database": _redacted(svc.settings.database_url),
        "schema_revision": current_revision(svc.db),
        "master_created": created,
        "issuer": master.issuer,
    }


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
