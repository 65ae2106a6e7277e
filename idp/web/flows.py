"""Hosted flow pages: the HTTP side of the flow engine (:mod:`idp.flowengine.engine`).

Routes (``<tenant>`` is the tenant slug, ``<flow_name>`` a registered flow live for it):

- ``GET /realms/<tenant>/login``: a fresh ``browser-login`` run without an
  authorization request (the tenant's own sign-in page).
- ``GET /realms/<tenant>/flow/<flow_name>``: the page of the current step
  (a new run starts when this browser has none).
- ``POST /realms/<tenant>/flow/<flow_name>``: the form of a step: ``csrf_token``,
  ``step`` (the step name) and the step's fields.
- ``GET /realms/<tenant>/flow/<flow_name>/enter``: a run started from an
  out-of-band link (the recovery email); redirects to a URL without the token (R-52).

The current run's id rides in a signed, HttpOnly, SameSite=Lax cookie per
tenant and flow (``__Host-`` prefixed and Secure on https, R-42); the state in
the store is also bound to this browser (R-99). Redirects after a POST are 303
(R-67) and only ever go to our own routes (R-65).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from flask import Blueprint, Response, abort, current_app, redirect, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from idp.assurance import ACR_MFA, ACR_PWD, AMR_MFA, AMR_PWD, SECOND_FACTOR_AMR
from idp.flowengine.contract import LOGIN, Flow, FlowState, RequestInfo, RunReads
from idp.flowengine.engine import (
    FLOW_TTL,
    Completed,
    Ended,
    EngineResult,
    FlowNotAvailable,
    Render,
)
from idp.web import csrf
from idp.web.browser import browser_binding
from idp.web.context import current_services as _services
from idp.web.i18n import (
    current_language,
    first_supported,
    requested_language,
    set_current_tenant,
    use_locale_hints,
)
from idp.web.pages import render_page
from idp.web.sso_cookie import set_sso_cookie

bp = Blueprint("flows", __name__)


# -- the flow cookie ---------------------------------------------------------------


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="idp-flow-cookie")


def _secure() -> bool:
    return bool(current_app.config.get("SESSION_COOKIE_SECURE", False))


def flow_cookie_name(tenant_slug: str, flow_name: str) -> str:
    """The cookie that holds this browser's run of ``flow_name`` at ``tenant_slug``."""
    return f"{'__Host-' if _secure() else ''}idp_flow.{tenant_slug}.{flow_name}"


def _set_flow_cookie(response: Response, state: FlowState) -> None:
    value = _serializer().dumps({"t": state.tenant, "f": state.flow, "id": state.id})
    response.set_cookie(
        flow_cookie_name(state.tenant, state.flow), value, max_age=FLOW_TTL, path="/", secure=_secure(), httponly=True, samesite="Lax"
    )


def _clear_flow_cookie(response: Response, tenant_slug: str, flow_name: str) -> None:
    response.delete_cookie(flow_cookie_name(tenant_slug, flow_name), path="/", secure=_secure(), httponly=True, samesite="Lax")


def _flow_id(tenant_slug: str, flow_name: str) -> str | None:
    raw = request.cookies.get(flow_cookie_name(tenant_slug, flow_name))
    if not raw:
        return None
    try:
        data = _serializer().loads(raw)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("t") != tenant_slug or data.get("f") != flow_name:
        return None
    flow_id = data.get("id")
    return flow_id if isinstance(flow_id, str) else None


# -- helpers -------------------------------------------------------------------------


def _tenant(slug: str) -> Any:
    """The tenant ``slug`` or a 404 page."""
    tenant = _services().tenants.get(slug)
    if tenant is None:
        abort(404)
    set_current_tenant(tenant)
    return tenant


def _flow(tenant: Any, flow_name: str) -> Flow:
    """The flow if registered and live for the tenant, else a 404 page."""
    try:
        return _services().engine.flow_for(tenant, flow_name)
    except FlowNotAvailable:
        abort(404)


def request_info() -> RequestInfo:
    """What a step may know of this request (no Flask beyond this point)."""
    return RequestInfo(
        client_ip=request.remote_addr or "",
        user_agent=request.headers.get("User-Agent", "")[:512],
        locale=current_language(),
    )


def _load(tenant: Any, flow_name: str) -> FlowState | None:
    flow_id = _flow_id(tenant.slug, flow_name)
    if flow_id is None:
        return None
    return _services().engine.load(tenant, flow_id, browser_binding(), flow_name)  # type: ignore[no-any-return]


def _parked_auth_request(tenant: Any, flow_name: str) -> dict[str, str] | None:
    """The authorization request of this browser's sign-in run, carried into another flow (recovery)."""
    flow = _services().engine.designated(tenant, LOGIN)
    if flow is None or flow_name == flow.name:
        return None
    login = _load(tenant, flow.name)
    return login.auth_request if login is not None else None


def _hint_locale(tenant: Any, flow: Flow, state: FlowState, reads: RunReads) -> None:
    """Feed the language choice: the run's language, the flow's ``ui_locales``, then the identified user's locale.

    A flow that speaks one language per run keeps, in the state (saved with it), the language the person
    uses on its first page (``ui_locales`` or ``Accept-Language``; none: the account's, then the tenant's apply).
    """
    ui_locales = (state.auth_request or {}).get("ui_locales")
    user = _services().engine.user(tenant, state, reads)
    use_locale_hints(ui_locales, user.locale if user is not None else None, state.locale or None)
    if flow.one_language and not state.locale:
        state.locale = requested_language() or ""
        use_locale_hints(ui_locales, user.locale if user is not None else None, state.locale or None)


def assurance(state: FlowState) -> tuple[list[str], str]:
    """``amr`` and ``acr`` of a completed run: ``mfa`` and ``urn:idp:acr:mfa`` once a second factor was proved."""
    amr = list(state.amr)
    second = any(a in SECOND_FACTOR_AMR for a in amr)
    if second and AMR_PWD in amr and AMR_MFA not in amr:
        amr.append(AMR_MFA)
    return amr, (ACR_MFA if second else ACR_PWD)


# -- responses -------------------------------------------------------------------------


def _see_other(location: str) -> Response:
    """A 303 to one of our own paths: after a POST the browser follows with a GET (R-67)."""
    return cast(Response, redirect(location, 303))


def _flow_url(tenant_slug: str, flow_name: str) -> str:
    """The flow's page, keeping a valid ``ui_locales`` of the query string (never anything else, R-65)."""
    return url_for("flows.flow_page", tenant=tenant_slug, flow_name=flow_name, ui_locales=first_supported(request.args.get("ui_locales")))


def _page(tenant: Any, flow_name: str, result: Render) -> Response:
    context = dict(result.context)
    context.update(step=result.step, error=result.error, action=_flow_url(tenant.slug, flow_name))
    response = render_page(result.template, status=result.status, tenant=tenant, **context)
    if result.status == 429 and context.get("retry_after"):
        response.headers["Retry-After"] = str(int(context["retry_after"]))  # RFC 9110 §10.2.3
    return response


def _ended(tenant: Any, flow_name: str, result: Ended, keep_run: bool = False) -> Response:
    """The error page of an ended run; ``keep_run``: another run of this browser is still live, its cookie stays."""
    retry = _flow_url(tenant.slug, flow_name)
    response = render_page("error.html", status=result.status, tenant=tenant, error=result.error, retry_url=retry)
    if not keep_run:
        _clear_flow_cookie(response, tenant.slug, flow_name)
    return response


def _completed(tenant: Any, flow: Flow, result: Completed, reads: RunReads) -> Response:
    state = result.state
    engine = _services().engine
    sso = None
    if flow.signs_in(state) and state.user_id is not None:
        amr, acr = assurance(state)
        info = request_info()
        sso = _services().sessions.establish(tenant, state.user_id, amr, acr, client_ip=info.client_ip, user_agent=info.user_agent)
    resumes = sso is not None and bool(state.auth_request)
    if resumes and result.page is None:
        # the authorization endpoint loads this completed state, discards it and answers the RP
        response = _see_other(url_for("oidc.resume", tenant=tenant.slug, flow=state.id))
    else:
        if not resumes:
            engine.discard(state)
        if result.page is not None:
            # the end page's « Continuer »: back to the relying party when a request was parked, else sign-in
            page = result.page
            onward = url_for("oidc.resume", tenant=tenant.slug, flow=state.id) if resumes else url_for("flows.login", tenant=tenant.slug)
            response = _page(tenant, flow.name, Render(page.template, {**page.context, "continue_url": onward}, page.status, page.step, page.error))
        elif sso is not None:
            user = engine.user(tenant, state, reads)
            response = render_page("signed_in.html", tenant=tenant, username=user.username if user else "")
        else:
            response = render_page("flow_done.html", tenant=tenant)
        _clear_flow_cookie(response, tenant.slug, flow.name)
    if sso is not None:
        set_sso_cookie(response, _services().sessions, tenant, sso)
    return response


def _respond(tenant: Any, flow: Flow, result: EngineResult, reads: RunReads) -> Response:
    if isinstance(result, Render):
        return _page(tenant, flow.name, result)
    if isinstance(result, Ended):
        return _ended(tenant, flow.name, result)
    return _completed(tenant, flow, result, reads)


# -- the interface for other blueprints --------------------------------------------------


def start_login(tenant: Any, auth_request: Mapping[str, str] | None = None) -> Response:
    """A fresh run of the tenant's login flow (the one designated ``login``); 404 when it has none."""
    flow = _services().engine.designated(tenant, LOGIN)
    if flow is None:
        abort(404)
    return start_flow(tenant, flow.name, auth_request=auth_request)


def start_flow(tenant: Any, flow_name: str, auth_request: Mapping[str, str] | None = None, **data: dict[str, Any]) -> Response:
    """Start a run of ``flow_name`` for this browser and redirect (303) to its page, setting the flow cookie.

    ``tenant`` is a :class:`~idp.tenants.service.TenantView` (or its slug);
    ``auth_request`` the parked authorization request the run resumes;
    ``data`` seeds steps' slots (``{step_name: {...}}``). A flow that is not live
    for the tenant is a 404 page.
    """
    if isinstance(tenant, str):
        tenant = _tenant(tenant)
    _flow(tenant, flow_name)
    state = _services().engine.start(
        tenant, flow_name, browser_binding(), auth_request=dict(auth_request) if auth_request else None, **data
    )
    response = _see_other(_flow_url(tenant.slug, flow_name))
    _set_flow_cookie(response, state)
    return response


# -- routes -----------------------------------------------------------------------------


@bp.get("/realms/<tenant>/login")
def login(tenant: str) -> Response:
    """The tenant's own sign-in page: a fresh run of its login flow, no relying party."""
    return start_login(_tenant(tenant))


@bp.get("/realms/<tenant>/flow/<flow_name>")
def flow_page(tenant: str, flow_name: str) -> Response:
    """The current step's page; a new run when this browser has none."""
    view = _tenant(tenant)
    flow = _flow(view, flow_name)
    engine = _services().engine
    state = _load(view, flow_name)
    fresh = state is None
    if state is None:
        state = engine.start(view, flow_name, browser_binding(), auth_request=_parked_auth_request(view, flow_name))
    reads = RunReads()
    _hint_locale(view, flow, state, reads)
    result = engine.render(view, state, request_info(), reads)
    response = _respond(view, flow, result, reads)
    if fresh and isinstance(result, Render):
        _set_flow_cookie(response, state)
    return response


@bp.post("/realms/<tenant>/flow/<flow_name>")
def flow_submit(tenant: str, flow_name: str) -> Response:
    """A step's form: CSRF first (R-42), then the engine; an expired run is an error page."""
    view = _tenant(tenant)
    flow = _flow(view, flow_name)
    csrf.protect()
    state = _load(view, flow_name)
    if state is None:
        return _ended(view, flow_name, Ended("flow_expired", 400))
    reads = RunReads()
    _hint_locale(view, flow, state, reads)
    form = {k: v for k, v in request.form.items() if k not in (csrf.FIELD, "step")}
    result = _services().engine.submit(view, state, request.form.get("step", ""), form, request_info(), reads)
    if state.user_id is not None:
        _hint_locale(view, flow, state, reads)  # the step may have just identified the user
    return _respond(view, flow, result, reads)


@bp.get("/realms/<tenant>/flow/<flow_name>/enter")
def flow_enter(tenant: str, flow_name: str) -> Response:
    """A run started from an out-of-band link; the token never stays in the address bar (R-52)."""
    view = _tenant(tenant)
    _flow(view, flow_name)
    earlier = _load(view, flow_name)
    auth_request = earlier.auth_request if earlier is not None else _parked_auth_request(view, flow_name)
    try:
        result = _services().engine.enter(
            view, flow_name, browser_binding(), request.args.to_dict(), request_info(), auth_request=auth_request
        )
    except FlowNotAvailable:
        abort(404)
    if isinstance(result, Ended):
        # a refused link (junk, used, expired) shows its message and leaves the run in progress as it was
        return _ended(view, flow_name, result, keep_run=earlier is not None)
    if earlier is not None:
        _services().engine.discard(earlier)
    response = _see_other(_flow_url(view.slug, flow_name))
    _set_flow_cookie(response, result)
    return response
