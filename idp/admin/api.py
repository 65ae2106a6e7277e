"""The admin REST API: ``/admin/realms/{tenant}/...`` (Keycloak-like), JSON in and out.

Routes come from :data:`idp.admin.openapi.OPERATIONS` (one view per ``operationId``);
request bodies are validated by their models (:mod:`idp.admin.shapes`) before a view runs, and
every answer is one of those models, so the document's schemas are the shapes served.
Every request but the document carries a bearer token (:mod:`idp.admin.auth`).
A view parses, calls :class:`~idp.admin.actions.AdminActions`, and answers JSON.
Errors are ``{"error": <one plain line>, "field": <the field at fault or "">}``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from idp.accounts.factors import FactorError
from idp.accounts.users import UserError
from idp.admin import openapi, shapes, stats
from idp.admin.actions import AdminActions
from idp.admin.auth import AdminAuthError, authenticate, bearer_token
from idp.oidc.clients import ClientError
from idp.oidc.consent import ConsentError
from idp.store import StoreUnavailable
from idp.tenants.service import TenantError
from idp.web.context import current_services as _services

bp = Blueprint("admin_api", __name__)

#: Longest period of one statistics query (days).
STATS_MAX_DAYS = stats.MAX_DAYS


class Invalid(Exception):
    """A request value is invalid (422 naming ``field``), or the body is not JSON (400)."""

    def __init__(self, message: str, field: str = "", status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


# -- plumbing --------------------------------------------------------------------------


def _error(status: int, message: str, field: str = "") -> Response:
    response = jsonify(error=message, field=field)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="idp-admin", error="invalid_token"'
    return response


@bp.errorhandler(AdminAuthError)
@bp.errorhandler(TenantError)
@bp.errorhandler(UserError)
@bp.errorhandler(ClientError)
@bp.errorhandler(ConsentError)
@bp.errorhandler(Invalid)
def _refused(exc: Any) -> Response:
    return _error(int(exc.status), str(exc), getattr(exc, "field", "") or "")


@bp.errorhandler(FactorError)
def _factor_refused(exc: FactorError) -> Response:
    return _error(exc.status, str(exc), "factor_id" if exc.status == 404 else "")


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    return _error(exc.code or 500, exc.name.lower())


@bp.errorhandler(StoreUnavailable)
def _unavailable(exc: StoreUnavailable) -> Response:
    current_app.logger.error("admin API: store unavailable: %s", exc)
    response = _error(503, "a backing store is unavailable; try again")
    response.headers["Retry-After"] = "30"
    return response


@bp.before_request
def _authenticate() -> None:
    if request.endpoint == "admin_api.openapi":
        return
    g.admin_actions = AdminActions(
        current_app.extensions["idp"],
        authenticate(current_app.extensions["idp"], bearer_token(request.headers.get("Authorization"))),
        client_ip=request.remote_addr or "",
        user_agent=request.user_agent.string or "",
    )


def _do() -> AdminActions:
    return g.admin_actions  # type: ignore[no-any-return]


def body(op_id: str, check: bool = True, service_checked: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON object body of this operation, validated by its model (:mod:`idp.admin.shapes`; 422 naming the field):
    the members given, as given.

    Members named in ``service_checked`` are left to the service, whose errors name the field as the
    configuration does (``passwords.min_length``, not ``config.passwords.min_length``).
    """
    op = openapi.operation(op_id)
    data = request.get_json(silent=True) if request.get_data() else {}
    if not isinstance(data, dict):
        raise Invalid("the request body must be a JSON object", status=400)
    if not check:
        return data
    try:
        return shapes.check(op.body, data, service_checked)
    except shapes.BodyError as exc:
        raise Invalid(str(exc), exc.field) from None


def _int(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise Invalid(f"{name} must be a whole number", name) from None
    if not low <= value <= high:
        raise Invalid(f"{name} must be between {low} and {high}", name)
    return value


def _datetime(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00") if raw.endswith("Z") else raw)
    except ValueError:
        raise Invalid(f"{name} must be an ISO 8601 date and time", name) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _date(name: str, default: date) -> date:
    raw = request.args.get(name)
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise Invalid(f"{name} must be a date (YYYY-MM-DD)", name) from None


def _json(data: shapes.Shape | dict[str, Any], status: int = 200) -> Response:
    response = jsonify(data.dump() if isinstance(data, shapes.Shape) else data)
    response.status_code = status
    return response


def _empty() -> Response:
    return Response(status=204)


# -- views (one per operationId) -------------------------------------------------------


def openapi_document() -> Response:
    return _json(openapi.document(_services().settings.public_url))


def list_realms() -> Response:
    return _json(shapes.TenantList(realms=[shapes.Tenant.of(t) for t in _do().list_tenants()]))


def create_realm() -> Response:
    data = body("create_realm", service_checked=("config",))
    view = _do().create_tenant(
        data["slug"], data.get("display_name", ""), data.get("experience", "v2"), bool(data.get("self_recovery", False)), data.get("config")
    )
    return _json(shapes.Tenant.of(view), 201)


def get_realm(tenant: str) -> Response:
    return _json(shapes.Tenant.of(_do().tenant(tenant)))


def get_config(tenant: str) -> Response:
    return _json(_do().tenant(tenant).config.dump())


def patch_config(tenant: str) -> Response:
    return _json(shapes.Tenant.of(_do().update_config(tenant, body("patch_config", check=False))))


def migrate_experience(tenant: str) -> Response:
    return _json(shapes.Tenant.of(_do().migrate(tenant, body("migrate_experience")["experience"])))


def _flows(view: Any) -> Response:
    return _json(shapes.FlowList.of(_services().tenants.flow_status(view)))


def list_flows(tenant: str) -> Response:
    return _flows(_do().tenant(tenant))


def enable_flow(tenant: str, flow: str) -> Response:
    raw = body("enable_flow").get("enabled_from")
    when = None
    if raw is not None:
        try:
            when = datetime.fromisoformat(raw) if isinstance(raw, str) else None
        except ValueError:
            when = None
        if when is None:
            raise Invalid("enabled_from must be an ISO 8601 date and time with a time zone", "enabled_from")
    return _flows(_do().enable_flow(tenant, flow, when))


def disable_flow(tenant: str, flow: str) -> Response:
    return _flows(_do().disable_flow(tenant, flow))


def list_users(tenant: str) -> Response:
    view = _do().tenant(tenant)
    offset, limit = _int("offset", 0, 0, 1000000), _int("limit", 50, 1, 200)
    query = request.args.get("q", "")[:100]
    users, total = _services().users.search(view, query, offset, limit)
    return _json(shapes.UserList(total=total, offset=offset, limit=limit, users=[shapes.User.of(u) for u in users]))


def create_user(tenant: str) -> Response:
    return _json(shapes.User.of(_do().create_user(tenant, body("create_user"))), 201)


def get_user(tenant: str, user_id: str) -> Response:
    return _json(shapes.User.of(_do().user(_do().tenant(tenant), user_id)))


def update_user(tenant: str, user_id: str) -> Response:
    return _json(shapes.User.of(_do().update_user(tenant, user_id, body("update_user"))))


def disable_user(tenant: str, user_id: str) -> Response:
    return _json(shapes.User.of(_do().set_enabled(tenant, user_id, False)))


def enable_user(tenant: str, user_id: str) -> Response:
    return _json(shapes.User.of(_do().set_enabled(tenant, user_id, True)))


def set_password(tenant: str, user_id: str) -> Response:
    _do().set_password(tenant, user_id, body("set_password")["password"])
    return _empty()


def list_factors(tenant: str, user_id: str) -> Response:
    view = _do().tenant(tenant)
    user = _do().user(view, user_id)
    history = request.args.get("history", "false").lower() in ("true", "1")
    factors = _services().factors.history(view, user) if history else _services().factors.active(view, user)
    passkeys = _services().factors.passkey_details(view, user) if any(f.type == "passkey" for f in factors) else {}
    return _json(shapes.FactorList(factors=[shapes.Factor.of(f, passkeys) for f in factors]))


def reset_factors(tenant: str, user_id: str) -> Response:
    return _json(shapes.FactorList(factors=[shapes.Factor.of(f) for f in _do().reset_factors(tenant, user_id)]))


def remove_factor(tenant: str, user_id: str, factor_id: str) -> Response:
    return _json(shapes.Factor.of(_do().remove_factor(tenant, user_id, factor_id)))


def unlock_user(tenant: str, user_id: str) -> Response:
    _do().unlock(tenant, user_id)
    return _empty()


def logout_user(tenant: str, user_id: str) -> Response:
    return _json(shapes.Revoked(revoked=_do().revoke_sessions(tenant, user_id)))


def list_consents(tenant: str, user_id: str) -> Response:
    return _json(shapes.ConsentList(consents=[shapes.Consent.of(c) for c in _do().consents(tenant, user_id)]))


def revoke_consent(tenant: str, user_id: str, client_id: str) -> Response:
    _do().revoke_consent(tenant, user_id, client_id)
    return _empty()


def list_clients(tenant: str) -> Response:
    return _json(shapes.ClientList(clients=[shapes.Client.of(c) for c in _services().clients.list(_do().tenant(tenant))]))


def create_client(tenant: str) -> Response:
    view, secret = _do().create_client(tenant, body("create_client"))
    return _json(shapes.ClientCreated(client=shapes.Client.of(view), client_secret=secret), 201)


def get_client(tenant: str, client_id: str) -> Response:
    return _json(shapes.Client.of(_services().clients.require(_do().tenant(tenant), client_id)))


def update_client(tenant: str, client_id: str) -> Response:
    return _json(shapes.Client.of(_do().update_client(tenant, client_id, body("update_client"))))


def delete_client(tenant: str, client_id: str) -> Response:
    _do().delete_client(tenant, client_id)
    return _empty()


def rotate_client_secret(tenant: str, client_id: str) -> Response:
    return _json(shapes.Secret(client_secret=_do().rotate_secret(tenant, client_id)))


def list_keys(tenant: str) -> Response:
    return _json(shapes.KeyList(keys=[shapes.Key.of(k) for k in _services().keys.list(_do().tenant(tenant))]))


def rotate_key(tenant: str) -> Response:
    return _json(shapes.Key.of(_do().rotate_key(tenant, body("rotate_key").get("publish_delay"))), 201)


def list_events(tenant: str) -> Response:
    offset, limit = _int("offset", 0, 0, 1000000), _int("limit", 50, 1, 200)
    since, until = _datetime("since"), _datetime("until")
    events = _do().events(tenant, request.args.get("type") or None, request.args.get("user") or None, since, until, offset, limit)
    return _json(shapes.EventList.model_validate({"offset": offset, "limit": limit, "events": events}))


def recovery_stats(tenant: str) -> Response:
    view = _do().tenant(tenant)
    last = _date("to", datetime.now(UTC).date())
    first = _date("from", last - timedelta(days=29))
    if first > last or (last - first).days >= STATS_MAX_DAYS:
        raise Invalid(f"from must be on or before to, at most {STATS_MAX_DAYS} days apart", "from")
    days = stats.recovery_stats(_services(), view, first, last)
    return _json(shapes.RecoveryStats.model_validate({"from": first, "to": last, "days": [d.to_dict() for d in days]}))


VIEWS: dict[str, Callable[..., Response]] = {
    "openapi": openapi_document,
    **{op.id: globals()[op.id] for op in openapi.OPERATIONS if op.id != "openapi"},
}


def flask_rule(path: str) -> str:
    """``/admin/realms/{tenant}`` → ``/admin/realms/<tenant>``."""
    return path.replace("{", "<").replace("}", ">")


for _op in openapi.OPERATIONS:
    bp.add_url_rule(flask_rule(_op.path), endpoint=_op.id, view_func=VIEWS[_op.id], methods=[_op.method.upper()])
