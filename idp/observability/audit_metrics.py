"""Counters fed by the audit trail: every committed audit event (R-46) is counted once.

The login, second-factor, recovery and messaging code already records an audit
event for each thing that happened (``login.password_failed``,
``login.second_factor_ok`` with ``factor``, ``recovery.email_sent`` ...). Counting
those events, after their transaction commits, keeps the metrics and the audit
log in agreement and needs no second call at each site:

- ``idp_audit_events_total{type}``: every event type;
- ``idp_logins_total{tenant,outcome,factor}`` from ``login.password_*``,
  ``login.second_factor_*`` and ``login.lockout``;
- ``idp_mfa_total{tenant,factor,outcome}`` from ``login.second_factor_*`` and ``factor.*``;
- ``idp_recoveries_total{stage}`` from ``recovery.<stage>``;
- ``idp_messages_total{channel,outcome}`` from ``sms.*`` and ``recovery.email_*``.

So code that records such an audit event must not also call the matching
``count_*`` helper. Events rolled back with their transaction are not counted.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from idp import audit
from idp.observability import metrics
from idp.storage.models import AuditEvent

AUDIT_EVENTS = metrics.Counter("idp_audit_events", "Audit events committed, by type (R-46).", ("type",))

_PENDING = "_idp_audit_pending"
_installed = False
_install_lock = threading.Lock()
#: Engine → tenant id → slug. Keyed on the engine itself (weakly), never on ``id(engine)``: an id is
#: reused once an engine is collected, and would then name another database's tenant.
_slugs: weakref.WeakKeyDictionary[Any, dict[int, str]] = weakref.WeakKeyDictionary()

#: Audit type → (outcome, factor) of a login attempt; ``None`` factor: the event's ``factor`` detail.
LOGIN_EVENTS: dict[str, tuple[str, str | None]] = {
    "login.password_ok": ("success", "pwd"),
    "login.password_failed": ("failure", "pwd"),
    "login.second_factor_ok": ("success", None),
    "login.second_factor_failed": ("failure", None),
    "login.lockout": ("locked", None),
}
#: Audit type → second-factor outcome; the factor is the event's ``factor`` detail (``totp`` by default).
MFA_EVENTS: dict[str, str] = {
    "login.second_factor_ok": "success",
    "login.second_factor_failed": "failure",
    "factor.enrolled": "enrolled",
    "factor.enrolment_failed": "enrolment_failed",
    "factor.removed": "removed",
    "factor.totp_replay": "replay",
}
#: Factor names of the throttle and the steps, as the ``factor`` label spells them (the ``amr`` names).
FACTOR_NAMES = {"password": "pwd"}
#: Audit type → (channel, outcome) of a message.
MESSAGE_EVENTS: dict[str, tuple[str, str]] = {
    "sms.code_sent": ("sms", "sent"),
    "sms.failed": ("sms", "failed"),
    "sms.refused": ("sms", "refused"),
    "sms.cap_reached": ("sms", "capped"),
    "recovery.email_sent": ("email", "sent"),
    "recovery.email_failed": ("email", "failed"),
}


def _slug(session: Session, tenant_id: int) -> str:
    """The tenant's slug for the label (cached per process; tenants are few and never renamed)."""
    return _slug_of(session.get_bind(), tenant_id)


def _slug_of(bind: Any, tenant_id: int) -> str:
    slugs = _slugs.setdefault(bind, {})
    slug = slugs.get(tenant_id)
    if slug is None:
        with bind.connect() as conn:  # type: ignore[union-attr]
            slug = conn.execute(text("SELECT slug FROM tenants WHERE id = :id"), {"id": tenant_id}).scalar() or str(tenant_id)
        slugs[tenant_id] = slug
    return slug


def count_event(tenant: str, type_: str, details: dict[str, Any]) -> None:
    """Count one committed audit event on every counter it feeds."""
    AUDIT_EVENTS.labels(metrics._label(type_)).inc()
    factor = str(details.get("factor") or "")
    factor = FACTOR_NAMES.get(factor, factor)
    if type_ in LOGIN_EVENTS:
        outcome, fixed = LOGIN_EVENTS[type_]
        metrics.count_login(tenant, outcome, fixed or factor or "pwd")
    if type_ in MFA_EVENTS:
        metrics.count_mfa(tenant, factor or "totp", MFA_EVENTS[type_])
    if type_ in MESSAGE_EVENTS:
        metrics.count_message(*MESSAGE_EVENTS[type_])
    if type_.startswith("recovery."):
        metrics.count_recovery(type_.removeprefix("recovery."))


def _after_flush(session: Session, _context: Any) -> None:
    new = [obj for obj in session.new if isinstance(obj, AuditEvent)]
    if new:
        session.info.setdefault(_PENDING, []).extend((e.tenant_id, e.type, dict(e.details or {})) for e in new)


def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    for tenant_id, type_, details in pending:
        try:
            tenant = _slug(session, tenant_id)
        except Exception:
            tenant = str(tenant_id)
        count_event(tenant, type_, details)


def _committed_without_session(engine: Any, tenant_id: int, type_: str, details: dict[str, Any]) -> None:
    """An event written with a Core insert (:data:`idp.audit.COMMITTED`), counted as :func:`_after_commit` counts."""
    try:
        tenant = _slug_of(engine, tenant_id)
    except Exception:
        tenant = str(tenant_id)
    count_event(tenant, type_, dict(details))


def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def install() -> None:
    """Listen on every ORM session of the process, once."""
    global _installed
    with _install_lock:
        if _installed:
            return
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_rollback", _after_rollback)
        audit.COMMITTED.append(_committed_without_session)
        _installed = True
