"""Fixtures of the second-factor tests: services on each ephemeral store backend, tenants, users, the outbox.

``fx`` is parametrised over the embedded SQLite store and real Redis (127.0.0.1:6379), so every
guard that depends on an atomic store operation is proved on both. Messages go to the dev outbox
(``sms_backend="outbox"``) and are read back from its files.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import REDIS_URL
from support.messages import code_in

from idp.messaging import read_outbox
from idp.services import Services

PASSWORD = "correct horse battery staple"
PHONE = "+33612345678"


@dataclass
class Fx:
    """One service layer, one tenant on it, and helpers."""

    services: Services
    tenant: Any
    backend: str

    def user(self, phone: str | None = None, email: bool = True, locale: str | None = None) -> Any:
        name = "u" + secrets.token_hex(4)
        return self.services.users.create(
            self.tenant, name, PASSWORD, email=f"{name}@example.org" if email else None, phone=phone, locale=locale
        )

    def configure(self, patch: dict[str, Any]) -> None:
        self.tenant = self.services.tenants.update_config(self.tenant.slug, patch)

    def outbox(self, to: str | None = None, kind: str | None = None) -> list[Any]:
        return read_outbox(self.services.settings.outbox_path, to=to, kind=kind)

    def last_sms_code(self, to: str) -> str:
        messages = self.outbox(to=to, kind="sms")
        assert messages, f"no SMS to {to} in the outbox"
        return code_in(messages[-1].text)

    def audit_types(self, user: Any) -> list[str]:
        return [e.type for e in self.services.audit.query(self.tenant.id, user_id=user.id, limit=1000)]


def _make_fx(make_services: Callable[..., Services], tenant_factory: Callable[..., Any], backend: str, config: dict[str, Any] | None = None) -> Fx:
    overrides: dict[str, Any] = {"sms_backend": "outbox", "mail_backend": "outbox"}
    if backend == "redis":
        overrides["redis_url"] = REDIS_URL
    services = make_services(**overrides)
    tenant = tenant_factory(services, display_name="Acme Corp", config=config or {})
    return Fx(services=services, tenant=tenant, backend=backend)


@pytest.fixture(params=["embedded", "redis"])
def fx(request: pytest.FixtureRequest, make_services: Callable[..., Services], tenant_factory: Callable[..., Any]) -> Fx:
    return _make_fx(make_services, tenant_factory, request.param)


@pytest.fixture
def fx_embedded(make_services: Callable[..., Services], tenant_factory: Callable[..., Any]) -> Fx:
    return _make_fx(make_services, tenant_factory, "embedded")


@pytest.fixture
def make_fx(make_services: Callable[..., Services], tenant_factory: Callable[..., Any]) -> Callable[..., Fx]:
    def make(backend: str = "embedded", config: dict[str, Any] | None = None) -> Fx:
        return _make_fx(make_services, tenant_factory, backend, config)

    return make
