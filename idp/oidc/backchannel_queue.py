"""The queue of back-channel logout deliveries: rows of ``backchannel_logout_deliveries`` (an outbox in SQL).

A delivery is written when a session ends and stays until the relying party answered, or its last
attempt failed. It lives in the database, not in a worker: a worker that dies, or a deployment that
restarts, loses nothing. Every worker may send: :meth:`DeliveryQueue.lease_due` takes a due row with a
conditional ``UPDATE`` (only while nobody else holds an unexpired lease on it), so two workers never send
the same row at once, and a worker that died mid-send leaves its row to another once the lease lapses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import delete, or_, select, update

from idp.storage.models import BackchannelLogoutDelivery, Tenant

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.engine import CursorResult

    from idp.storage.database import Database


@dataclass(frozen=True)
class Delivery:
    """One logout token to send: to ``client_id`` of the tenant ``tenant_slug``, about session ``sid`` of ``sub``."""

    id: int
    tenant_slug: str
    client_id: str
    sub: str
    sid: str
    #: Attempts already made before this one.
    attempts: int


def _now() -> datetime:
    return datetime.now(UTC)


class DeliveryQueue:
    """Add, lease and settle back-channel logout deliveries."""

    def __init__(self, db: "Database") -> None:
        self.db = db

    def add(self, tenant_id: int, deliveries: Iterable[tuple[str, str, str]]) -> int:
        """Queue ``(client_id, sub, sid)`` deliveries, due now; returns how many."""
        rows = [BackchannelLogoutDelivery(tenant_id=tenant_id, client_id=c, sub=sub, sid=sid, last_error="") for c, sub, sid in deliveries]
        if rows:
            with self.db.session() as s:
                s.add_all(rows)
        return len(rows)

    def lease_due(self, limit: int, lease_seconds: float) -> list[Delivery]:
        """Up to ``limit`` due deliveries, each leased to the caller for ``lease_seconds``."""
        now = _now()
        free = or_(BackchannelLogoutDelivery.leased_until.is_(None), BackchannelLogoutDelivery.leased_until < now)
        with self.db.session() as s:
            candidates = s.execute(
                select(BackchannelLogoutDelivery, Tenant.slug)
                .join(Tenant, Tenant.id == BackchannelLogoutDelivery.tenant_id)
                .where(BackchannelLogoutDelivery.next_attempt_at <= now, free)
                .order_by(BackchannelLogoutDelivery.next_attempt_at)
                .limit(limit)
            ).all()
            picked = [(row.id, slug, row.client_id, row.sub, row.sid, row.attempts) for row, slug in candidates]
        leased: list[Delivery] = []
        for row_id, slug, client_id, sub, sid, attempts in picked:
            with self.db.session() as s:
                result = s.execute(
                    update(BackchannelLogoutDelivery)
                    .where(BackchannelLogoutDelivery.id == row_id, free)
                    .values(leased_until=now + timedelta(seconds=lease_seconds))
                )
                taken = cast("CursorResult[Any]", result).rowcount
            if taken == 1:
                leased.append(Delivery(row_id, slug, client_id, sub, sid, attempts))
        return leased

    def delivered(self, delivery: Delivery) -> None:
        """The RP answered: the row goes."""
        with self.db.session() as s:
            s.execute(delete(BackchannelLogoutDelivery).where(BackchannelLogoutDelivery.id == delivery.id))

    def failed(self, delivery: Delivery, error: str, retry_in: float | None) -> None:
        """An attempt failed: due again in ``retry_in`` seconds, or dropped when None (the last attempt)."""
        with self.db.session() as s:
            if retry_in is None:
                s.execute(delete(BackchannelLogoutDelivery).where(BackchannelLogoutDelivery.id == delivery.id))
                return
            s.execute(
                update(BackchannelLogoutDelivery)
                .where(BackchannelLogoutDelivery.id == delivery.id)
                .values(
                    attempts=delivery.attempts + 1,
                    next_attempt_at=_now() + timedelta(seconds=retry_in),
                    leased_until=None,
                    last_error=error[:400],
                )
            )

    def pending(self, tenant_id: int) -> list[dict[str, object]]:
        """The deliveries still waiting in a tenant (client, session, attempts made, next attempt, last error)."""
        with self.db.session() as s:
            rows = s.scalars(
                select(BackchannelLogoutDelivery).where(BackchannelLogoutDelivery.tenant_id == tenant_id).order_by(BackchannelLogoutDelivery.id)
            ).all()
            return [
                {"client_id": r.client_id, "sid": r.sid, "attempts": r.attempts, "next_attempt_at": r.next_attempt_at, "last_error": r.last_error}
                for r in rows
            ]
