"""The admin revision: every worker on every node drops its cached tenants, clients and keys at once after an admin write.

Each process keeps tenants, clients and signing keys in memory (the token endpoint, discovery and the
JWKS must not query for them). An admin write (a tenant created, its configuration changed or migrated,
a client registered, changed, re-keyed or removed, a signing key rotated) goes through a service that
increments one counter in the ephemeral store, shared by every worker and node, before and after its
database transaction (:meth:`AdminRevision.bump`). Every request that may use those caches first reads
the counter (:meth:`AdminRevision.sync`, one store round trip); when it moved since this process last
read it, the process drops all three caches and reloads from the database.

The guarantee: once an admin call has returned, every request that starts afterwards, on any worker
of any node sharing the store, sees the change (an old client secret is refused, a removed client is
unknown, the new configuration applies). A request already running may finish with what it read.

Failing closed (R-95): when the store cannot be read, :meth:`sync` drops the caches and raises
:class:`~idp.store.StoreUnavailable` (the request answers 503), and an admin write whose first bump
fails is refused before anything is written. The caches' own time to live stays as a backstop.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from idp.store import Guard, StoreUnavailable

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Callable

    from idp.storage.database import Database
    from idp.store import EphemeralStore

#: Ephemeral-store key of the counter (``idp:{admin:revision}`` on Redis).
REVISION_KEY = "admin:revision"
#: Lifetime of the counter, seconds. Should it expire, the next read sees 0: a move like any other.
REVISION_LIFETIME = 400 * 86400


class AdminRevision:
    """This process's view of the shared admin revision, and the generation of its caches."""

    def __init__(self, db: "Database", store: "EphemeralStore") -> None:
        self.db = db
        self.store = store
        #: The ``clear()`` of every cache this process has built (tenants, clients, keys), registered by each.
        self._caches: list[Callable[[], None]] = []
        self._seen: int | None = None
        self._lock = threading.Lock()
        #: Bumped each time this process drops its caches: a load that began under an older generation
        #: is not stored (it may have read the database before the admin write it missed).
        self.generation = 0

    def bump(self) -> None:
        """Tell every worker that admin state changed (one ``INCR``); raises :class:`StoreUnavailable` on an outage.

        A service calls it before its transaction (so a write is refused, nothing written, when the store is
        down) and after it commits (so a worker that reloaded in between reloads again).
        """
        self.store.incr(REVISION_KEY, REVISION_LIFETIME)
        # inside a transaction spanning several services (``idp tenant import``, ``config set``), their
        # "after" bump still comes before the real commit: bump once more when it has happened
        self.db.after_transaction(self._bump_after_commit)

    def _bump_after_commit(self) -> None:
        self.store.incr(REVISION_KEY, REVISION_LIFETIME)

    def sync(self) -> None:
        """Read the shared revision (one round trip) and drop this process's caches when it moved since the last read."""
        try:
            current = self.store.counter(REVISION_KEY)
        except StoreUnavailable:
            with self._lock:
                self._seen = None  # whatever happened during the outage, reload afterwards
                self._drop()
            raise
        if current != self._seen:
            with self._lock:
                if current != self._seen:
                    self._drop()
                    self._seen = current

    def guard(self) -> Guard | None:
        """The revision this process last read, as a :class:`~idp.store.Guard` for the first store operation of a
        request (the fast lane's): checked in that operation's round trip instead of one of its own.

        The same guarantee as :meth:`sync`: the operation runs only while the counter is where this process last
        read it, so the caches it answers from were current at that moment (a request that started after an admin
        call returned sees the counter moved). On :class:`~idp.store.GuardMoved` the caller hands the request to
        Flask, whose :meth:`sync` drops the caches. Before the first read (or after an outage) there is nothing to
        compare with: this reads it now (:meth:`sync`) and returns None.
        """
        seen = self._seen
        if seen is None:
            self.sync()
            return None
        return Guard(REVISION_KEY, seen)

    def confirm(self, guard: Guard | None) -> bool:
        """True when ``guard`` is None (a :meth:`sync` just ran) or its store operation confirmed it; else read the
        revision now (:meth:`sync`: one round trip) and say whether it is still the one the guard expected."""
        if guard is None or guard.confirmed:
            return True
        self.sync()
        return self._seen == guard.expected

    def _drop(self) -> None:
        self.generation += 1
        for clear in list(self._caches):
            clear()

    def watch(self, clear: "Callable[[], None]") -> None:
        """Call ``clear`` whenever the shared revision moves (a service registers its cache when it is built)."""
        self._caches.append(clear)
