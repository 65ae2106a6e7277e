"""The ephemeral store, opened at its first use.

Services are handed the store when they are built, but building them must not connect: a worker
starts (and answers ``/healthz``) while Redis is unreachable, and a CLI command that never touches
the store opens no connection. This wrapper opens the configured backend at the first call and then
hands every call straight to it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from idp.lazy import Lazy
from idp.store.base import Consumed, EphemeralStore, Guard


class DeferredStore(EphemeralStore):
    def __init__(self, open_store: Callable[[], EphemeralStore]) -> None:
        self._backend = Lazy(open_store)

    @property
    def backend(self) -> EphemeralStore:
        """The real store (Redis or the embedded SQLite one), opened on first use."""
        return self._backend.get()

    @property
    def opened(self) -> bool:
        return self._backend.made

    def upsert(self, key: str, payload: dict[str, Any], expires_in: int, grant_id: str | None = None) -> None:
        self.backend.upsert(key, payload, expires_in, grant_id)

    def find(self, key: str) -> dict[str, Any] | None:
        return self.backend.find(key)

    def find_many(self, keys: list[str], guard: Guard | None = None) -> list[dict[str, Any] | None]:
        return self.backend.find_many(keys, guard)

    def touch(self, key: str, payload: dict[str, Any], expires_in: int) -> bool:
        return self.backend.touch(key, payload, expires_in)

    def consume(self, key: str, guard: Guard | None = None) -> Consumed | None:
        return self.backend.consume(key, guard)

    def take(self, key: str) -> dict[str, Any] | None:
        return self.backend.take(key)

    def destroy(self, key: str) -> None:
        self.backend.destroy(key)

    def destroy_many(self, keys: list[str]) -> None:
        self.backend.destroy_many(keys)

    def release_slots(self, keys: list[str]) -> None:
        self.backend.release_slots(keys)

    def revoke_by_grant(self, grant_id: str) -> int:
        return self.backend.revoke_by_grant(grant_id)

    def grant_members(self, grant_id: str, prefix: str = "") -> list[str]:
        return self.backend.grant_members(grant_id, prefix)

    def incr(self, key: str, expires_in: int, amount: int = 1) -> int:
        return self.backend.incr(key, expires_in, amount)

    def counter(self, key: str) -> int:
        return self.backend.counter(key)

    def upsert_while_live(self, key: str, payload: dict[str, Any], expires_in: int, grant_id: str, witness: str) -> bool:
        return self.backend.upsert_while_live(key, payload, expires_in, grant_id, witness)

    def acquire_slot(self, key: str, limit: int, expires_in: int) -> bool:
        return self.backend.acquire_slot(key, limit, expires_in)

    def release_slot(self, key: str) -> None:
        self.backend.release_slot(key)

    def advance(self, key: str, value: int, expires_in: int) -> bool:
        return self.backend.advance(key, value, expires_in)

    def ping(self) -> None:
        self.backend.ping()

    def close(self) -> None:
        """Close the backend if it was ever opened (closing never opens it)."""
        if self._backend.made:
            self.backend.close()
