"""What the grants and endpoints ask of the authorization server they are registered on.

:class:`idp.oidc.server.TenantAuthorizationServer` (one per tenant) is one. The grants and endpoints type
their ``server`` with this protocol instead of importing that class: the server imports them, never the
other way round (as Authlib's own grants only call their server's hooks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # pragma: no cover
    from idp.accounts.users import UserService
    from idp.oidc.keys import KeyService
    from idp.oidc.sessions import SessionService
    from idp.oidc.tokens import TokenService
    from idp.tenants.service import TenantView


class TenantServer(Protocol):
    """The tenant of the request, and the services the protocol endpoints call."""

    tenant: "TenantView"
    tokens: "TokenService"
    users: "UserService"
    keys: "KeyService"
    sessions: "SessionService"
