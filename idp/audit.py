"""Audit events (R-46): who did what, when, from where; never a secret, code or token."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from idp.storage.models import AuditEvent, utcnow

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from idp.storage.database import Database

#: Keys never written into an event's details, whatever a caller passes.
_FORBIDDEN = {"password", "code", "token", "secret", "otp", "refresh_token", "access_token", "id_token", "client_secret"}
#: One event as a Core insert (:meth:`AuditLog.record` outside a session, :meth:`AuditLog.insert`).
_INSERT = insert(AuditEvent).inline()

#: Called with ``(engine, tenant_id, type, details)`` once an event written without an ORM session has committed
#: (the metrics of :mod:`idp.observability.audit_metrics` count events committed through a session from its events).
COMMITTED: list[Callable[["Engine", int, str, dict[str, Any]], None]] = []


def committed(engine: "Engine", events: list[tuple[int, str, dict[str, Any]]]) -> None:
    """Tell the :data:`COMMITTED` listeners about events that were written without an ORM session and committed."""
    for tenant_id, type_, details in events:
        for listener in COMMITTED:
            listener(engine, tenant_id, type_, details)


class AuditLog:
    #: The Core insert of one event (its row: :meth:`insert`).
    INSERT = _INSERT

    def __init__(self, db: "Database") -> None:
        self.db = db

    def record(
        self,
        tenant_id: int,
        type: str,
        *,
        user_id: int | None = None,
        actor: str = "",
        client_ip: str = "",
        user_agent: str = "",
        session: "Session | None" = None,
        **details: Any,
    ) -> None:
        """Write one event; inside ``session`` when given, so it commits with the change it records.

        Without one it is written on its own (a Core insert, :meth:`~idp.storage.database.Database.write`: no ORM
        unit of work for a row nothing reads back), or in the enclosing ``Database.transaction()``."""
        if session is None and not self.db.in_transaction():
            values = self.insert(tenant_id, type, user_id=user_id, actor=actor, client_ip=client_ip, user_agent=user_agent, **details)
            self.db.write((_INSERT, values))
            self.announce([(tenant_id, type, values["details"])])
            return
        clean = {k: v for k, v in details.items() if k not in _FORBIDDEN}
        event = AuditEvent(
            tenant_id=tenant_id,
            type=type,
            user_id=user_id,
            actor=actor[:200],
            client_ip=client_ip[:64],
            user_agent=user_agent[:400],
            details=clean,
        )
        if session is not None:
            session.add(event)
            return
        with self.db.session() as s:
            s.add(event)

    def announce(self, written: list[tuple[int, str, dict[str, Any]]]) -> None:
        """Tell the :data:`COMMITTED` listeners about events written with :data:`INSERT`: now, or once the enclosing
        ``Database.transaction()`` has committed (never if it rolls back)."""
        if self.db.in_transaction():
            self.db.after_transaction(lambda: committed(self.db.engine, written))
        else:
            committed(self.db.engine, written)

    @staticmethod
    def insert(
        tenant_id: int, type: str, *, user_id: int | None = None, actor: str = "", client_ip: str = "", user_agent: str = "", **details: Any
    ) -> dict[str, Any]:
        """The row of one event, for a caller that writes it with its own change in one
        :meth:`~idp.storage.database.Database.write` (``(INSERT, row)``), then calls :meth:`announce`."""
        return {
            "tenant_id": tenant_id,
            "type": type,
            "user_id": user_id,
            "actor": actor[:200],
            "client_ip": client_ip[:64],
            "user_agent": user_agent[:400],
            "details": {k: v for k, v in details.items() if k not in _FORBIDDEN},
            "created_at": utcnow(),
        }

    def query(
        self,
        tenant_id: int,
        type: str | None = None,
        user_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        offset: int = 0,
        limit: int = 100,
    ) -> list[AuditEvent]:
        with self.db.session() as s:
            q = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
            if type:
                q = q.where(AuditEvent.type == type)
            if user_id is not None:
                q = q.where(AuditEvent.user_id == user_id)
            if since is not None:
                q = q.where(AuditEvent.created_at >= since)
            if until is not None:
                q = q.where(AuditEvent.created_at < until)
            return list(s.scalars(q.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).offset(offset).limit(limit)))
