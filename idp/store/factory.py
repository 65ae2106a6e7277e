"""Pick the ephemeral store backend from the settings."""

from __future__ import annotations

from idp.settings import Settings
from idp.store.base import EphemeralStore


def open_store(settings: Settings) -> EphemeralStore:
    """Redis when ``IDP_REDIS_URL`` is set, else the embedded SQLite store in the instance folder."""
    if settings.redis_url:
        from idp.store.redis_store import RedisStore

        return RedisStore.from_url(settings.redis_url)
    from idp.store.sqlite_store import SQLiteStore

    return SQLiteStore(settings.store_path)
