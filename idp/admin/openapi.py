"""The OpenAPI 3.1 document of the admin API, served at ``/admin/openapi.json``.

:data:`OPERATIONS` is the one table of the API: :mod:`idp.admin.api` registers a
view per row (the ``operationId`` is the view's name) and validates request bodies
against the row's schema, so the document cannot drift from the routes
(``tests/admin/test_openapi.py`` also checks it both ways and validates responses).
Schemas are JSON Schema 2020-12, all generated: the bodies and responses from the pydantic models of
:mod:`idp.admin.shapes` (``Operation.body`` and ``Operation.response`` name them), the tenant
configuration's from :class:`idp.tenants.config.TenantConfig`.
"""

from __future__ import annotations

import collections.abc
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin, get_type_hints

from idp.admin import shapes
from idp.admin.shapes import ref
from idp.tenants.config import TenantConfig, bounds_of

ERROR_STATUSES = {
    "400": "The request is malformed or was refused.",
    "401": "No access token, or an invalid, expired, revoked or wrong-audience one.",
    "403": "The token's admin may not do this, or not in this tenant, or its account holds no admin role (R-44).",
    "404": "No such tenant, user, client, flow or factor.",
    "409": "Refused by a rule (e.g. enabling self-recovery on a legacy tenant; a duplicate).",
    "422": "A value is invalid; `field` names it.",
    "503": "A backing store is unavailable; try again.",
}


STR = {"type": "string"}
BOOL = {"type": "boolean"}
INT = {"type": "integer"}
STRS = {"type": "array", "items": STR}
DATE_TIME = {"type": "string", "format": "date-time"}


def _obj(props: dict[str, Any], required: tuple[str, ...] = (), closed: bool = True) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


def _config_schema(cls: type, partial: bool) -> dict[str, Any]:
    """JSON Schema of a configuration dataclass (all fields required in responses, none in patches)."""
    hints = get_type_hints(cls)
    props: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        origin = get_origin(hint)
        if dataclasses.is_dataclass(hint):
            props[f.name] = _config_schema(hint, partial)  # type: ignore[arg-type]
        elif hint is bool:
            props[f.name] = dict(BOOL)
        elif hint is int:
            props[f.name] = dict(INT)
            bounds = bounds_of(f)
            if bounds is not None:
                props[f.name].update(minimum=bounds[0], maximum=bounds[1])
        elif hint is str:
            props[f.name] = dict(STR)
        elif origin is tuple:
            props[f.name] = dict(STRS)
        elif origin is list:  # a flow's own bindings (idp/flowengine/bindings.py)
            props[f.name] = {"type": "array", "items": ref("FlowStepBinding")}
        elif origin in (Mapping, dict, collections.abc.Mapping):
            args = get_args(hint)
            if args and dataclasses.is_dataclass(args[1]):
                props[f.name] = {"type": "object", "additionalProperties": _config_schema(args[1], partial)}  # type: ignore[arg-type]
            else:
                props[f.name] = {"type": "object"}
        else:  # pragma: no cover - a new field type must be described here
            raise TypeError(f"no schema for {cls.__name__}.{f.name}: {hint!r}")
        doc = _field_doc(cls, f.name)
        if doc:
            props[f.name]["description"] = doc
    names = tuple(f.name for f in dataclasses.fields(cls))
    return _obj(props, () if partial else names)


def _field_doc(cls: type, name: str) -> str:
    """The ``#:`` comment above a field in its class's source (the documented default)."""
    import inspect

    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):  # pragma: no cover
        return ""
    for i, line in enumerate(lines):
        if line.strip().startswith(f"{name}:"):
            docs: list[str] = []
            j = i - 1
            while j >= 0 and lines[j].strip().startswith("#:"):
                docs.insert(0, lines[j].strip()[2:].strip())
                j -= 1
            return " ".join(docs)
    return ""


def schemas() -> dict[str, Any]:
    """Every component schema: the modelled shapes' generated ones (:mod:`idp.admin.shapes`) and the
    tenant configuration's, generated from :class:`~idp.tenants.config.TenantConfig` (its own single source)."""
    return {
        **shapes.components(),
        "TenantConfig": _config_schema(TenantConfig, partial=False),
        "TenantConfigPatch": _config_schema(TenantConfig, partial=True),
    }


def _param(name: str, where: str, schema: dict[str, Any], description: str = "", required: bool = False) -> dict[str, Any]:
    p: dict[str, Any] = {"name": name, "in": where, "schema": schema, "required": required or where == "path"}
    if description:
        p["description"] = description
    return p


TENANT = _param("tenant", "path", {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"}, "Tenant (realm) slug.")
USER = _param("user_id", "path", {"type": "string", "pattern": "^[A-Za-z0-9-]{1,64}$"}, "The user's `id` (OIDC subject).")
CLIENT = _param("client_id", "path", {"type": "string", "pattern": "^[A-Za-z0-9._~-]{1,128}$"})
FLOW = _param("flow", "path", {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,62}$"}, "A registered flow, e.g. `self-recovery`.")
FACTOR = _param("factor_id", "path", {"type": "string", "pattern": "^[A-Za-z0-9-]{1,64}$"})
OFFSET = _param("offset", "query", {"type": "integer", "minimum": 0, "maximum": 1000000, "default": 0})
LIMIT = _param("limit", "query", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50})


@dataclass(frozen=True)
class Operation:
    """One row of the API: a route, what it takes, what it answers."""

    id: str
    method: str
    path: str
    summary: str
    params: tuple[dict[str, Any], ...] = ()
    body: str = ""
    status: int = 200
    response: str = ""
    tags: tuple[str, ...] = field(default=())
    #: Served without a token (the document itself).
    public: bool = False


R = "/admin/realms/{tenant}"
OPERATIONS: tuple[Operation, ...] = (
    Operation("openapi", "get", "/admin/openapi.json", "This document.", response="OpenApiDocument", tags=("meta",), public=True),
    Operation("list_realms", "get", "/admin/realms", "Tenants this admin may manage (all of them for a platform admin).", response="TenantList", tags=("realms",)),
    Operation("create_realm", "post", "/admin/realms", "Create a tenant (platform admins); offers self-recovery.", body="TenantCreate", status=201, response="Tenant", tags=("realms",)),
    Operation("get_realm", "get", R, "A tenant with its configuration.", (TENANT,), response="Tenant", tags=("realms",)),
    Operation("get_config", "get", R + "/config", "The tenant's configuration.", (TENANT,), response="TenantConfig", tags=("realms",)),
    Operation(
        "patch_config", "patch", R + "/config", "Deep-merge a partial configuration; validated like a file load (422 names the field).",
        (TENANT,), body="TenantConfigPatch", response="Tenant", tags=("realms",),
    ),
    Operation("migrate_experience", "post", R + "/experience", "Move the tenant to another login experience (platform admins).", (TENANT,), body="Migration", response="Tenant", tags=("realms",)),
    Operation("list_flows", "get", R + "/flows", "Every flow with its state, compatibility, reasons and bindings.", (TENANT,), response="FlowList", tags=("flows",)),
    Operation(
        "enable_flow", "post", R + "/flows/{flow}/enable", "Enable a flow now or from `enabled_from`; 409 with every reason when incompatible.",
        (TENANT, FLOW), body="FlowEnable", response="FlowList", tags=("flows",),
    ),
    Operation("disable_flow", "post", R + "/flows/{flow}/disable", "Disable a flow.", (TENANT, FLOW), response="FlowList", tags=("flows",)),
    Operation(
        "list_users", "get", R + "/users", "Find users by username or email, paged.",
        (TENANT, _param("q", "query", {"type": "string", "maxLength": 100}, "Part of a username or email."), OFFSET, LIMIT),
        response="UserList", tags=("users",),
    ),
    Operation("create_user", "post", R + "/users", "Create a user (the password policy applies).", (TENANT,), body="UserCreate", status=201, response="User", tags=("users",)),
    Operation("get_user", "get", R + "/users/{user_id}", "One user.", (TENANT, USER), response="User", tags=("users",)),
    Operation("update_user", "patch", R + "/users/{user_id}", "Change profile fields and roles.", (TENANT, USER), body="UserUpdate", response="User", tags=("users",)),
    Operation("disable_user", "post", R + "/users/{user_id}/disable", "Disable the account and revoke every session and token.", (TENANT, USER), response="User", tags=("users",)),
    Operation("enable_user", "post", R + "/users/{user_id}/enable", "Enable the account again.", (TENANT, USER), response="User", tags=("users",)),
    Operation("set_password", "post", R + "/users/{user_id}/password", "Set the password (policy applies).", (TENANT, USER), body="Password", status=204, tags=("users",)),
    Operation("list_factors", "get", R + "/users/{user_id}/factors", "Active second factors (`history=true`: every factor ever bound).",
              (TENANT, USER, _param("history", "query", BOOL)), response="FactorList", tags=("users",)),
    Operation("reset_factors", "delete", R + "/users/{user_id}/factors", "Remove every active second factor and revoke the user's sessions.",
              (TENANT, USER), response="FactorList", tags=("users",)),
    Operation("remove_factor", "delete", R + "/users/{user_id}/factors/{factor_id}", "Remove one second factor.", (TENANT, USER, FACTOR), response="Factor", tags=("users",)),
    Operation("unlock_user", "post", R + "/users/{user_id}/unlock", "Lift the brute-force delays of the account.", (TENANT, USER), status=204, tags=("users",)),
    Operation("logout_user", "post", R + "/users/{user_id}/logout", "End every session and revoke every token of the user.", (TENANT, USER), response="Revoked", tags=("users",)),
    Operation("list_consents", "get", R + "/users/{user_id}/consents", "The third-party clients the user granted scopes to.",
              (TENANT, USER), response="ConsentList", tags=("users",)),
    Operation("revoke_consent", "delete", R + "/users/{user_id}/consents/{client_id}",
              "Revoke the user's consent to a client, and every code, refresh and access token the client got for the user.",
              (TENANT, USER, CLIENT), status=204, tags=("users",)),
    Operation("list_clients", "get", R + "/clients", "Registered clients.", (TENANT,), response="ClientList", tags=("clients",)),
    Operation("create_client", "post", R + "/clients", "Register a client; its secret is returned once.", (TENANT,), body="ClientCreate", status=201, response="ClientCreated", tags=("clients",)),
    Operation("get_client", "get", R + "/clients/{client_id}", "One client (never its secret).", (TENANT, CLIENT), response="Client", tags=("clients",)),
    Operation("update_client", "patch", R + "/clients/{client_id}", "Change a client.", (TENANT, CLIENT), body="ClientUpdate", response="Client", tags=("clients",)),
    Operation("delete_client", "delete", R + "/clients/{client_id}", "Remove a client.", (TENANT, CLIENT), status=204, tags=("clients",)),
    Operation("rotate_client_secret", "post", R + "/clients/{client_id}/secret", "A new secret (the old one stops working); returned once.", (TENANT, CLIENT), response="Secret", tags=("clients",)),
    Operation("list_keys", "get", R + "/keys", "Signing keys, newest first.", (TENANT,), response="KeyList", tags=("keys",)),
    Operation("rotate_key", "post", R + "/keys/rotate", "Publish a new signing key that signs after `publish_delay` seconds.", (TENANT,), body="KeyRotate", status=201, response="Key", tags=("keys",)),
    Operation(
        "list_events", "get", R + "/events", "Audit events, newest first, paged.",
        (
            TENANT,
            _param("type", "query", {"type": "string", "maxLength": 64}, "Event type, e.g. `recovery.completed`."),
            _param("user", "query", {"type": "string", "maxLength": 64}, "A user's `id`."),
            _param("since", "query", DATE_TIME, "From this time (inclusive)."),
            _param("until", "query", DATE_TIME, "Before this time."),
            OFFSET,
            LIMIT,
        ),
        response="EventList", tags=("audit",),
    ),
    Operation(
        "recovery_stats", "get", R + "/stats/recovery", "Self-recovery per day: requested, link opened, SMS sent, completed, abandoned.",
        (
            TENANT,
            _param("from", "query", {"type": "string", "format": "date"}, "First day (default: 29 days before `to`)."),
            _param("to", "query", {"type": "string", "format": "date"}, "Last day (default: today, UTC)."),
        ),
        response="RecoveryStats", tags=("audit",),
    ),
)

SECURITY_DESCRIPTION = """\
A bearer access token issued by this IdP (RFC 9068 JWT). Ask the token endpoint of a tenant
(`/realms/{tenant}/protocol/openid-connect/token`) for the scope `admin` with a client registered with
that scope: `client_credentials` for a service account, or the code flow with PKCE for a user.
Such tokens carry `aud: "idp-admin"`. Platform admins: users of the `master` tenant with the role
`platform-admin`, or `master` service accounts; they manage every tenant. Tenant admins: users of a
tenant with the role `tenant-admin`, or service accounts of that tenant; they manage that tenant only.
Roles are read from the account on each request; a user token with the `admin` scope whose account
holds neither role gets 403 on every operation, the tenant list included."""


def _operation(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": op.id, "summary": op.summary, "tags": list(op.tags), "security": [] if op.public else [{"bearer": []}]}
    if op.params:
        out["parameters"] = list(op.params)
    if op.body:
        out["requestBody"] = {"required": op.body not in ("FlowEnable", "KeyRotate"), "content": {"application/json": {"schema": ref(op.body)}}}
    responses: dict[str, Any] = {}
    if op.response:
        responses[str(op.status)] = {"description": "OK", "content": {"application/json": {"schema": ref(op.response)}}}
    else:
        responses[str(op.status)] = {"description": "Done (no content)."}
    for status, text in ERROR_STATUSES.items():
        if not op.public:
            responses[status] = {"description": text, "content": {"application/json": {"schema": ref("Error")}}}
    out["responses"] = responses
    return out


def document(public_url: str) -> dict[str, Any]:
    """The whole OpenAPI 3.1 document, with ``public_url`` as the server."""
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "idp admin API",
            "version": "1",
            "description": "Tenant administration: tenants and their configuration, flows, users, clients, signing keys, "
            "audit events and recovery statistics. Errors are `{\"error\": ..., \"field\": ...}`.",
        },
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "servers": [{"url": public_url}],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": SECURITY_DESCRIPTION}},
        },
    }


def operation(op_id: str) -> Operation:
    for op in OPERATIONS:
        if op.id == op_id:
            return op
    raise KeyError(op_id)
