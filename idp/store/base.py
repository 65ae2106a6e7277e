"""The ephemeral store contract, shared by every backend and tested once for all."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any


class StoreUnavailable(RuntimeError):
    """The backing service cannot be reached; callers fail closed (R-95)."""


@dataclass(frozen=True)
class Consumed:
    """The result of :meth:`EphemeralStore.consume`."""

    payload: dict[str, Any]
    #: True for the one caller that consumed it first; False for every later one (a replay).
    first: bool


class EphemeralStore(ABC):
    """Records with a time to live, addressed by namespaced keys (``tenant:kind:id``).

    Every write takes its lifetime; nothing here lives forever. Operations
    where a race matters (consume, counters, advance) are atomic across every
    worker process sharing the store.
    """

    @abstractmethod
    def upsert(self, key: str, payload: dict[str, Any], expires_in: int, grant_id: str | None = None) -> None:
        """Create or replace ``key`` for ``expires_in`` seconds, optionally filed under a grant."""

    @abstractmethod
    def find(self, key: str) -> dict[str, Any] | None:
        """The payload of a live record, or None."""

    def find_many(self, keys: list[str]) -> list[dict[str, Any] | None]:
        """The payloads of several live records (None for each absent one), in ``keys`` order.

        Backends answer in one round trip where they can (hot paths read two or three records per request).
        """
        return [self.find(k) for k in keys]

    @abstractmethod
    def touch(self, key: str, payload: dict[str, Any], expires_in: int) -> bool:
        """Replace a record and renew its lifetime only if it is still live (never brings a revoked one back)."""

    @abstractmethod
    def consume(self, key: str) -> Consumed | None:
        """Mark a record used, atomically; the record stays so that a replay is recognised."""

    @abstractmethod
    def take(self, key: str) -> dict[str, Any] | None:
        """Read and delete a record in one atomic step (exactly one caller gets it)."""

    @abstractmethod
    def destroy(self, key: str) -> None:
        """Delete a record if it exists."""

    @abstractmethod
    def revoke_by_grant(self, grant_id: str) -> int:
        """Delete every record filed under ``grant_id``; returns how many were live."""

    @abstractmethod
    def incr(self, key: str, expires_in: int, amount: int = 1) -> int:
        """Add to a counter; the first increment starts its lifetime. Returns the new value."""

    @abstractmethod
    def counter(self, key: str) -> int:
        """A counter's current value (0 when absent or expired)."""

    @abstractmethod
    def advance(self, key: str, value: int, expires_in: int) -> bool:
        """Set ``key`` to ``value`` only if ``value`` is greater than the stored one (R-82)."""

    @abstractmethod
    def ping(self) -> None:
        """Raise :class:`StoreUnavailable` when the backend cannot be reached."""

    def close(self) -> None:  # noqa: B027 - an optional hook: backends without connections keep it
        """Release connections."""


def user_label(tenant_slug: str, user_id: int) -> str:
    """The grant label every record issued to a user is filed under (sessions, tokens, flow runs), so
    ``revoke_by_grant(user_label(...))`` ends them all at once."""
    return f"{tenant_slug}:user:{user_id}"
