"""The console's tenants page (platform administrators): every tenant, and creating one (issue 16, item 2).

Creating a tenant takes two steps, as the self-recovery announcement promises new customers: the
name, display name and login experience first; then, when the tenant service says self-recovery
would be compatible with that set-up (:meth:`TenantService.compatibility_for_new`), the question
whether to enable it now. When it would not be, the page says why and creates the tenant without
it. The tenant is created by :meth:`AdminActions.create_tenant`, the admin API's own path (its
checks run again: nothing is written if any fails).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, redirect, request, url_for
from flask_babel import lazy_gettext as _l

from idp.admin.actions import AdminActions, recovery_flow
from idp.admin.auth import require_platform
from idp.admin.console import DONE, REFUSALS, Refused, _actions, _page, _services, bp
from idp.admin.console_messages import translate
from idp.admin.console_settings import Field
from idp.tenants.service import TenantError
from idp.web import csrf

FIELDS = (
    Field("slug", _l("Tenant name"), hint=_l("Lower-case letters, digits and dashes; part of the issuer URL.")),
    Field("display_name", _l("Display name")),
    Field(
        "experience",
        _l("Login experience"),
        "choice",
        choices=(("v2", _l("The new login experience")), ("legacy", _l("Legacy (existing customers not yet migrated)"))),
    ),
)
DONE.update({"tenant_created": _l("The tenant was created.")})


def _platform(slug: str) -> AdminActions:
    """The signed-in platform administrator (403 page for anyone else)."""
    do = _actions(slug)
    try:
        require_platform(do.admin)
    except REFUSALS:
        raise Refused() from None
    return do


def _form() -> dict[str, str]:
    return {
        "slug": request.form.get("slug", "").strip().lower(),
        "display_name": request.form.get("display_name", "").strip(),
        "experience": request.form.get("experience", "v2"),
    }


def _tenants_page(do: AdminActions, slug: str, status: int = 200, values: Mapping[str, Any] | None = None, errors: Mapping[str, str] | None = None, refusal: str = "") -> Response:
    recovery = do.recovery_flow()
    rows = [(t, t.flow_live(recovery), t.config.flow(recovery)) for t in do.list_tenants()]
    return _page(
        "admin/tenants.html",
        do,
        slug,
        status=status,
        tenants=rows,
        fields=FIELDS,
        values=values or {"experience": "v2"},
        errors=errors or {},
        refusal=refusal,
    )


@bp.get("/realms/<tenant>/tenants")
def tenants(tenant: str) -> Response:
    return _tenants_page(_platform(tenant), tenant)


def recovery_reasons(slug: str, experience: str) -> list[str]:
    """Why self-recovery could not be enabled on a new tenant with this set-up (empty: it could)."""
    name = recovery_flow(_services())
    if not name:
        return ["no self-recovery flow is installed on this server"]
    try:
        return _services().tenants.compatibility_for_new(slug, experience, name)
    except TenantError as exc:  # the flow is not installed
        return [str(exc)]


@bp.post("/realms/<tenant>/tenants")
def tenant_create(tenant: str) -> Response:
    csrf.protect()
    do = _platform(tenant)
    values = _form()
    try:
        if request.form.get("step") != "create":
            _services().tenants.check_new(values["slug"], values["experience"])
            reasons = [translate(r) for r in recovery_reasons(values["slug"], values["experience"])]
            return _page("admin/tenant_new.html", do, tenant, values=values, reasons=reasons)
        created = do.create_tenant(values["slug"], values["display_name"], values["experience"], request.form.get("self_recovery") == "yes")
    except REFUSALS as exc:
        field = getattr(exc, "field", "") or ""
        message = translate(str(exc), field)
        if field in {f.path for f in FIELDS}:
            return _tenants_page(do, tenant, int(exc.status), values, {field: message})
        return _tenants_page(do, tenant, int(exc.status), values, refusal=message)
    return redirect(url_for(".tenants", tenant=tenant, done="tenant_created", created=created.slug), 303)  # type: ignore[return-value]
