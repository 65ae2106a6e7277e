"""The service layer: one object per app that owns every service, built lazily.

Blueprints, the CLI, the admin API and flow steps all go through these
services, so each rule is enforced in one place. Nothing here knows HTTP.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from idp.flowengine.registry import FlowRegistry
from idp.security.secrets import SecretBox
from idp.settings import Settings
from idp.storage.database import Database
from idp.store import EphemeralStore, open_store

if TYPE_CHECKING:  # pragma: no cover
    from idp.accounts.factors import FactorService
    from idp.accounts.users import UserService
    from idp.audit import AuditLog
    from idp.flowengine.engine import FlowEngine
    from idp.messaging import Mailer, Texter
    from idp.oidc.clients import ClientService
    from idp.oidc.keys import KeyService
    from idp.oidc.sessions import SessionService
    from idp.security.throttle import Throttle
    from idp.tenants.service import TenantService


class Services:
    """Everything a request, a CLI command or a flow step may call."""

    def __init__(self, settings: Settings, registry: FlowRegistry | None = None) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self.secrets = SecretBox(settings.effective_secret_key)
        self.registry = registry if registry is not None else FlowRegistry()

    @cached_property
    def store(self) -> EphemeralStore:
        return open_store(self.settings)

    @cached_property
    def tenants(self) -> "TenantService":
        from idp.tenants.service import TenantService

        return TenantService(self)

    @cached_property
    def users(self) -> "UserService":
        from idp.accounts.users import UserService

        return UserService(self)

    @cached_property
    def factors(self) -> "FactorService":
        from idp.accounts.factors import FactorService

        return FactorService(self)

    @cached_property
    def audit(self) -> "AuditLog":
        from idp.audit import AuditLog

        return AuditLog(self)

    @cached_property
    def keys(self) -> "KeyService":
        from idp.oidc.keys import KeyService

        return KeyService(self)

    @cached_property
    def clients(self) -> "ClientService":
        from idp.oidc.clients import ClientService

        return ClientService(self)

    @cached_property
    def sessions(self) -> "SessionService":
        from idp.oidc.sessions import SessionService

        return SessionService(self)

    @cached_property
    def throttle(self) -> "Throttle":
        from idp.security.throttle import Throttle

        return Throttle(self)

    @cached_property
    def mailer(self) -> "Mailer":
        from idp.messaging import make_mailer

        return make_mailer(self.settings)

    @cached_property
    def texter(self) -> "Texter":
        from idp.messaging import make_texter

        return make_texter(self.settings)

    @cached_property
    def engine(self) -> "FlowEngine":
        from idp.flowengine.engine import FlowEngine

        return FlowEngine(self.registry, self)

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
        self.db.dispose()
