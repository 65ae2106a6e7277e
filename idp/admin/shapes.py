"""One model per shape: what the admin API and the CLI take and give, as pydantic v2 models.

The admin API validates request bodies with these models (:func:`check`), answers with them, and
the OpenAPI document's component schemas are their generated JSON Schema (:func:`components`);
the CLI's ``--json`` output is the same models (plus ``tenant``, :mod:`idp.cli.views`). Nothing
else describes these shapes, and ``tests/admin/test_shapes.py`` fails if a hand-written schema
comes back.

The tenant configuration is the exception on purpose: :class:`idp.tenants.config.TenantConfig`
(frozen dataclasses, used by the flows and the console's forms) is its own single source, and
:mod:`idp.admin.openapi` generates its schema from it; here it is a ``$ref`` to that schema.

Conventions:

- Request bodies are strict (no coercion: ``"true"`` is not a boolean) and closed (an unknown
  member is refused); a member left out is not set (``model_dump(exclude_unset=True)``), and
  ``null`` is refused unless the field says ``| None``.
- Responses are closed too; every member is always present (``null`` when it has no value), but
  for the optional members of :class:`Address` and :class:`FlowStepBinding`, left out when unset.
- Times are RFC 3339 with an offset (:data:`Timestamp`). No shape carries a secret or a hash but
  :class:`ClientCreated` and :class:`Secret`, which return a new client secret once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, ValidationError, WithJsonSchema
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue

if TYPE_CHECKING:  # pragma: no cover
    from idp.storage.models import AuditEvent
    from idp.storage.models import Factor as FactorRow
    from idp.storage.models import User as UserRow
    from idp.tenants.service import TenantView

#: Where the component schemas live in the OpenAPI document.
REF_TEMPLATE = "#/components/schemas/{model}"


def ref(name: str) -> dict[str, Any]:
    return {"$ref": REF_TEMPLATE.format(model=name)}


def iso(value: datetime | None) -> str | None:
    """RFC 3339 with an offset; SQLite gives back naive UTC datetimes."""
    if value is None:
        return None
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).isoformat()


#: A time as RFC 3339 with an offset in JSON (``+00:00``, never naive); a datetime in Python (the CLI's text output).
Timestamp = Annotated[datetime, PlainSerializer(iso, return_type=str, when_used="json")]
#: The default of a body member that may be left out but not be null (its type refuses ``None``): it stays
#: unset, so ``model_dump(exclude_unset=True)`` leaves it out.
UNSET: Any = None
Roles = list[Literal["tenant-admin", "platform-admin"]]
Experience = Literal["v2", "legacy"]


def outer(name: str) -> WithJsonSchema:
    """The schema of a field is the component ``name``, which no model here generates (the configuration's)."""
    return WithJsonSchema({_OUTER: name})


_OUTER = "x-component"


def _outer_refs(value: Any) -> Any:
    """:func:`outer` placeholders as ``$ref`` (pydantic resolves every ``$ref`` it meets, so they are added last)."""
    if isinstance(value, dict):
        if set(value) == {_OUTER}:
            return ref(value[_OUTER])
        return {k: _outer_refs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_outer_refs(v) for v in value]
    return value


class Schema(GenerateJsonSchema):
    """JSON Schema 2020-12 as the document wants it: no per-field titles, no ``default: null``,
    and a nullable scalar as ``"type": ["string", "null"]``."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def default_schema(self, schema: Any) -> JsonSchemaValue:
        out = super().default_schema(schema)
        if "default" in out and out["default"] is None:
            del out["default"]
        return out

    def generate(self, schema: Any, mode: JsonSchemaMode = "validation") -> JsonSchemaValue:
        return _outer_refs(super().generate(schema, mode))

    def nullable_schema(self, schema: Any) -> JsonSchemaValue:
        inner = self.generate_inner(schema["schema"])
        if isinstance(inner.get("type"), str) and "$ref" not in inner:
            return {**inner, "type": [inner["type"], "null"]}
        return super().nullable_schema(schema)


class Shape(BaseModel):
    """A response: closed, every member present."""

    model_config = ConfigDict(extra="forbid")

    def dump(self) -> dict[str, Any]:
        """The JSON form (what the API answers and ``--json`` prints)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class Body(BaseModel):
    """A request body: closed and strict; members left out stay unset."""

    model_config = ConfigDict(extra="forbid", strict=True)


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's generated JSON Schema (``Model.model_json_schema``) with refs into ``#/components/schemas``;
    the schemas of the models it uses are left out (each is a component of its own)."""
    schema = model.model_json_schema(ref_template=REF_TEMPLATE, schema_generator=Schema)
    defs = schema.pop("$defs", {})
    if schema.get("$ref") == REF_TEMPLATE.format(model=model.__name__):  # a recursive model: its own definition
        schema = defs[model.__name__]
    return schema


# -- shared parts ----------------------------------------------------------------------


class Error(Shape):
    """Every refusal: one plain line, and the member at fault ("" when none is)."""

    error: str
    field: str


class OpenApiDocument(BaseModel):
    """This document (its own schema is OpenAPI 3.1's)."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    paths: dict[str, Any]


_LINE = Field(UNSET, max_length=400)


class Address(Body):
    """Postal address (OIDC Core 5.1.1), released with the scope `address`; members that are not set are left out."""

    formatted: str = _LINE
    street_address: str = _LINE
    locality: str = _LINE
    region: str = _LINE
    postal_code: str = _LINE
    country: str = _LINE


class FlowStepBinding(Body):
    """One binding of a flow: a step (or a sub-flow) with its requirement; members that are not set are left out."""

    id: str = Field(UNSET, description="Unique in the flow (default: the step's name); a sub-flow needs one.")
    step: str = Field(UNSET, description="The bound step (absent for a sub-flow).")
    requirement: Literal["REQUIRED", "ALTERNATIVE", "CONDITIONAL", "DISABLED"] = UNSET
    config: dict[str, Any] = Field(UNSET, description="The step's settings.")
    requires: list[str] = UNSET
    condition: str = Field(UNSET, description="A condition the flow declares (CONDITIONAL sub-flows).")
    bindings: list[FlowStepBinding] = UNSET
    max_failures: int = Field(UNSET, ge=0, le=100)


# -- tenants and flows -----------------------------------------------------------------

Slug = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]


class Tenant(Shape):
    """A tenant (realm) with its configuration."""

    slug: str
    display_name: str
    experience: Experience
    issuer: str
    revision: int
    config: Annotated[dict[str, Any], outer("TenantConfig")]

    @classmethod
    def of(cls, t: TenantView) -> Tenant:
        return cls(slug=t.slug, display_name=t.display_name, experience=t.experience, issuer=t.issuer, revision=t.revision, config=t.config.dump())  # type: ignore[arg-type]


class TenantList(Shape):
    realms: list[Tenant]


class TenantCreate(Body):
    slug: Slug
    display_name: str = Field("", max_length=200)
    experience: Experience = "v2"
    self_recovery: bool = Field(False, description="Enable account self-recovery (refused, nothing written, when incompatible).")
    config: Annotated[dict[str, Any], outer("TenantConfigPatch")] = UNSET


class Migration(Body):
    experience: Experience


class Flow(Shape):
    """A flow's state for a tenant, its compatibility (with every reason) and the bindings it runs."""

    name: str
    enabled: bool
    enabled_from: str | None
    live: bool
    compatible: bool
    reasons: list[str]
    bindings: list[FlowStepBinding] = Field(description="The bindings the flow runs for the tenant.")
    own_bindings: bool = Field(description="The tenant's own list (flows.<name>.bindings), not the flow's defaults.")


class FlowList(Shape):
    flows: list[Flow]

    @classmethod
    def of(cls, rows: Iterable[dict[str, Any]]) -> FlowList:
        return cls(flows=[Flow.model_validate(r) for r in rows])


class FlowEnable(Body):
    enabled_from: str = Field(UNSET, json_schema_extra={"format": "date-time"}, description="Activation date (with a time zone).")


# -- users and factors -----------------------------------------------------------------


class User(Shape):
    """A user: ``id`` is the OIDC subject; never the password hash."""

    id: str = Field(description="The user's OIDC subject (`sub`).")
    username: str
    email: str | None
    email_verified: bool
    phone: str | None = Field(description="E.164")
    given_name: str
    family_name: str
    locale: str | None
    address: Address | None = Field(description="Postal address (OIDC Core 5.1.1), released with the scope `address`; null: none.")
    enabled: bool
    roles: list[str]
    created_at: Timestamp | None

    @classmethod
    def of(cls, u: UserRow) -> User:
        return cls(
            id=u.sub,
            username=u.username,
            email=u.email,
            email_verified=bool(u.email_verified),
            phone=u.phone,
            given_name=u.given_name or "",
            family_name=u.family_name or "",
            locale=u.locale,
            address=Address.model_validate(dict(u.address), strict=False) if u.address else None,
            enabled=u.status == "active",
            roles=list(u.roles or []),
            created_at=u.created_at,
        )


class UserList(Shape):
    total: int
    offset: int
    limit: int
    users: list[User]


_NAME = Field(UNSET, max_length=200)


class UserUpdate(Body):
    """Profile fields and roles (the status changes through disable/enable); members left out keep their value."""

    email: str = Field(UNSET, max_length=320)
    phone: str = Field(UNSET, max_length=32)
    locale: Literal["en", "fr"] = UNSET
    given_name: str = _NAME
    family_name: str = _NAME
    email_verified: bool = UNSET
    address: Address | None = Field(UNSET, description="Postal address (OIDC Core 5.1.1); null removes it.")
    roles: Roles = UNSET


class UserCreate(UserUpdate):
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(UNSET, max_length=1024)


class Password(Body):
    password: str = Field(max_length=1024)


class PasskeyDetails(Shape):
    """What a passkey's credential tells about its authenticator (never a key)."""

    aaguid: str = Field(description="The authenticator model (all zeros when it did not say).")
    transports: list[str] = Field(description="How the browser reaches it: internal, usb, nfc, ble, hybrid...")
    sign_count: int = Field(description="The authenticator's counter at the last use (0: it keeps none).")
    backup_eligible: bool = Field(description="A synced (multi-device) passkey.")
    backed_up: bool = Field(description="Backed up (synced) at the last use.")

    @classmethod
    def of(cls, c: Any) -> PasskeyDetails:
        return cls(
            aaguid=c.aaguid or "", transports=list(c.transports or []), sign_count=int(c.sign_count or 0),
            backup_eligible=bool(c.backup_eligible), backed_up=bool(c.backed_up),
        )  # fmt: skip


class Factor(Shape):
    """A second factor and its lifecycle; never its secret (R-84)."""

    id: str
    type: str
    label: str
    phone: str | None = Field(description="The number of an SMS factor (null for others).")
    active: bool = Field(description="Not removed.")
    created_at: Timestamp | None
    created_by: str
    last_used_at: Timestamp | None
    removed_at: Timestamp | None
    removed_by: str
    passkey: PasskeyDetails | None = Field(None, description="A passkey's authenticator (null for other factors).")

    @classmethod
    def of(cls, f: FactorRow, passkeys: Mapping[str, Any] | None = None) -> Factor:
        """``passkeys``: credentials by factor id (:meth:`FactorService.passkey_details`), for a passkey's details."""
        credential = (passkeys or {}).get(f.id)
        return cls(
            passkey=PasskeyDetails.of(credential) if credential is not None else None,
            id=f.id,
            type=f.type,
            label=f.label or "",
            phone=f.phone or None,
            active=f.removed_at is None,
            created_at=f.created_at,
            created_by=f.created_by or "",
            last_used_at=f.last_used_at,
            removed_at=f.removed_at,
            removed_by=f.removed_by or "",
        )


class FactorList(Shape):
    factors: list[Factor]


class Revoked(Shape):
    revoked: int


# -- clients ---------------------------------------------------------------------------

_FRONT_URI = "Framed by the logout page to sign the user out of this RP; https (http on a loopback address only). Empty: none."
_FRONT_SID = "The frame's URL carries `iss` and `sid`."
_BACK_URI = "Where logout tokens are POSTed when a session of this RP ends; https (http on a loopback address only). Empty: none."
_BACK_SID = "Logout tokens carry `sid` (they always do here)."
_CONSENT = "A third-party client: users approve the scopes it asks for on a consent page, remembered per user (false: first-party, never asks)."
_PAR = "Only pushed authorization requests (PAR, RFC 9126) are accepted from this client; a plain one is refused."
_MODES = "The authorization response modes (`response_mode`) the client may ask for: `query` (the default) and `form_post` (R-64). Default: both."
ResponseMode = Literal["query", "form_post"]
_DPOP = "Every token request of this client must carry a DPoP proof (RFC 9449 §5.2): its access tokens are sender-constrained."


class Client(Shape):
    """A registered client; never its secret or the secret's hash."""

    client_id: str
    name: str
    public: bool
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    grant_types: list[str]
    scope: str
    token_endpoint_auth_method: str
    require_pkce: bool
    frontchannel_logout_uri: str = Field(description=_FRONT_URI)
    frontchannel_logout_session_required: bool = Field(description=_FRONT_SID)
    backchannel_logout_uri: str = Field(description=_BACK_URI)
    backchannel_logout_session_required: bool = Field(description=_BACK_SID)
    consent_required: bool = Field(description=_CONSENT)
    require_pushed_authorization_requests: bool = Field(description=_PAR)
    dpop_bound_access_tokens: bool = Field(description=_DPOP)
    response_modes: list[ResponseMode] = Field(description=_MODES)
    created_at: Timestamp | None

    @classmethod
    def of(cls, c: Any) -> Client:
        """From a :class:`idp.oidc.clients.ClientView`."""
        return cls(
            client_id=c.client_id,
            name=c.name,
            public=c.is_public,
            redirect_uris=list(c.redirect_uris),
            post_logout_redirect_uris=list(c.post_logout_redirect_uris),
            grant_types=list(c.grant_types),
            scope=c.scope,
            token_endpoint_auth_method=c.token_endpoint_auth_method,
            require_pkce=c.require_pkce,
            **c.logout_metadata(),
            consent_required=c.consent_required,
            **c.security_flags(),
            response_modes=list(c.response_modes),
            created_at=c.created_at,
        )


class ClientList(Shape):
    clients: list[Client]


class ClientUpdate(Body):
    """Members left out keep their value."""

    name: str = _NAME
    redirect_uris: list[str] = UNSET
    post_logout_redirect_uris: list[str] = UNSET
    grant_types: list[Literal["authorization_code", "refresh_token", "client_credentials"]] = UNSET
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post", "none"] = UNSET
    require_pkce: bool = UNSET
    scope: str = Field(UNSET, description="Space-separated: openid profile email address phone offline_access, and `admin` for admin clients.")
    frontchannel_logout_uri: str = Field(UNSET, max_length=2000, description=_FRONT_URI)
    frontchannel_logout_session_required: bool = Field(UNSET, description=_FRONT_SID)
    backchannel_logout_uri: str = Field(UNSET, max_length=2000, description=_BACK_URI)
    backchannel_logout_session_required: bool = Field(UNSET, description=_BACK_SID)
    consent_required: bool = Field(UNSET, description=_CONSENT)
    require_pushed_authorization_requests: bool = Field(UNSET, description=_PAR)
    dpop_bound_access_tokens: bool = Field(UNSET, description=_DPOP)
    response_modes: list[ResponseMode] = Field(UNSET, min_length=1, description=_MODES)


class ClientCreate(ClientUpdate):
    client_id: str = Field(min_length=1, max_length=128)
    public: bool = False


class ClientCreated(Shape):
    client: Client
    client_secret: str | None = Field(description="Shown once; null for a public client.")


class Secret(Shape):
    client_secret: str


# -- consents --------------------------------------------------------------------------


class Consent(Shape):
    """The scopes a user granted a third-party client on the consent page."""

    client_id: str
    client_name: str
    scopes: list[str]
    granted_at: Timestamp | None
    updated_at: Timestamp | None

    @classmethod
    def of(cls, c: Any) -> Consent:
        """From a :class:`idp.oidc.consent.ConsentView`."""
        return cls(client_id=c.client_id, client_name=c.client_name, scopes=list(c.scopes), granted_at=c.granted_at, updated_at=c.updated_at)


class ConsentList(Shape):
    consents: list[Consent]


# -- keys ------------------------------------------------------------------------------


class Key(Shape):
    """A signing key: public facts and its status."""

    kid: str
    alg: str
    status: Literal["pending", "active", "retired", "expired"]
    created_at: Timestamp | None
    active_from: Timestamp | None
    retired_at: Timestamp | None
    unpublish_at: Timestamp | None

    @classmethod
    def of(cls, k: Any) -> Key:
        """From a :class:`idp.oidc.keys.KeyInfo`."""
        return cls(
            kid=k.kid, alg=k.alg, status=k.status(), created_at=k.created_at, active_from=k.active_from, retired_at=k.retired_at, unpublish_at=k.unpublish_at
        )


class KeyList(Shape):
    keys: list[Key]


class KeyRotate(Body):
    publish_delay: int = Field(UNSET, ge=0, le=86400, description="Seconds before the new key signs.")


# -- audit -----------------------------------------------------------------------------


class Event(Shape):
    id: int
    type: str
    time: Timestamp | None
    user: str | None = Field(description="The user's `id` (OIDC subject).")
    actor: str
    client_ip: str
    details: dict[str, Any]

    @classmethod
    def of(cls, e: AuditEvent, subs: dict[int, str]) -> Event:
        return cls(
            id=e.id,
            type=e.type,
            time=e.created_at,
            user=subs.get(e.user_id) if e.user_id is not None else None,
            actor=e.actor or "",
            client_ip=e.client_ip or "",
            details=dict(e.details or {}),
        )


class EventList(Shape):
    offset: int
    limit: int
    events: list[Event]


class RecoveryDay(Shape):
    date: date
    requested: int
    link_opened: int
    sms_sent: int
    completed: int
    abandoned: int


class RecoveryStats(Shape):
    from_: date = Field(alias="from")
    to: date
    days: list[RecoveryDay]


#: Every modelled shape, by its name in the OpenAPI document.
MODELS: dict[str, type[BaseModel]] = {
    m.__name__: m
    for m in (
        Error, OpenApiDocument, Address, FlowStepBinding,
        Tenant, TenantList, TenantCreate, Migration, Flow, FlowList, FlowEnable,
        User, UserList, UserCreate, UserUpdate, Password, PasskeyDetails, Factor, FactorList, Revoked,
        Client, ClientList, ClientCreate, ClientUpdate, ClientCreated, Secret, Consent, ConsentList,
        Key, KeyList, KeyRotate, Event, EventList, RecoveryDay, RecoveryStats,
    )
}  # fmt: skip


def components() -> dict[str, Any]:
    """The component schemas of every modelled shape, generated."""
    return {name: json_schema(model) for name, model in MODELS.items()}


# -- request bodies --------------------------------------------------------------------


class BodyError(ValueError):
    """A body member is invalid: ``field`` names it (``redirect_uris.0``, ``address.planet``)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def check(name: str, data: dict[str, Any], service_checked: tuple[str, ...] = ()) -> dict[str, Any]:
    """``data`` validated by the body model ``name``: the members given (none added, none coerced).

    Members named in ``service_checked`` are left to the service, which names the field its own way.
    Raises :class:`BodyError` for the first invalid member (in member order).
    """
    try:
        return MODELS[name].model_validate(data).model_dump(exclude_unset=True, by_alias=True)
    except ValidationError as exc:
        errors = [e for e in exc.errors(include_url=False) if not (e["loc"] and e["loc"][0] in service_checked)]
        if not errors:
            return data
        first = min(errors, key=lambda e: [str(p) for p in e["loc"]])
        field = ".".join(str(p) for p in first["loc"])
        raise BodyError(f"{field or 'body'}: {_message(first)}", field) from None


def _message(error: Any) -> str:
    if error["type"] == "missing":
        return "is required"
    if error["type"] == "extra_forbidden":
        return "is not a known member"
    return str(error["msg"][:1].lower() + error["msg"][1:])
