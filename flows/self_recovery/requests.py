"""Handling "lost your credentials?" requests off the request path, so timing never tells (R-47, R-94).

The page answers at once and the same way for every input. The per-login and
per-address limits (R-48) apply before anything is queued; a small, bounded
worker pool then looks the account up, issues the link and sends the email.
"""

from __future__ import annotations

import atexit
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from flows.self_recovery.config import SelfRecoveryConfig
from flows.self_recovery.links import RecoveryLinks
from flows.self_recovery.mail import MESSAGES
from idp.flowengine.contract import Brand, Email, StepServices, TenantView

log = logging.getLogger("idp.recovery")

_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="idp-recovery")
_pending: "set[Future[str]]" = set()
_pending_lock = threading.Lock()


@dataclass(frozen=True)
class RecoveryRequest:
    login: str
    client_ip: str
    user_agent: str
    #: The language the person used where the link was asked for (empty: none asked); the email and the whole run use it.
    locale: str


#: Requests waiting for a worker, at most; more are dropped (the page answers the same: R-47).
MAX_PENDING = 200


def submit_request(services: StepServices, tenant: TenantView, config: SelfRecoveryConfig, request: RecoveryRequest) -> str:
    """Apply the limits (R-48), then queue the lookup and the email. Returns ``queued`` or why it was dropped,
    for logs only: the page shows the same answer whatever happens here, and these checks do not depend
    on whether the account exists, so they take the same time for every input (R-47)."""
    if not within_limits(services, tenant, config, request):
        return "rate_limited"
    with _pending_lock:
        if len(_pending) >= MAX_PENDING:
            log.warning("recovery request dropped: %d already queued", len(_pending), extra={"tenant": tenant.slug})
            return "queue_full"
        future = _POOL.submit(process_request, services, tenant, config, request)
        _pending.add(future)
    future.add_done_callback(_forget)
    return "queued"


def within_limits(services: StepServices, tenant: TenantView, config: SelfRecoveryConfig, request: RecoveryRequest) -> bool:
    """Per client address and per typed login, each per hour (R-48)."""
    store = services.store
    login_key = services.secrets.digest(request.login.strip().lower(), "recovery-login")
    ip_key = services.secrets.digest(request.client_ip or "-", "recovery-ip")
    if store.incr(f"{tenant.slug}:recovery-req-ip:{ip_key}", 3600) > config.max_requests_per_ip_per_hour:
        return False
    return store.incr(f"{tenant.slug}:recovery-req-login:{login_key}", 3600) <= config.max_requests_per_login_per_hour


def _forget(future: "Future[str]") -> None:
    with _pending_lock:
        _pending.discard(future)


def drain(timeout: float = 30.0) -> None:
    """Wait until every queued request has been handled (graceful shutdown; tests)."""
    with _pending_lock:
        pending = list(_pending)
    wait(pending, timeout=timeout)


atexit.register(drain, 10.0)


def process_request(services: StepServices, tenant: TenantView, config: SelfRecoveryConfig, request: RecoveryRequest) -> str:
    """Look up the account and send the link; returns an outcome word for logs and tests, never to the user."""
    try:
        return _process(services, tenant, config, request)
    except Exception as exc:
        # the class only: a driver's message can carry a host, a DSN or an address
        log.error("recovery request failed: %s", exc.__class__.__name__, extra={"tenant": tenant.slug})
        return "error"


def _process(services: StepServices, tenant: TenantView, config: SelfRecoveryConfig, request: RecoveryRequest) -> str:
    user = services.users.find_by_login(tenant, request.login)
    if user is None or not user.email or user.status != "active":
        return "no_account"
    links = RecoveryLinks(services)
    # one language per recovery (issue 16): the page where the link was asked for, then the account's, then the tenant's
    locale = request.locale or user.locale or tenant.config.default_locale
    token = links.issue(tenant, user.id, config.link_ttl, locale=locale)
    # an email change (or a disable) that committed between the look-up and the link voided the user's
    # links before this one existed: read the account again, so the link never goes to an old address
    # (issue 12); a change committing after this read voids it by itself
    now = services.users.get(tenant, user.id)
    if now is None or now.email != user.email or now.status != "active":
        links.void(tenant, user.id)
        return "no_account"

    message = MESSAGES.render("recovery_link", locale, brand=Brand.of(tenant), link=links.url(tenant, token), expires_minutes=max(1, config.link_ttl // 60))
    services.audit.record(tenant.id, "recovery.requested", user_id=user.id, client_ip=request.client_ip, user_agent=request.user_agent)
    try:
        services.mailer.send(
            Email(
                to=user.email,
                subject=message.subject,
                text=message.text,
                html=message.html,
                from_address=tenant.config.mail.from_address,
                configuration_set=tenant.config.mail.configuration_set,
                tags={"kind": "recovery-link"},
            )
        )
    except Exception as exc:
        links.void(tenant, user.id)
        services.audit.record(tenant.id, "recovery.email_failed", user_id=user.id, reason=exc.__class__.__name__)
        log.warning("recovery email not sent: %s", exc.__class__.__name__, extra={"tenant": tenant.slug})
        return "send_failed"
    services.audit.record(tenant.id, "recovery.email_sent", user_id=user.id)
    return "sent"
