"""What the CLI prints about a record: the admin API's own models (:mod:`idp.admin.shapes`), with ``tenant``.

``--json`` prints a shape exactly as the admin API answers it, plus ``tenant`` (the slug) first where
a command names a tenant; the text output prints the same members. Never a secret or a hash (a new
client secret, shown once, is the one ``extra``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from idp.admin import shapes

if TYPE_CHECKING:  # pragma: no cover
    from idp.oidc.clients import ClientView
    from idp.oidc.keys import KeyInfo
    from idp.storage.models import Factor, User
    from idp.tenants.service import TenantView


@dataclass(frozen=True)
class Shown:
    """A shape as a command prints it: ``tenant`` first (when given), the model's members, then ``extra``."""

    shape: shapes.Shape
    tenant: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: Members the text output leaves out (``--json`` has them all).
    text_hides: tuple[str, ...] = ()

    def plain(self, as_json: bool) -> dict[str, Any]:
        """JSON: the model's JSON form. Text: the same members as Python values (times stay datetimes)."""
        if as_json:
            members = self.shape.dump()
        else:
            members = {k: v for k, v in self.shape.model_dump(by_alias=True, exclude_unset=True).items() if k not in self.text_hides}
        return {**({"tenant": self.tenant} if self.tenant else {}), **members, **self.extra}


def discovery_url(tenant: TenantView) -> str:
    return f"{tenant.issuer}/.well-known/openid-configuration"


def tenant_view(tenant: TenantView, config: bool = False) -> Shown:
    """The admin API's ``Tenant`` (with its configuration); the text output shows the configuration only with ``config``."""
    return Shown(shapes.Tenant.of(tenant), text_hides=() if config else ("config",))


def client_view(tenant: TenantView, client: ClientView, **extra: Any) -> Shown:
    """A registered client, never its secret or the secret's hash (``extra``: a new secret, shown once)."""
    return Shown(shapes.Client.of(client), tenant.slug, extra)


def consent_view(tenant: TenantView, consent: Any) -> Shown:
    """A user's consent to a third-party client (an :class:`idp.oidc.consent.ConsentView`)."""
    return Shown(shapes.Consent.of(consent), tenant.slug)


def user_view(tenant: TenantView, user: User) -> Shown:
    """The admin API's ``User``: ``id`` is the OIDC subject; never the password hash."""
    return Shown(shapes.User.of(user), tenant.slug)


def user_list(tenant: TenantView, users: list[User], total: int, offset: int, limit: int) -> Shown:
    return Shown(shapes.UserList(total=total, offset=offset, limit=limit, users=[shapes.User.of(u) for u in users]), tenant.slug)


def factor_view(tenant: TenantView, factor: Factor, passkeys: Mapping[str, Any] | None = None, **extra: Any) -> Shown:
    """A second factor (operators see an SMS factor's number, a passkey's authenticator; never a secret, R-84)."""
    return Shown(shapes.Factor.of(factor, passkeys), tenant.slug, extra)


def key_view(tenant: TenantView, key: KeyInfo) -> Shown:
    """A signing key: public facts and its status (``pending``, ``active``, ``retired`` or ``expired``)."""
    return Shown(shapes.Key.of(key), tenant.slug)


def flow_view(tenant: TenantView, row: Mapping[str, Any]) -> Shown:
    """A flow's state for the tenant, as the admin API's ``Flow`` (a row of ``TenantService.flow_status``)."""
    return Shown(shapes.Flow.model_validate(dict(row)), tenant.slug, text_hides=("bindings",))


def plain(data: Any, as_json: bool) -> Any:
    """``data`` with every :class:`Shown` and model made plain (for ``emit``)."""
    if isinstance(data, Shown):
        return data.plain(as_json)
    if isinstance(data, shapes.Shape):
        return Shown(data).plain(as_json)
    if isinstance(data, Mapping):
        return {k: plain(v, as_json) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [plain(v, as_json) for v in data]
    return data
