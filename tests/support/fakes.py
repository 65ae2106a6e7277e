"""In-memory fakes of the step port (``ctx.services``): what a flow step may call, and nothing else.

A step relies on duck typing only: ``users``, ``factors``, ``throttle``, ``audit``, ``locks``,
``mailer``, ``texter``, ``store``, ``secrets`` and ``settings``. Every fake records the calls a test asserts
on; the throttle, the factors' checks and the SMS sender answer what the test scripts. ``secrets`` is the
real :class:`idp.security.secrets.SecretBox`. Build a :class:`StepContext` with :func:`step_context`.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pyotp

from idp.accounts.factor_results import FactorError, PendingTotp, SmsCheck, SmsError, SmsSent, TotpCheck, UserFactors
from idp.accounts.users import UserError
from idp.flowengine.contract import FlowState, RequestInfo, StepContext
from idp.messaging import TEMPLATES
from idp.security.passwords import PasswordPolicy
from idp.security.secrets import SecretBox
from idp.tenants.config import TenantConfig
from idp.tenants.service import TenantView

IP = "203.0.113.7"
AGENT = "pytest-agent"


def tenant_view(patch: dict[str, Any] | None = None, slug: str = "acme", tenant_id: int = 1) -> TenantView:
    """A tenant snapshot with the default :class:`TenantConfig` (``patch`` deep-merged over it)."""
    config = TenantConfig().merged(patch) if patch else TenantConfig()
    return TenantView(
        id=tenant_id, slug=slug, display_name="Acme", experience="v2", config=config, revision=1, public_url="https://idp.example.org"
    )


@dataclass
class FakeUser:
    id: int
    username: str
    email: str | None = None
    status: str = "active"
    locale: str | None = None


class FakeUsers:
    """``find_by_login`` (username or email, any case), ``get``, ``verify_password``, ``policy``, ``set_password``."""

    def __init__(self) -> None:
        self.rows: dict[int, FakeUser] = {}
        self.passwords: dict[int, str] = {}
        self.verified: list[tuple[int | None, str]] = []
        self.passwords_set: list[tuple[int, str]] = []
        self.min_length = 12
        self._ids = itertools.count(101)

    def add(self, username: str, password: str, email: str | None = None, status: str = "active", locale: str | None = None) -> FakeUser:
        user = FakeUser(id=next(self._ids), username=username, email=email, status=status, locale=locale)
        self.rows[user.id] = user
        self.passwords[user.id] = password
        return user

    def find_by_login(self, tenant: Any, login: str) -> FakeUser | None:
        wanted = login.strip().lower()
        for user in self.rows.values():
            if wanted in (user.username.lower(), (user.email or "").lower()):
                return user
        return None

    def get(self, tenant: Any, user_id: int) -> FakeUser | None:
        return self.rows.get(user_id)

    def verify_password(self, user: FakeUser | None, password: str) -> bool:
        self.verified.append((user.id if user is not None else None, password))
        return user is not None and user.status == "active" and self.passwords.get(user.id) == password

    def policy(self, tenant: Any) -> PasswordPolicy:
        return PasswordPolicy(min_length=self.min_length, max_length=1024)

    def set_password(self, tenant: Any, user: FakeUser, password: str) -> None:
        if len(password) < self.min_length:
            raise UserError("too short", field="password", code="too_short")
        self.passwords[user.id] = password
        self.passwords_set.append((user.id, password))


class FakeFactors:
    """The factor service as steps see it. TOTP: any code in ``totp_codes[user_id]`` is right, once (then a replay).
    SMS: ``send_error`` (an :class:`SmsError` code) refuses the next sends; ``sms_checks`` scripts the next checks."""

    def __init__(self, audit: AuditLog, secrets: SecretBox) -> None:
        self.audit = audit
        self.secrets = secrets
        self.totp_codes: dict[int, set[str]] = {}
        self.used_codes: set[tuple[int, str]] = set()
        self.sms_numbers: dict[int, str] = {}
        self.phones_on_file: dict[int, str] = {}
        self.active_rows: dict[int, list[str]] = {}
        self.send_error: str | None = None
        self.send_error_params: dict[str, Any] = {}
        self.sms_sent: list[dict[str, Any]] = []
        self.sms_checks: list[SmsCheck] = []
        self.sms_verified: list[tuple[int, str, str]] = []
        self.totp_verified: list[dict[str, Any]] = []
        self.notices: list[tuple[int, str, dict[str, Any]]] = []
        self.enrolled: list[dict[str, Any]] = []
        #: Recovery codes: the unused codes of each user's set.
        self.recovery_codes: dict[int, set[str]] = {}
        #: Users who have a passkey.
        self.passkey_users: set[int] = set()

    # -- reads
    def of_user(self, tenant: Any, user: Any) -> UserFactors:
        return UserFactors(user_id=user.id, rows=())

    def has_totp(self, tenant: Any, user: Any, known: Any = None) -> bool:
        return user.id in self.totp_codes

    def sms_number(self, tenant: Any, user: Any, known: Any = None) -> str | None:
        return self.sms_numbers.get(user.id)

    def phone_on_file(self, tenant: Any, user: Any) -> str | None:
        return self.phones_on_file.get(user.id)

    def active(self, tenant: Any, user: Any) -> list[str]:
        return list(self.active_rows.get(user.id, []))

    # -- passkeys (the ceremonies themselves are tested with a real browser: tests/passkeys)
    def has_passkeys(self, tenant: Any, user: Any, known: Any = None) -> bool:
        return user.id in self.passkey_users

    def begin_passkey_authentication(self, tenant: Any, user: Any = None) -> Any:
        from idp.accounts.passkeys import PasskeyOptions

        return PasskeyOptions("fake-ceremony", '{"challenge": "AAAA", "rpId": "localhost"}')

    def begin_passkey_registration(self, tenant: Any, user: Any) -> Any:
        from idp.accounts.passkeys import PasskeyOptions

        return PasskeyOptions("fake-ceremony", '{"challenge": "AAAA", "rp": {"id": "localhost"}}')

    # -- recovery codes
    def has_recovery_codes(self, tenant: Any, user: Any, known: Any = None) -> bool:
        return bool(self.recovery_codes.get(user.id))

    def recovery_codes_left(self, tenant: Any, user: Any) -> int:
        return len(self.recovery_codes.get(user.id, ()))

    def use_recovery_code(self, tenant: Any, user: Any, code: str, request: Any = None) -> Any:
        from idp.accounts.recovery_codes import RecoveryCodeCheck

        left = self.recovery_codes.get(user.id, set())
        if code not in left:
            return RecoveryCodeCheck(False, len(left))
        left.discard(code)
        return RecoveryCodeCheck(True, len(left))

    def generate_recovery_codes(self, tenant: Any, user: Any, actor: str = "", request: Any = None) -> list[str]:
        codes = [f"code-{user.id}-{i:02d}" for i in range(10)]
        self.recovery_codes[user.id] = set(codes)
        return codes

    # -- TOTP
    def verify_totp(self, tenant: Any, user: Any, code: str, request: Any = None, known: Any = None, ok_event: str = "", ok_details: dict[str, Any] | None = None) -> TotpCheck:
        self.totp_verified.append({"user_id": user.id, "code": code, "ok_event": ok_event, "ok_details": ok_details})
        if code not in self.totp_codes.get(user.id, set()):
            return TotpCheck(ok=False, reason="invalid")
        if (user.id, code) in self.used_codes:
            return TotpCheck(ok=False, reason="replay")
        self.used_codes.add((user.id, code))
        if ok_event:  # the real service writes the success event with the factor's last use
            self.audit.record(tenant.id, ok_event, user_id=user.id, **(ok_details or {}))
        return TotpCheck(ok=True, reason="ok", factor_id="f1")

    def begin_totp_enrolment(self, tenant: Any, user: Any) -> PendingTotp:
        secret = pyotp.random_base32()
        return PendingTotp(secret=secret, uri=self.otpauth_uri(tenant, user, secret), issuer=tenant.brand_name, label=user.username)

    def seal_pending(self, secret: str) -> str:
        return self.secrets.encrypt(secret.encode(), "pending-totp")

    def open_pending(self, sealed: str) -> str:
        return self.secrets.decrypt(sealed, "pending-totp").decode()

    def otpauth_uri(self, tenant: Any, user: Any, secret: str) -> str:
        return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=tenant.brand_name)

    def confirm_totp_enrolment(self, tenant: Any, user: Any, secret: str, code: str, **kwargs: Any) -> None:
        if code != pyotp.TOTP(secret).now():
            raise FactorError("invalid_code", "wrong code")
        self.enrolled.append({"user_id": user.id, "secret": secret, **kwargs})

    # -- SMS
    def send_sms_code(self, tenant: Any, user: Any, flow_id: str, to: str, locale: str = "", sender_id: str = "", request: Any = None) -> SmsSent:
        if self.send_error:
            raise SmsError(self.send_error, "refused", **self.send_error_params)
        self.sms_sent.append({"user_id": user.id, "flow_id": flow_id, "to": to, "locale": locale, "sender_id": sender_id})
        return SmsSent(masked_number=to[:3] + "*" * (len(to) - 5) + to[-2:], expires_in=300, resend_in=30)

    def verify_sms_code(self, tenant: Any, user: Any, flow_id: str, code: str) -> SmsCheck:
        self.sms_verified.append((user.id, flow_id, code))
        return self.sms_checks.pop(0) if self.sms_checks else SmsCheck(ok=False, reason="expired")

    def notify(self, tenant: Any, user: Any, template: str, request: Any = None, messages: Any = None, **params: Any) -> None:
        """Records (user id, template, params); the template must exist where the caller says it is."""
        specs = messages.specs if messages is not None else TEMPLATES
        assert template in specs, f"no message template {template!r} among {sorted(specs)}"
        self.notices.append((user.id, template, params))


class FakeThrottle:
    """Answers ``wait`` to every ``check``; records every call as (method, who, kind)."""

    def __init__(self) -> None:
        self.wait = 0
        self.calls: list[tuple[str, Any, str]] = []

    def check(self, tenant: Any, who: Any, kind: str, ip: str) -> int:
        self.calls.append(("check", who, kind))
        return self.wait

    def record_failure(self, tenant: Any, who: Any, kind: str, ip: str, user_agent: str = "") -> None:
        self.calls.append(("record_failure", who, kind))

    def record_success(self, tenant: Any, who: Any, kind: str, ip: str) -> None:
        self.calls.append(("record_success", who, kind))

    def release(self, tenant: Any, who: Any, kind: str, ip: str) -> None:
        self.calls.append(("release", who, kind))

    def methods(self) -> list[str]:
        return [c[0] for c in self.calls]


class AuditLog:
    """``record(tenant_id, event, **details)`` into :attr:`events`."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def record(self, tenant_id: int, event: str, **details: Any) -> None:
        self.events.append({"tenant_id": tenant_id, "type": event, **details})

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]


class FakeStore:
    """The ephemeral store's key/value calls the steps reach: ``upsert``, ``find``, ``take``, ``destroy``, ``incr``."""

    def __init__(self) -> None:
        self.data: dict[str, tuple[Any, float]] = {}

    def _live(self, key: str) -> Any:
        item = self.data.get(key)
        if item is None or item[1] < time.time():
            self.data.pop(key, None)
            return None
        return item[0]

    def upsert(self, key: str, value: Any, ttl: float, grant_id: str | None = None) -> None:
        self.data[key] = (value, time.time() + ttl)

    def find(self, key: str) -> Any:
        return self._live(key)

    def take(self, key: str) -> Any:
        value = self._live(key)
        self.data.pop(key, None)
        return value

    def destroy(self, key: str) -> None:
        self.data.pop(key, None)

    def incr(self, key: str, ttl: float) -> int:
        value = int(self._live(key) or 0) + 1
        self.data[key] = (value, time.time() + ttl)
        return value


class Outbox:
    """A mailer or texter: ``send(message)`` into :attr:`sent`."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def send(self, message: Any) -> None:
        self.sent.append(message)


@dataclass
class FakeServices:
    """The step port, all in memory."""

    audit: AuditLog = field(default_factory=AuditLog)
    secrets: SecretBox = field(default_factory=lambda: SecretBox("unit-test-secret-" + "x" * 32))
    users: FakeUsers = field(default_factory=FakeUsers)
    throttle: FakeThrottle = field(default_factory=FakeThrottle)
    store: FakeStore = field(default_factory=FakeStore)
    mailer: Outbox = field(default_factory=Outbox)
    texter: Outbox = field(default_factory=Outbox)
    locks: Any = None
    settings: Any = field(default_factory=lambda: SimpleNamespace(mail_backend="outbox", sms_backend="outbox", is_production=False))
    factors: FakeFactors = field(init=False)

    def __post_init__(self) -> None:
        self.factors = FakeFactors(self.audit, self.secrets)


def step_context(
    services: FakeServices,
    tenant: TenantView | None = None,
    user: FakeUser | None = None,
    proofs: tuple[str, ...] = (),
    config: Any = None,
    flow_config: Any = None,
    auth_request: dict[str, str] | None = None,
    state: FlowState | None = None,
    flow: str = "browser-login",
    locale: str = "",
    binding: str = "",
) -> StepContext:
    """A :class:`StepContext` on ``services`` whose run has ``user`` (None: not identified yet) and ``proofs``,
    running the binding ``binding`` (the key of the step's data in the state: the step's name, as bound by default)."""
    if state is None:
        state = FlowState(id="run-1", tenant=(tenant.slug if tenant else "acme"), flow=flow, browser="b" * 64)
        state.user_id = user.id if user is not None else None
        state.proofs = list(proofs)
        state.auth_request = auth_request
        state.locale = locale
    return StepContext(
        tenant=tenant or tenant_view(),
        state=state,
        services=services,  # type: ignore[arg-type]
        request=RequestInfo(client_ip=IP, user_agent=AGENT, locale="en"),
        config=config,
        flow_config=flow_config,
        binding=binding,
    )
