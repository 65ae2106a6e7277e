"""Back-channel logout (OpenID Connect Back-Channel Logout 1.0 §2.5): logout tokens POSTed to the RPs, off the request.

When a session ends, :meth:`BackChannelLogout.notify` only writes the deliveries to the queue
(:mod:`idp.oidc.backchannel_queue`, in the database) and wakes this process's sender; the user's logout
answers at once, however many RPs there are and whether they answer. The sender, a daemon thread
started by the first notification in a process, sends each due delivery from a small pool of threads:

- ``POST`` ``application/x-www-form-urlencoded`` with ``logout_token=...`` (§2.5), a logout token minted
  for this attempt (:mod:`idp.oidc.logout_token`), with :attr:`BackChannelLogout.timeout` seconds to
  connect and to answer; redirects are not followed;
- a 2xx answer settles it (§2.8: 200, or 204 as many RPs answer); anything else, a refused connection or
  a timeout is retried after 1, 2, 4... seconds (capped at :data:`MAX_DELAY`), up to
  :data:`MAX_ATTEMPTS` attempts, then dropped with a log line;
- a client that has no ``backchannel_logout_uri`` any more, or is gone, is dropped.

Every worker of every node sends what is due (a row is leased to one at a time), and waits
:data:`POLL_EVERY` seconds between looks when idle, so the retries of a worker that died, or of a
restarted deployment, go out from whichever worker notifies next.
"""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from idp.oidc.logout_token import issue_logout_token

if TYPE_CHECKING:  # pragma: no cover
    from idp.oidc.backchannel_queue import Delivery, DeliveryQueue
    from idp.oidc.clients import ClientService
    from idp.oidc.keys import KeyService
    from idp.tenants.service import TenantService, TenantView

log = logging.getLogger("idp.oidc.backchannel")

#: Attempts per delivery before it is dropped (with the delays below, about four minutes).
MAX_ATTEMPTS = 8
#: Longest wait between two attempts, seconds.
MAX_DELAY = 300.0
#: Seconds to connect to an RP and to get its answer, per attempt.
TIMEOUT = 5.0
#: Seconds an idle sender waits before looking for due deliveries again.
POLL_EVERY = 2.0
#: Deliveries sent at once by one process.
PARALLEL = 4


def retry_delay(attempts_made: int) -> float:
    """Seconds before the next attempt, after ``attempts_made`` failed ones: 1, 2, 4... up to :data:`MAX_DELAY`."""
    return float(min(MAX_DELAY, 2 ** max(0, attempts_made - 1)))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


class BackChannelLogout:
    """Queue logout tokens for RPs and send them from a background thread, with retries and timeouts."""

    def __init__(self, queue: "DeliveryQueue", tenants: "TenantService", clients: "ClientService", keys: "KeyService") -> None:
        self.queue = queue
        self.tenants = tenants
        self.clients = clients
        self.keys = keys
        self.timeout = TIMEOUT
        self.max_attempts = MAX_ATTEMPTS
        self.poll_every = POLL_EVERY
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    # -- the request side ---------------------------------------------------------------------------------

    def notify(self, tenant: "TenantView", deliveries: list[tuple[str, str, str]]) -> None:
        """Queue ``(client_id, sub, sid)`` deliveries and wake the sender; never waits for an RP."""
        if self.queue.add(tenant.id, deliveries):
            self.start()
            self._wake.set()

    # -- the sender ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start this process's sender (once)."""
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._pool = ThreadPoolExecutor(PARALLEL, thread_name_prefix="idp-backchannel-send")
            self._thread = threading.Thread(target=self._run, name="idp-backchannel", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the sender (deliveries still queued stay in the database for another worker)."""
        self._stop.set()
        self._wake.set()
        thread, pool = self._thread, self._pool
        if thread is not None:
            thread.join(10)
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.send_due()
            except Exception:  # the database may be away for a moment: look again later
                log.exception("back-channel logout: could not read the queue")
                sent = 0
            if not sent:
                self._wake.wait(self.poll_every)
                self._wake.clear()

    def send_due(self) -> int:
        """Send every due delivery (leased to this process) and wait for the answers; returns how many were tried."""
        lease = self.timeout * 2 + 10
        due = self.queue.lease_due(PARALLEL * 4, lease)
        if not due:
            return 0
        pool = self._pool
        if pool is None:
            for delivery in due:
                self._attempt(delivery)
        else:
            for future in [pool.submit(self._attempt, d) for d in due]:
                future.result()
        return len(due)

    def _attempt(self, delivery: "Delivery") -> None:
        tenant = self.tenants.get(delivery.tenant_slug)
        client = self.clients.get(tenant, delivery.client_id) if tenant is not None else None
        if tenant is None or client is None or not client.backchannel_logout_uri:
            self.queue.failed(delivery, "the client no longer takes back-channel logouts", None)
            return
        try:
            token = issue_logout_token(self.keys, tenant, client.client_id, delivery.sub, delivery.sid)
            error = self._post(client.backchannel_logout_uri, token)
        except Exception as exc:  # any failure of one attempt is retried
            error = f"{type(exc).__name__}: {exc}"
        if error is None:
            self.queue.delivered(delivery)
            log.info("back-channel logout delivered to %s of tenant %s", client.client_id, tenant.slug)
            return
        made = delivery.attempts + 1
        retry = retry_delay(made) if made < self.max_attempts else None
        if retry is None:
            log.warning("back-channel logout to %s of tenant %s dropped after %d attempts: %s", client.client_id, tenant.slug, made, error)
        self.queue.failed(delivery, error, retry)

    def _post(self, uri: str, token: str) -> str | None:
        """POST the token (§2.5); None on a 2xx answer, else what went wrong (never the token)."""
        body = urlencode({"logout_token": token}).encode()
        request = urllib.request.Request(
            uri, data=body, method="POST", headers={"Content-Type": "application/x-www-form-urlencoded", "Cache-Control": "no-store"}
        )
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                response.read(4096)
                status = response.status
        except urllib.error.HTTPError as exc:
            return f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return f"{type(reason).__name__}: {reason}"
        return None if 200 <= status < 300 else f"HTTP {status}"
