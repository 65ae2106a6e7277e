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


class Guard:
    """A counter the caller last read as ``expected``, checked in the same round trip as a guarded operation.

    A guarded :meth:`EphemeralStore.consume` or :meth:`EphemeralStore.find_many` first compares the counter
    with ``expected``: when it moved, the operation does nothing and raises :class:`GuardMoved`; otherwise it
    runs and the store sets :attr:`confirmed`. The protocol fast lane uses it to check the admin revision
    (:mod:`idp.tenants.revision`) together with the first record a request reads or spends, instead of in a
    round trip of its own.
    """

    __slots__ = ("confirmed", "expected", "key")

    def __init__(self, key: str, expected: int) -> None:
        self.key = key
        self.expected = expected
        #: Set by the store once the counter was found at ``expected`` (the guarded operation then ran).
        self.confirmed = False


class GuardMoved(Exception):
    """A guarded operation found its counter moved: nothing was read or changed."""

    def __init__(self, current: int) -> None:
        super().__init__(f"guard counter moved to {current}")
        self.current = current


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

    def find_many(self, keys: list[str], guard: Guard | None = None) -> list[dict[str, Any] | None]:
        """The payloads of several live records (None for each absent one), in ``keys`` order.

        Backends answer in one round trip where they can (hot paths read two or three records per request),
        ``guard``'s counter included (:class:`GuardMoved` when it moved).
        """
        self._check(guard)
        return [self.find(k) for k in keys]

    def _check(self, guard: Guard | None) -> None:
        """Compare ``guard``'s counter on its own (backends that cannot fold it into the operation's round trip)."""
        if guard is not None:
            current = self.counter(guard.key)
            if current != guard.expected:
                raise GuardMoved(current)
            guard.confirmed = True

    @abstractmethod
    def touch(self, key: str, payload: dict[str, Any], expires_in: int) -> bool:
        """Replace a record and renew its lifetime only if it is still live (never brings a revoked one back)."""

    @abstractmethod
    def consume(self, key: str, guard: Guard | None = None) -> Consumed | None:
        """Mark a record used, atomically; the record stays so that a replay is recognised.

        With ``guard``, nothing is consumed (:class:`GuardMoved`) when its counter moved, in the same step.
        """

    @abstractmethod
    def take(self, key: str) -> dict[str, Any] | None:
        """Read and delete a record in one atomic step (exactly one caller gets it)."""

    @abstractmethod
    def destroy(self, key: str) -> None:
        """Delete a record if it exists."""

    def destroy_many(self, keys: list[str]) -> None:
        """:meth:`destroy` each of ``keys`` (records and counters alike); one round trip where the backend can."""
        for key in keys:
            self.destroy(key)

    @abstractmethod
    def revoke_by_grant(self, grant_id: str) -> int:
        """Delete every record filed under ``grant_id``; returns how many were live."""

    @abstractmethod
    def grant_members(self, grant_id: str, prefix: str = "") -> list[str]:
        """Keys filed under ``grant_id`` that start with ``prefix``, in no order (a read: nothing changes).

        A key may name a record that has expired or was destroyed since it was filed: read the records
        (:meth:`find_many`) to know which are live."""

    @abstractmethod
    def incr(self, key: str, expires_in: int, amount: int = 1) -> int:
        """Add to a counter; the first increment starts its lifetime. Returns the new value."""

    @abstractmethod
    def counter(self, key: str) -> int:
        """A counter's current value (0 when absent or expired)."""

    @abstractmethod
    def upsert_while_live(
        self, key: str, payload: dict[str, Any], expires_in: int, grant_id: str, witness: str
    ) -> bool:
        """Create or replace ``key`` filed under ``grant_id``, only while the record ``witness`` is live.

        Returns False (and writes nothing that outlives the call) when ``witness`` is gone. Safe against a
        concurrent :meth:`revoke_by_grant` of ``grant_id`` when ``witness`` is filed under it too: either that
        revocation removes ``key`` as well, or this call sees ``witness`` gone.
        """

    @abstractmethod
    def acquire_slot(self, key: str, limit: int, expires_in: int) -> bool:
        """Take one in-flight slot of the counter ``key``, atomically (check and count in one step).

        Granted when no slot is taken, or when the counter's value plus the slots already taken stays below
        ``limit``; so however many callers race, at most ``limit - counter`` hold a slot at once. The slots
        expire ``expires_in`` seconds after the last one was taken (a caller that died frees its slot).
        """

    @abstractmethod
    def release_slot(self, key: str) -> None:
        """Give back one in-flight slot of the counter ``key`` (never below none)."""

    def release_slots(self, keys: list[str]) -> None:
        """:meth:`release_slot` of each counter in ``keys``; one round trip where the backend can."""
        for key in keys:
            self.release_slot(key)

    @abstractmethod
    def advance(self, key: str, value: int, expires_in: int) -> bool:
        """Set ``key`` to ``value`` only if ``value`` is greater than the stored one (R-82)."""

    @abstractmethod
    def ping(self) -> None:
        """Raise :class:`StoreUnavailable` when the backend cannot be reached."""

    def close(self) -> None:  # noqa: B027 - an optional hook: backends without connections keep it
        """Release connections."""


def user_label(tenant_slug: str, user_id: int) -> str:
    """The grant label every session and token issued to a user is filed under, so
    ``revoke_by_grant(user_label(...))`` ends them all at once."""
    return f"{tenant_slug}:user:{user_id}"


def user_flows_label(tenant_slug: str, user_id: int) -> str:
    """The grant label of a user's work in progress: flow runs that identified them and emailed recovery links.

    A change of the account's email or phone ends these alone (sessions stay); revoking the user ends both labels.
    """
    return f"{tenant_slug}:user-flows:{user_id}"
