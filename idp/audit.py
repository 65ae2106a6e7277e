"""Audit events (R-46): who did what, when, from where; never a secret, code or token."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from idp.storage.models import AuditEvent

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import Session

    from idp.storage.database import Database

#: Keys never written into an event's details, whatever a caller passes.
_FORBIDDEN = {"password", "code", "token", "secret", "otp", "refresh_token", "access_token", "id_token", "client_secret"}


class AuditLog:
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
        """Write one event; inside ``session`` when given, so it commits with the change it records."""
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
