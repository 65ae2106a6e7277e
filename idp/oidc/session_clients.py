"""Which relying parties took part in each SSO session, so that its end can be told to them.

OpenID Connect Front-Channel Logout 1.0 §2 and Back-Channel Logout 1.0 §2.7: the OP signs out
"the RPs that the End-User is logged into" in the session that ends. A client joins a session when
the authorization endpoint issues it a code in that session (and only when the client registered a
front- or back-channel logout URI: nobody else is told anything).

One record per user, ``{t}:sso-rps:{user_id}``: ``{"sub", "sessions": {sid: {"clients": [...],
"until": epoch}}}``, living as long as the longest of those sessions can. It is not filed under the
user's grant label, so revoking the user (:meth:`idp.accounts.users.UserService.revoke_everything`)
leaves it for :meth:`SessionClients.take_user` to read. Two sign-ins of the same user racing to
join may lose one client of the record (a read-modify-write); that RP then keeps its session until
its own expiry, as it would without this feature.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from idp.store import EphemeralStore
    from idp.tenants.service import TenantView


class SessionClients:
    """The clients each SSO session of a user gave codes to (kept in the ephemeral store)."""

    def __init__(self, store: "EphemeralStore") -> None:
        self.store = store

    def _key(self, tenant: "TenantView", user_id: int) -> str:
        return f"{tenant.slug}:sso-rps:{user_id}"

    @staticmethod
    def _live(raw: dict[str, Any] | None, now: float) -> dict[str, dict[str, Any]]:
        sessions = (raw or {}).get("sessions") or {}
        return {sid: entry for sid, entry in sessions.items() if float(entry.get("until", 0)) > now}

    def joined(self, tenant: "TenantView", user_id: int, sub: str, sid: str, session_until: int, client_id: str) -> None:
        """Note that ``client_id`` took part in session ``sid`` (which cannot outlive ``session_until``)."""
        now = time.time()
        key = self._key(tenant, user_id)
        sessions = self._live(self.store.find(key), now)
        entry = sessions.setdefault(sid, {"clients": [], "until": session_until})
        if client_id in entry["clients"]:
            return
        entry["clients"].append(client_id)
        entry["until"] = max(int(entry.get("until", 0)), session_until)
        ttl = max(1, int(max(e["until"] for e in sessions.values()) - now))
        self.store.upsert(key, {"sub": sub, "sessions": sessions}, ttl)

    def take_session(self, tenant: "TenantView", user_id: int, sid: str) -> tuple[str, tuple[str, ...]]:
        """``(sub, client ids)`` of session ``sid``, forgotten now (each session is told once)."""
        key = self._key(tenant, user_id)
        raw = self.store.find(key)
        now = time.time()
        sessions = self._live(raw, now)
        entry = sessions.pop(sid, None)
        if entry is None:
            return "", ()
        if sessions:
            ttl = max(1, int(max(e["until"] for e in sessions.values()) - now))
            self.store.upsert(key, {"sub": (raw or {}).get("sub", ""), "sessions": sessions}, ttl)
        else:
            self.store.destroy(key)
        return str((raw or {}).get("sub", "")), tuple(entry["clients"])

    def take_user(self, tenant: "TenantView", user_id: int) -> tuple[str, dict[str, tuple[str, ...]]]:
        """``(sub, {sid: client ids})`` of every live session of the user, all forgotten now."""
        raw = self.store.take(self._key(tenant, user_id))
        sessions = self._live(raw, time.time())
        return str((raw or {}).get("sub", "")), {sid: tuple(entry["clients"]) for sid, entry in sessions.items()}
