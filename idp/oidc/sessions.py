"""SSO sessions: who is signed in at a tenant in this browser, with idle and absolute timeouts.

A session lives in the ephemeral store under ``{tenant}:sso:{digest(cookie)}``:
the cookie holds a 256-bit random secret (R-39, R-56), and the store only ever
sees its keyed digest. Every authentication creates a new session and ends the
one the browser had (R-39). The session expires after ``tokens.sso_idle_ttl``
seconds without use and ``tokens.sso_max_ttl`` seconds after sign-in, whichever
comes first (R-21, R-41).

Everything issued to a user (SSO sessions, authorization codes, token grants)
is filed under one grant label per user, and their flow runs and recovery links
under a second one, so :meth:`SessionService.revoke_user` ends all of it with two
store calls (R-34, R-40).

A user's sessions are found through that grant label (:meth:`EphemeralStore.grant_members`), with
no record of their own: the account console's « your sessions » page lists them
(:meth:`SessionService.of_user`, with the address and browser each session keeps from its sign-in)
and its holder ends one (:meth:`SessionService.end_sid`).

The relying parties that got a code in a session are told when it ends (front- and back-channel
logout, :mod:`idp.oidc.rp_logout`): :meth:`SessionService.end` returns the front-channel URLs for the
end_session page, and queues the back-channel logout tokens; a revoked user's RPs are told by
:meth:`~idp.accounts.users.UserService.revoke_everything`, the one path of every revocation.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from idp.security.secrets import random_token
from idp.store import user_label

if TYPE_CHECKING:  # pragma: no cover
    from idp.accounts.users import UserService
    from idp.oidc.clients import ClientView
    from idp.oidc.rp_logout import RpLogout
    from idp.security.secrets import SecretBox
    from idp.store import EphemeralStore
    from idp.tenants.service import TenantView

#: Name of the SSO cookie (its path is the tenant's ``/realms/<t>/``).
COOKIE = "idp_sso"
#: A session is written back (idle timeout renewed) at most once per this many seconds of use.
TOUCH_EVERY = 60



def cookie_path(tenant_slug: str) -> str:
    return f"/realms/{tenant_slug}/"


@dataclass(frozen=True)
class SsoSession:
    """A signed-in browser at one tenant."""

    #: Public session id (the ``sid`` claim); not the cookie secret.
    sid: str
    user_id: int
    #: The user's OIDC subject, so that the authorization endpoint needs no query.
    sub: str
    #: When the user authenticated (epoch seconds): the ``auth_time`` claim.
    auth_time: int
    amr: tuple[str, ...] = ()
    acr: str = ""
    #: Last use (epoch seconds); the idle timeout counts from here.
    last_seen: int = 0
    #: Where the sign-in came from (shown to the user in their list of sessions); empty when unknown.
    client_ip: str = ""
    user_agent: str = ""
    #: The cookie value (the secret); empty on sessions read back from the store.
    token: str = field(default="", repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("token")
        data["amr"] = list(self.amr)
        ip, ua = data.pop("client_ip"), data.pop("user_agent")
        if ip:  # only when known: most of the memory of a session is its record (README "Operating in production")
            data["ip"] = ip
        if ua:
            data["ua"] = ua
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], token: str = "") -> "SsoSession":
        return cls(
            sid=str(data["sid"]),
            user_id=int(data["user_id"]),
            sub=str(data.get("sub", "")),
            auth_time=int(data["auth_time"]),
            amr=tuple(data.get("amr") or ()),
            acr=str(data.get("acr") or ""),
            last_seen=int(data.get("last_seen") or data["auth_time"]),
            client_ip=str(data.get("ip") or ""),
            user_agent=str(data.get("ua") or ""),
            token=token,
        )


@dataclass(frozen=True)
class SessionListing:
    """One live session as its holder sees it in the account console."""

    sid: str
    auth_time: int
    last_seen: int
    client_ip: str
    user_agent: str
    amr: tuple[str, ...]


class SessionService:
    """Create, find, end and revoke SSO sessions."""

    def __init__(self, store: "EphemeralStore", secrets: "SecretBox", users: "UserService", rp_logout: "RpLogout | None" = None) -> None:
        self.store = store
        self.secrets = secrets
        self.users = users
        self.rp_logout = rp_logout

    def _key(self, tenant: "TenantView", token: str) -> str:
        return f"{tenant.slug}:sso:{self.secrets.digest(token, 'sso-session')}"

    def _ttl(self, tenant: "TenantView", sso: SsoSession, now: int) -> int:
        tokens = tenant.config.tokens
        return max(1, min(tokens.sso_idle_ttl, sso.auth_time + tokens.sso_max_ttl - now))

    def establish(
        self,
        tenant: "TenantView",
        user_id: int,
        amr: list[str] | tuple[str, ...],
        acr: str,
        client_ip: str = "",
        user_agent: str = "",
    ) -> SsoSession:
        """A new session for ``user_id`` who has just authenticated (a fresh id every time, R-39).

        ``client_ip`` and ``user_agent`` are shown to the user in their list of sessions."""
        user = self.users.profile(tenant, user_id)  # status and sub: one Core read, as fresh as the ORM row
        if user is None or user.status != "active":
            raise LookupError(f"no active user {user_id} in tenant {tenant.slug!r}")
        now = int(time.time())
        sso = SsoSession(
            sid=random_token(16),
            user_id=user_id,
            sub=user.sub,
            auth_time=now,
            amr=tuple(amr),
            acr=acr,
            last_seen=now,
            client_ip=client_ip[:45],
            user_agent=user_agent[:160],
            token=random_token(32),
        )
        self.store.upsert(
            self._key(tenant, sso.token), sso.to_json(), self._ttl(tenant, sso, now), grant_id=user_label(tenant.slug, user_id)
        )
        return sso

    # -- the user's list of sessions ---------------------------------------------------------

    def _live_of_user(self, tenant: "TenantView", user_id: int) -> list[tuple[str, SsoSession]]:
        """(store key, session) of every live session of the user, found through the user's grant label."""
        keys = self.store.grant_members(user_label(tenant.slug, user_id), prefix=f"{tenant.slug}:sso:")
        now = int(time.time())
        tokens = tenant.config.tokens
        found = []
        for key, raw in zip(keys, self.store.find_many(keys), strict=True):
            if raw is None or int(raw.get("user_id", -1)) != user_id:
                continue
            sso = SsoSession.from_json(raw)
            if now - sso.last_seen < tokens.sso_idle_ttl and now - sso.auth_time < tokens.sso_max_ttl:
                found.append((key, sso))
        return found

    def of_user(self, tenant: "TenantView", user_id: int) -> list[SessionListing]:
        """The user's live sessions, newest sign-in first (ended, expired and revoked ones are left out)."""
        listed = [
            SessionListing(sso.sid, sso.auth_time, sso.last_seen, sso.client_ip, sso.user_agent, sso.amr)
            for _, sso in self._live_of_user(tenant, user_id)
        ]
        return sorted(listed, key=lambda s: (-s.auth_time, s.sid))

    def end_sid(self, tenant: "TenantView", user_id: int, sid: str) -> bool:
        """End the user's session ``sid`` (the user signs it out from another browser); its relying parties are
        told as on logout (back-channel logout queued). False when it is not one of the user's live sessions."""
        key = next((k for k, sso in self._live_of_user(tenant, user_id) if sso.sid == sid), None)
        ended = self.store.take(key) if key is not None else None
        if ended is None or int(ended.get("user_id", -1)) != user_id:
            return False
        if self.rp_logout is not None:
            self.rp_logout.session_ended(tenant, user_id, sid)
        return True

    def find(self, tenant: "TenantView", token: str) -> SsoSession | None:
        """The live session whose cookie value is ``token``; its idle timeout is renewed on use."""
        if not token or len(token) > 128:
            return None
        key = self._key(tenant, token)
        raw = self.store.find(key)
        if raw is None:
            return None
        sso = SsoSession.from_json(raw, token)
        now = int(time.time())
        tokens = tenant.config.tokens
        if now - sso.last_seen >= tokens.sso_idle_ttl or now - sso.auth_time >= tokens.sso_max_ttl:
            self.store.destroy(key)
            return None
        if now - sso.last_seen >= TOUCH_EVERY:
            sso = SsoSession.from_json({**sso.to_json(), "last_seen": now}, token)
            # renew only while it still exists: a revocation that landed since the read stays revoked
            if not self.store.touch(key, sso.to_json(), self._ttl(tenant, sso, now)):
                return None
        return sso

    def joined(self, tenant: "TenantView", sso: SsoSession, client: "ClientView") -> None:
        """``client`` took part in ``sso`` (it was issued a code there): it is told when the session ends."""
        if self.rp_logout is not None:
            until = sso.auth_time + tenant.config.tokens.sso_max_ttl
            self.rp_logout.joined(tenant, client, sso.user_id, sso.sub, sso.sid, until)

    def end(self, tenant: "TenantView", token: str) -> list[str]:
        """End the session whose cookie value is ``token`` (logout, R-41).

        Its relying parties are told: the back-channel logouts are queued, and the front-channel logout
        URLs to frame on the end_session page are returned (empty when there are none, or no session).
        """
        if not token or len(token) > 128:
            return []
        raw = self.store.take(self._key(tenant, token))
        if raw is None or self.rp_logout is None:
            return []
        sso = SsoSession.from_json(raw)
        return self.rp_logout.session_ended(tenant, sso.user_id, sso.sid)

    def revoke_user(self, tenant: "TenantView", user_id: int) -> int:
        """End every SSO session of the user and revoke every code and token grant issued to them, their
        flow runs and recovery links (:meth:`~idp.accounts.users.UserService.revoke_everything`)."""
        return self.users.revoke_everything(tenant, user_id)
