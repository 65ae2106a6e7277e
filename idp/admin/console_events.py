"""The console's audit log: newest first, naming the user each event concerns and the actor, with filters.

``/admin/console/realms/<tenant>/events?user=&type=&from=&to=&offset=``: ``user`` is a username,
an email or a subject; ``type`` an event type of this tenant's log; ``from``/``to`` dates (UTC,
both days included). Rows come from :meth:`AdminActions.events`, the admin API's own query.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import Response, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from idp.admin.actions import AdminActions
from idp.admin.console import PAGE, _actions, _offset, _page, _services, bp
from idp.storage.models import AuditEvent


def _day(name: str) -> tuple[date | None, str]:
    """The date in the query's ``name`` (YYYY-MM-DD), and the error shown next to its field."""
    raw = request.args.get(name, "").strip()[:10]
    if not raw:
        return None, ""
    try:
        return date.fromisoformat(raw), ""
    except ValueError:
        return None, str(_l("must be a date (YYYY-MM-DD)"))


def event_types(do: AdminActions, slug: str) -> list[str]:
    """The event types found in this tenant's log (the filter's choices)."""
    tenant = do.tenant(slug)
    with _services().db.read() as s:
        return sorted(s.scalars(select(AuditEvent.type).where(AuditEvent.tenant_id == tenant.id).distinct()))


def _usernames(do: AdminActions, slug: str, rows: list[dict[str, Any]]) -> dict[str, str]:
    """Username by subject, for the users the rows name."""
    tenant = do.tenant(slug)
    names = {}
    for sub in {r["user"] for r in rows if r["user"]}:
        found = _services().users.by_sub(tenant, sub)
        if found is not None:
            names[sub] = found.username
    return names


@bp.get("/realms/<tenant>/events")
def events(tenant: str) -> Response:
    do = _actions(tenant)
    view = do.tenant(tenant)
    type_, who, offset = request.args.get("type", "")[:64], request.args.get("user", "").strip()[:320], _offset()
    (first, first_error), (last, last_error) = _day("from"), _day("to")
    errors = {k: v for k, v in (("from", first_error), ("to", last_error)) if v}
    sub, unknown_user = None, False
    if who:
        found = _services().users.find_by_login(view, who) or _services().users.by_sub(view, who)
        sub, unknown_user = (found.sub, False) if found is not None else (None, True)
    since = datetime.combine(first, time.min, UTC) if first else None
    # the day after the last one; none after 9999-12-31 (the end of the calendar: no upper bound)
    until = datetime.combine(last + timedelta(days=1), time.min, UTC) if last and last < date.max else None
    rows = [] if unknown_user or errors else do.events(tenant, type_ or None, sub, since, until, offset, PAGE)
    filters = {"user": who, "type": type_, "from": request.args.get("from", "")[:10], "to": request.args.get("to", "")[:10]}
    return _page(
        "admin/events.html",
        do,
        tenant,
        status=422 if errors else 200,
        events=rows,
        usernames=_usernames(do, tenant, rows),
        types=event_types(do, tenant),
        filters=filters,
        errors=errors,
        unknown_user=unknown_user,
        offset=offset,
        page=PAGE,
    )
