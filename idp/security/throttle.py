"""Brute-force throttling of the password, TOTP and SMS-code checks (R-06, R-27, R-83).

Failures are counted in the ephemeral store, so the limits hold across every
worker sharing it (Redis, or the embedded SQLite store of one host). Two scopes:

- **per (account, client IP)**: the first :data:`FREE_FAILURES` failures cost
  nothing; every further one imposes a delay that doubles from 30 s up to 1 h
  (R-06 "increasing delays (30 s up to 1 h)"). This is what stops an attacker
  guessing from one address.
- **per account, all addresses**: a small slow-down (at most
  :data:`ACCOUNT_MAX_DELAY` seconds) once :data:`ACCOUNT_FREE_FAILURES`
  failures have piled up, and a hard stop at :data:`MAX_CONSECUTIVE_FAILURES`
  consecutive failures of one factor (R-06: never more than 100).

Nothing locks forever (R-27): every counter and delay expires by itself
(:data:`WINDOW` after the first failure at the latest), and an address where
the account signed in successfully within :data:`TRUSTED_TTL` is exempt from
the account-wide slow-down and stop, so an attacker hammering an account from
elsewhere cannot keep its owner out; that address still has its own growing
delays. A success resets the counters of the factor for the account.

Steps call :meth:`Throttle.check` before verifying, then
:meth:`Throttle.record_failure` or :meth:`Throttle.record_success` (or
:meth:`Throttle.release` when the attempt was not evaluated after all). The
check takes an in-flight slot of the address's failure counter atomically
(:meth:`EphemeralStore.acquire_slot`): however many attempts race, no more
are evaluated at once than the free tries left, and past them one at a time,
so a parallel burst cannot exceed the free tries by its size. The
``who`` argument is the user id when the account is known, else the login the
visitor typed (so an unknown user is throttled exactly like a known one, R-28).
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from idp.audit import AuditLog
    from idp.security.secrets import SecretBox
    from idp.store import EphemeralStore


class TenantRef(Protocol):
    """What the throttle needs of a tenant (:class:`idp.tenants.service.TenantView` is one): its id and slug."""

    @property
    def id(self) -> int: ...

    @property
    def slug(self) -> str: ...


log = logging.getLogger("idp.throttle")

#: The core's factors; each has its own counters (R-06: "per authenticator"). A step plugin's factor
#: (``Attempts(factor="email-code")``) is counted the same way under its own name (:data:`KIND_NAME`).
KINDS = ("password", "totp", "sms", "recovery_code")
#: What a factor's name may be: a typo-proof, store-key-safe word.
KIND_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")

#: Failures from one address on one account that cost no delay.
FREE_FAILURES = 4
#: First delay once the free failures are used, doubled at every further failure.
BASE_DELAY = 30
#: Longest delay per (account, address) (R-06: "30 s up to 1 h").
MAX_DELAY = 3600
#: Account-wide failures (all addresses) before the slow-down starts.
ACCOUNT_FREE_FAILURES = 20
#: Longest account-wide slow-down, so the account-wide limit only slows (R-27).
ACCOUNT_MAX_DELAY = 60
#: Consecutive failures of one factor after which only trusted addresses may try (R-06).
MAX_CONSECUTIVE_FAILURES = 100
#: Counters expire this long after their first failure (automatic expiry).
WINDOW = 24 * 3600
#: An address where the account signed in stays trusted this long.
TRUSTED_TTL = 30 * 24 * 3600
#: An in-flight attempt's slot is freed after this long if its worker never reported (it died).
SLOT_TTL = 30
#: Wait told to an attempt refused because another one from its address is being checked.
IN_FLIGHT_WAIT = 1


def ip_delay(failures: int) -> int:
    """Delay (s) imposed after the ``failures``-th failure from one address on one account."""
    if failures <= FREE_FAILURES:
        return 0
    return int(min(MAX_DELAY, BASE_DELAY * 2 ** min(failures - FREE_FAILURES - 1, 16)))


def account_delay(failures: int) -> int:
    """Account-wide slow-down (s) after the ``failures``-th failure from anywhere."""
    if failures <= ACCOUNT_FREE_FAILURES:
        return 0
    return int(min(ACCOUNT_MAX_DELAY, 2 ** min(failures - ACCOUNT_FREE_FAILURES - 1, 16)))


@dataclass(frozen=True)
class Verdict:
    """What :meth:`Throttle.record_failure` decided."""

    #: Seconds before the next attempt from this address (0: may try again at once).
    wait: int
    #: Failures from this address on this account in the window.
    ip_failures: int
    #: Failures from every address on this account in the window.
    account_failures: int


class Throttle:
    """Counts failed attempts per account and per (account, client IP) and says how long to wait."""

    def __init__(self, store: EphemeralStore, secrets: SecretBox, audit: AuditLog) -> None:
        self.store = store
        self.secrets = secrets
        self.audit = audit

    # -- keys -------------------------------------------------------------------

    def _who(self, who: int | str) -> str:
        if isinstance(who, int):
            return f"u{who}"
        # a login typed by the visitor: never kept in clear in the store
        return "l" + self.secrets.digest(who.strip().lower(), "throttle-login")[:32]

    def _ip(self, client_ip: str) -> str:
        return self.secrets.digest(client_ip or "-", "throttle-ip")[:32]

    def _keys(self, tenant: TenantRef, who: int | str, kind: str, client_ip: str) -> tuple[str, str, str, str, str]:
        if kind not in KINDS and not KIND_NAME.match(kind):
            raise ValueError(f"not a throttle kind: {kind!r}")
        w, ip = self._who(who), self._ip(client_ip)
        base = f"{tenant.slug}:throttle:{kind}:{w}"
        return (
            f"{base}:n",  # account-wide failures
            f"{base}:{ip}:n",  # failures from this address
            f"{base}:{ip}:until",  # this address may not try before ...
            f"{base}:until",  # account-wide slow-down until ...
            f"{tenant.slug}:throttle:trusted:{kind}:{w}:{ip}",  # this address passed this factor recently
        )

    def _exempt(self, kind: str, trusted: str) -> bool:
        """Whether this address escapes the account-wide slow-down and stop: only for the password, from an
        address where the owner signed in recently (R-27). A second factor is never exempt: whoever types it
        already has the password, and its 100-failure stop always holds (R-06, R-83)."""
        return kind == "password" and self.store.find(trusted) is not None

    # -- API ----------------------------------------------------------------------

    def check(self, tenant: TenantRef, who: int | str, kind: str, client_ip: str) -> int:
        """Seconds to wait before this attempt may be checked (0: go ahead).

        Going ahead holds an in-flight slot of this address until :meth:`record_failure`,
        :meth:`record_success` or :meth:`release` (or :data:`SLOT_TTL`). The slot is taken first,
        atomically, and the delays are read after it, so a delay set by an attempt that finished
        meanwhile is seen.
        """
        acct_n, ip_n, ip_until, acct_until, trusted = self._keys(tenant, who, kind, client_ip)
        store = self.store
        if not store.acquire_slot(ip_n, FREE_FAILURES + 1, SLOT_TTL):
            return IN_FLIGHT_WAIT
        # and one of the account's, so attempts racing from many addresses cannot pass its hard stop
        # together; below it the account slot never makes anyone wait
        if not store.acquire_slot(acct_n, MAX_CONSECUTIVE_FAILURES, SLOT_TTL):
            store.release_slot(ip_n)
            return IN_FLIGHT_WAIT
        wait = self._wait(acct_n, ip_until, acct_until, trusted, kind)
        if wait:
            self._release_slots(acct_n, ip_n)
        return wait

    def release(self, tenant: TenantRef, who: int | str, kind: str, client_ip: str) -> None:
        """Give back the slots of an attempt that :meth:`check` let through but that was not evaluated."""
        acct_n, ip_n = self._keys(tenant, who, kind, client_ip)[:2]
        self._release_slots(acct_n, ip_n)

    def _release_slots(self, acct_n: str, ip_n: str) -> None:
        self.store.release_slots([ip_n, acct_n])  # one round trip

    def _wait(self, acct_n: str, ip_until: str, acct_until: str, trusted: str, kind: str) -> int:
        """Seconds before the next attempt, from the delays in force."""
        store = self.store
        now = time.time()
        waits = [0.0]
        # the delays (and, for the password, the trusted-address mark) in one round trip
        ip_rec, acct_rec, *trusted_rec = store.find_many([ip_until, acct_until, trusted] if kind == "password" else [ip_until, acct_until])
        if ip_rec is not None:
            waits.append(float(ip_rec.get("until", 0)) - now)
        if not (trusted_rec and trusted_rec[0] is not None):  # what _exempt() says, from the same read
            if acct_rec is not None:
                waits.append(float(acct_rec.get("until", 0)) - now)
            if store.counter(acct_n) >= MAX_CONSECUTIVE_FAILURES:
                rec = store.find(acct_n + ":first")
                started = float(rec["at"]) if rec else now
                waits.append(max(1.0, started + WINDOW - now))
        return max(0, math.ceil(max(waits)))

    def record_failure(
        self,
        tenant: TenantRef,
        who: int | str,
        kind: str,
        client_ip: str,
        user_agent: str = "",
    ) -> Verdict:
        """Count one failed attempt; returns the wait now imposed on this address. Audits lockouts (R-46)."""
        acct_n, ip_n, ip_until, acct_until, trusted = self._keys(tenant, who, kind, client_ip)
        store = self.store
        now = time.time()
        n_ip = store.incr(ip_n, WINDOW)
        n_acct = store.incr(acct_n, WINDOW)
        if n_acct == 1:
            store.upsert(acct_n + ":first", {"at": now}, WINDOW)
        wait = ip_delay(n_ip)
        if wait:
            store.upsert(ip_until, {"until": now + wait}, wait, grant_id=self._reset_label(tenant, who))
        slow = account_delay(n_acct)
        if slow:
            store.upsert(acct_until, {"until": now + slow}, slow, grant_id=self._reset_label(tenant, who))
        if not self._exempt(kind, trusted):
            wait = max(wait, slow)
            if n_acct >= MAX_CONSECUTIVE_FAILURES:
                rec = store.find(acct_n + ":first")
                started = float(rec["at"]) if rec else now
                wait = max(wait, math.ceil(max(1.0, started + WINDOW - now)))
        self._release_slots(acct_n, ip_n)  # only now that the delay, if any, is in force
        if wait and (n_ip == FREE_FAILURES + 1 or n_acct in (ACCOUNT_FREE_FAILURES + 1, MAX_CONSECUTIVE_FAILURES) or n_ip % 5 == 0):
            self._audit_lockout(tenant, who, kind, client_ip, user_agent, wait, n_ip, n_acct)
        return Verdict(wait=wait, ip_failures=n_ip, account_failures=n_acct)

    def record_success(self, tenant: TenantRef, who: int | str, kind: str, client_ip: str) -> None:
        """Reset the factor's counters for the account and trust this address for a while (R-27)."""
        acct_n, ip_n, ip_until, acct_until, trusted = self._keys(tenant, who, kind, client_ip)
        store = self.store
        store.destroy_many([acct_n, acct_n + ":first", ip_n, ip_until, acct_until])  # one round trip
        self._release_slots(acct_n, ip_n)
        if isinstance(who, int):
            store.upsert(trusted, {"at": time.time()}, TRUSTED_TTL)

    def _reset_label(self, tenant: TenantRef, who: int | str) -> str:
        """The store label every per-address delay of an account is filed under, so :meth:`reset` finds them."""
        return f"{tenant.slug}:throttle:{self._who(who)}"

    def reset(self, tenant: TenantRef, user_id: int) -> None:
        """Unlock an account (an administrator's decision): lift every delay and the account-wide counts.

        Per-address failure counts keep their window, so an address that was guessing
        gets no fresh free attempts; the owner's next success clears them (R-06, R-27). A plugin factor's
        delays are lifted too (filed under the account's label); its account-wide count keeps its window.
        """
        store = self.store
        for kind in KINDS:
            base = f"{tenant.slug}:throttle:{kind}:{self._who(user_id)}"
            for key in (f"{base}:n", f"{base}:n:first", f"{base}:until"):
                store.destroy(key)
        store.revoke_by_grant(self._reset_label(tenant, user_id))

    def failures(self, tenant: TenantRef, who: int | str, kind: str, client_ip: str) -> tuple[int, int]:
        """(failures from this address, failures from everywhere) in the current window."""
        acct_n, ip_n, *_ = self._keys(tenant, who, kind, client_ip)
        return self.store.counter(ip_n), self.store.counter(acct_n)

    # -- audit --------------------------------------------------------------------

    def _audit_lockout(
        self,
        tenant: TenantRef,
        who: int | str,
        kind: str,
        client_ip: str,
        user_agent: str,
        wait: int,
        n_ip: int,
        n_acct: int,
    ) -> None:
        log.warning("throttle: %s failures on %s (address %d, account %d), wait %ds", kind, tenant.slug, n_ip, n_acct, wait)
        self.audit.record(
            tenant.id,
            "login.lockout",
            user_id=who if isinstance(who, int) else None,
            client_ip=client_ip,
            user_agent=user_agent,
            factor=kind,
            wait_seconds=wait,
            address_failures=n_ip,
            account_failures=n_acct,
            account_wide=n_acct >= MAX_CONSECUTIVE_FAILURES,
        )
