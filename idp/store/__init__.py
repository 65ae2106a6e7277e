"""The ephemeral store: everything that expires (sessions, flow state, codes, tokens, counters).

One small contract with TTL built in (:class:`EphemeralStore`) and two backends:
Redis when ``IDP_REDIS_URL`` is set, and an embedded SQLite file shared by every
worker process of one host otherwise.
"""

from idp.store.base import Consumed, EphemeralStore, Guard, GuardMoved, StoreUnavailable, user_flows_label, user_label
from idp.store.factory import open_store

__all__ = ["Consumed", "EphemeralStore", "Guard", "GuardMoved", "StoreUnavailable", "open_store", "user_flows_label", "user_label"]
