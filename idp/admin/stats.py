"""Recovery statistics from the audit log: the support tickets self-recovery saved, per day.

Per UTC day of the event:

- ``requested``: ``recovery.requested`` (a link was asked for an existing account);
- ``link_opened``: ``recovery.link_opened``;
- ``sms_sent``: ``sms.code_sent`` events of a user within one flow lifetime
  (:data:`idp.flowengine.engine.FLOW_TTL`) after that user opened a recovery link,
  i.e. the SMS step of a recovery (sign-in codes are not counted);
- ``completed``: ``recovery.completed``;
- ``abandoned``: links opened with no ``recovery.completed`` of the same user within
  the flow lifetime, counted on the day the link was opened, once that lifetime is over.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from idp.flowengine.engine import FLOW_TTL
from idp.storage.models import AuditEvent

if TYPE_CHECKING:  # pragma: no cover
    from idp.services import Services
    from idp.tenants.service import TenantView

TYPES = ("recovery.requested", "recovery.link_opened", "sms.code_sent", "recovery.completed")
COUNTS = ("requested", "link_opened", "sms_sent", "completed", "abandoned")
#: Longest period one query may cover.
MAX_DAYS = 366


@dataclass(frozen=True)
class Day:
    day: date
    requested: int = 0
    link_opened: int = 0
    sms_sent: int = 0
    completed: int = 0
    abandoned: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.day.isoformat(), **{name: getattr(self, name) for name in COUNTS}}


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def recovery_stats(services: Services, tenant: TenantView, first: date, last: date, now: datetime | None = None) -> list[Day]:
    """One :class:`Day` per date from ``first`` to ``last`` (inclusive), oldest first."""
    now = now or datetime.now(UTC)
    lifetime = timedelta(seconds=FLOW_TTL)
    start = datetime.combine(first, time.min, UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, UTC)
    with services.db.session() as s:
        rows = s.execute(
            select(AuditEvent.type, AuditEvent.user_id, AuditEvent.created_at)
            .where(
                AuditEvent.tenant_id == tenant.id,
                AuditEvent.type.in_(TYPES),
                AuditEvent.created_at >= start - lifetime,
                AuditEvent.created_at < end + lifetime,
            )
            .order_by(AuditEvent.created_at, AuditEvent.id)
        ).all()
    events = [(t, u, _utc(at)) for t, u, at in rows]
    opened: dict[int | None, list[datetime]] = defaultdict(list)
    completed: dict[int | None, list[datetime]] = defaultdict(list)
    for type_, user_id, at in events:
        if type_ == "recovery.link_opened":
            opened[user_id].append(at)
        elif type_ == "recovery.completed":
            completed[user_id].append(at)
    counts: dict[date, dict[str, int]] = {first + timedelta(days=i): dict.fromkeys(COUNTS, 0) for i in range((last - first).days + 1)}

    def count(at: datetime, name: str) -> None:
        day = counts.get(at.date())
        if day is not None and start <= at < end:
            day[name] += 1

    for type_, user_id, at in events:
        if type_ == "recovery.requested":
            count(at, "requested")
        elif type_ == "recovery.completed":
            count(at, "completed")
        elif type_ == "sms.code_sent":
            if any(o <= at <= o + lifetime for o in opened.get(user_id, ())):
                count(at, "sms_sent")
        elif type_ == "recovery.link_opened":
            count(at, "link_opened")
            finished = any(at <= c <= at + lifetime for c in completed.get(user_id, ()))
            if not finished and at + lifetime <= now:
                count(at, "abandoned")
    return [Day(day, **values) for day, values in sorted(counts.items())]
