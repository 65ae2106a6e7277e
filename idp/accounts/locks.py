""""Not you?" links: a notice's link that lets the account holder lock the account at once (R-15, R-19, R-34).

Locking disables the account and revokes every session, refresh token and
recovery link; support restores access. The link is single use, hashed in the
store and bound to tenant and user; opening it only shows a confirmation (mail
scanners follow links), the lock happens on the confirming POST.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlencode

from idp.security.secrets import random_token

if TYPE_CHECKING:  # pragma: no cover
    from idp.security.secrets import SecretBox
    from idp.store import EphemeralStore
    from idp.tenants.service import TenantView

#: A notice's lock link works this long (seconds).
LOCK_LINK_TTL = 7 * 24 * 3600


class AccountLocks:
    """The lock links themselves; locking the account is :meth:`idp.accounts.users.UserService.lock`."""

    def __init__(self, store: "EphemeralStore", secrets: "SecretBox") -> None:
        self.store = store
        self.secrets = secrets

    def _key(self, tenant: "TenantView", token: str) -> str:
        return f"{tenant.slug}:lock-link:{self.secrets.digest(token, f'lock-link:{tenant.slug}')}"

    def issue(self, tenant: "TenantView", user_id: int) -> str:
        token = random_token(32)
        self.store.upsert(self._key(tenant, token), {"user_id": user_id}, LOCK_LINK_TTL)
        return token

    def url(self, tenant: "TenantView", token: str) -> str:
        """Built from the tenant's configured issuer, never from a request (R-50)."""
        return f"{tenant.issuer}/account/lock?{urlencode({'token': token})}"

    def peek(self, tenant: "TenantView", token: str) -> str | None:
        """The store key of a live lock link, without using it up (opening a link changes nothing); else None."""
        if not token or len(token) > 100:
            return None
        key = self._key(tenant, token)
        return key if self.store.find(key) is not None else None

    def redeem(self, key: str) -> int | None:
        """Use up the lock link stored under ``key`` (exactly one caller wins): its user, or None."""
        record = self.store.take(key)
        return int(record["user_id"]) if record else None
