"""The composition root: every service of one app, each built here with exactly what it uses.

No service reaches back into this object: each takes its collaborators in its constructor
(``UserService(db, store, audit, mailer, locks)``...), so what a service depends on is read in
its signature, and a test can build one with fakes. Flow steps get the narrow
:class:`~idp.flowengine.contract.StepServices` port (:attr:`Services.steps`), never the database
or tenant administration. The HTTP layer, the CLI and the admin API hold the :class:`Services`.

Services are built lazily, once per app, and building one never connects: the ephemeral store
opens at its first call (:mod:`idp.store.deferred`) and the SES/SNS clients at the first message
(:mod:`idp.messaging.deferred`), so a worker starts while Redis is down and a CLI command that
lists tenants opens no Redis connection.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from idp.accounts.factors import FactorService
from idp.accounts.locks import AccountLocks
from idp.accounts.users import UserService
from idp.audit import AuditLog
from idp.flowengine.catalog import InstalledFlows
from idp.flowengine.contract import StepServices
from idp.flowengine.engine import FlowEngine
from idp.flowengine.registry import FlowRegistry
from idp.messaging import make_mailer, make_texter
from idp.messaging.deferred import DeferredMailer, DeferredTexter
from idp.oidc.backchannel import BackChannelLogout
from idp.oidc.backchannel_queue import DeliveryQueue
from idp.oidc.clients import ClientService
from idp.oidc.consent import ConsentService
from idp.oidc.keys import KeyService
from idp.oidc.rp_logout import RpLogout
from idp.oidc.server import Provider
from idp.oidc.session_clients import SessionClients
from idp.oidc.sessions import SessionService
from idp.oidc.tokens import TokenService
from idp.security.secrets import SecretBox
from idp.security.throttle import Throttle
from idp.settings import Settings
from idp.storage.database import Database
from idp.store import open_store
from idp.store.deferred import DeferredStore
from idp.tenants.logos import LogoService
from idp.tenants.revision import AdminRevision
from idp.tenants.service import TenantService

if TYPE_CHECKING:  # pragma: no cover
    from idp.tenants.service import TenantView


class Services:
    """Every service of one app, wired once (see the module's docstring)."""

    def __init__(self, settings: Settings, registry: FlowRegistry | None = None) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self.secrets = SecretBox(settings.effective_secret_key)
        self.registry = registry if registry is not None else FlowRegistry()

    @cached_property
    def store(self) -> DeferredStore:
        """Redis or the embedded store, connected at its first use (building the services never connects)."""
        return DeferredStore(lambda: open_store(self.settings))

    @cached_property
    def mailer(self) -> DeferredMailer:
        """The configured mailer (SES or the dev outbox), made at the first message."""
        return DeferredMailer(lambda: make_mailer(self.settings))

    @cached_property
    def texter(self) -> DeferredTexter:
        """The configured texter (SNS or the dev outbox), made at the first message."""
        return DeferredTexter(lambda: make_texter(self.settings))

    @cached_property
    def audit(self) -> AuditLog:
        return AuditLog(self.db)

    @cached_property
    def revision(self) -> AdminRevision:
        return AdminRevision(self.db, self.store)

    @cached_property
    def tenants(self) -> TenantService:
        flows = InstalledFlows(self.registry, lambda: self.steps)
        return TenantService(self.db, self.settings.public_url, self.revision, self.audit, self.keys, flows)

    @cached_property
    def logos(self) -> LogoService:
        return LogoService(self.db)

    @cached_property
    def locks(self) -> AccountLocks:
        return AccountLocks(self.store, self.secrets)

    @cached_property
    def users(self) -> UserService:
        # every revocation of a user ends there; the RPs of their sessions then hear of it (back-channel logout)
        return UserService(self.db, self.store, self.audit, self.mailer, self.locks, sessions_revoked=self._sessions_revoked)

    def _sessions_revoked(self, tenant: "TenantView", user_id: int) -> None:
        self.rp_logout.user_revoked(tenant, user_id)

    @cached_property
    def factors(self) -> FactorService:
        return FactorService(self.db, self.store, self.secrets, self.audit, self.mailer, self.texter, self.users)

    @cached_property
    def throttle(self) -> Throttle:
        return Throttle(self.store, self.secrets, self.audit)

    @cached_property
    def keys(self) -> KeyService:
        return KeyService(self.db, self.secrets, self.revision)

    @cached_property
    def clients(self) -> ClientService:
        return ClientService(self.db, self.secrets, self.revision)

    @cached_property
    def backchannel(self) -> BackChannelLogout:
        """Logout tokens POSTed to the RPs from a queue in the database, by a thread started at the first one."""
        return BackChannelLogout(DeliveryQueue(self.db), self.tenants, self.clients, self.keys)

    @cached_property
    def rp_logout(self) -> RpLogout:
        """Which RPs took part in each session, and telling them when it ends (front- and back-channel)."""
        return RpLogout(SessionClients(self.store), self.clients, self.backchannel)

    @cached_property
    def sessions(self) -> SessionService:
        return SessionService(self.store, self.secrets, self.users, self.rp_logout)

    @cached_property
    def tokens(self) -> TokenService:
        return TokenService(self.store, self.secrets, self.keys, self.clients)

    @cached_property
    def consents(self) -> ConsentService:
        """The scopes users granted third-party clients (the consent page, the admin API, the account console)."""
        return ConsentService(self.db, self.tokens, self.audit)

    @cached_property
    def oidc(self) -> Provider:
        """The protocol: one Authlib authorization server per tenant, and the discovery documents."""
        return Provider(self.users, self.keys, self.clients, self.sessions, self.tokens)

    @cached_property
    def steps(self) -> StepServices:
        """The flow steps' port."""
        return StepServices(
            users=self.users,
            factors=self.factors,
            throttle=self.throttle,
            audit=self.audit,
            locks=self.locks,
            mailer=self.mailer,
            texter=self.texter,
            store=self.store,
            secrets=self.secrets,
            settings=self.settings,
        )

    @cached_property
    def engine(self) -> FlowEngine:
        return FlowEngine(self.registry, self.store, self.steps)

    def close(self) -> None:
        if "backchannel" in self.__dict__:
            self.backchannel.stop()
        if "store" in self.__dict__:
            self.store.close()
        self.db.dispose()


def build_services(settings: Settings, registry: FlowRegistry | None = None) -> Services:
    """The services of one app (``create_app``, the CLI and the benchmark all build them here)."""
    return Services(settings, registry)
