"""The console's flows page and the self-recovery onboarding (issue 16, item 2).

``/admin/console/realms/<tenant>/flows``: every flow with its state and compatibility, and, when
the self-recovery flow is installed, the onboarding the announcement describes for existing
customers: first the move to the new login experience (a platform administrator's decision, as
:meth:`AdminActions.migrate` enforces), then enabling self-recovery now or from a date agreed
with the customer. A scheduled date is kept in the tenant's configuration
(``flows.self-recovery.enabled_from``); the flow is live from that moment on, checked when it is
used (:meth:`FlowBinding.is_live`), so nothing has to run on the day. The rules (compatibility,
time zone) are the tenant service's; the page only turns a date and a time (UTC) into the
``enabled_from`` the admin API takes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from flask import Response, request
from flask_babel import lazy_gettext as _l

from idp.admin.actions import AdminActions
from idp.admin.console import REFUSALS, _actions, _back, _page, _services, bp
from idp.admin.console_messages import translate
from idp.admin.console_settings import sections
from idp.tenants.service import TenantError
from idp.web import csrf
from idp.web.pages import render_page


@bp.get("/realms/<tenant>/flows")
def flows(tenant: str) -> Response:
    do = _actions(tenant)
    return _flows_page(do, tenant)


def _flows_page(do: AdminActions, slug: str, status: int = 200, refusal: str = "", errors: dict[str, str] | None = None) -> Response:
    view = _services().tenants.require(slug)
    status_list = [{**f, "reasons": [translate(r) for r in f["reasons"]]} for f in _services().tenants.flow_status(view)]
    return _page(
        "admin/flows.html",
        do,
        slug,
        status=status,
        flows=status_list,
        recovery=next((f for f in status_list if f["name"] == do.recovery_flow()), None),
        login_flows=do.login_flows(),
        settings_pages={s.flow for s in sections() if s.flow},
        refusal=refusal,
        errors=errors or {},
        experience=view.experience,
    )


def agreed_moment(day: str, at: str) -> datetime | None:
    """The activation moment of the form: a date and an optional time, in UTC; None for "now"."""
    day, at = day.strip(), at.strip() or "00:00"
    if not day:
        raise TenantError(str(_l("Choose the date agreed with the customer.")), status=422, field="enabled_from")
    try:
        return datetime.combine(date.fromisoformat(day), time.fromisoformat(at), UTC)
    except ValueError:
        raise TenantError(str(_l("Give the date as YYYY-MM-DD and the time as HH:MM.")), status=422, field="enabled_from") from None


@bp.post("/realms/<tenant>/flows/<flow>")
def flow_change(tenant: str, flow: str) -> Response:
    csrf.protect()
    do = _actions(tenant)
    action = request.form.get("action", "")
    try:
        if action == "enable":
            do.enable_flow(tenant, flow, None)
        elif action == "schedule":
            do.enable_flow(tenant, flow, agreed_moment(request.form.get("date", ""), request.form.get("time", "")))
        elif action == "disable":
            do.disable_flow(tenant, flow)
        else:
            return render_page("400.html", status=400)
    except REFUSALS as exc:
        field = getattr(exc, "field", "") or ""
        if field == "enabled_from":
            return _flows_page(do, tenant, status=int(exc.status), errors={"enabled_from": translate(str(exc), field)})
        return _flows_page(do, tenant, status=int(exc.status), refusal=translate(str(exc), field))
    return _back(".flows", tenant=tenant)


@bp.post("/realms/<tenant>/experience")
def experience(tenant: str) -> Response:
    csrf.protect()
    do = _actions(tenant)
    try:
        do.migrate(tenant, request.form.get("experience", ""))
    except REFUSALS as exc:
        return _flows_page(do, tenant, status=int(exc.status), refusal=str(exc))
    return _back(".flows", tenant=tenant)
