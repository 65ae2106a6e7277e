"""What factor operations refuse and return: their errors, result records and the small helpers they share (R-14)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from idp.storage.models import Factor

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import Session

    from idp.audit import AuditLog
    from idp.request_info import RequestInfo
    from idp.security.secrets import SecretBox
    from idp.storage.database import Database
    from idp.storage.models import User
    from idp.store import EphemeralStore
    from idp.tenants.service import TenantView


class FactorParts:
    """What the parts of :class:`~idp.accounts.factors.FactorService` (TOTP, SMS codes, recovery codes, passkeys) share:
    the service's collaborators and the record helpers it defines, declared once for the type checker."""

    db: Database
    store: EphemeralStore
    secrets: SecretBox
    audit: AuditLog

    if TYPE_CHECKING:  # pragma: no cover - defined by FactorService
        def _audit(
            self, s: Session | None, tenant: TenantView, user: User, type: str, request: RequestInfo | None, actor: str = "", **details: Any
        ) -> None: ...
        def _remove_all(
            self, s: Session, tenant: TenantView, user: User, actor: str, request: RequestInfo | None, reason: str, type: str | None = None
        ) -> list[Factor]: ...
        def _rows(self, tenant: TenantView, user: User, type: str, known: UserFactors | None) -> list[Factor]: ...
        def _drop_replay_state(self, tenant: TenantView, removed: list[Factor]) -> None: ...
        def sms_number(self, tenant: TenantView, user: User, known: UserFactors | None = None) -> str | None: ...
        def phone_on_file(self, tenant: TenantView, user: User) -> str | None: ...
        def notify(
            self, tenant: TenantView, user: User, template: str, request: RequestInfo | None = None, locale: str = "", **context: Any
        ) -> bool: ...


class FactorError(ValueError):
    """A factor operation was refused; ``code`` is a stable message id the steps show, ``str()`` one plain line."""

    def __init__(self, code: str, message: str, status: int = 400, **params: Any) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.params = params


class SmsError(FactorError):
    """An SMS code could not be sent. Codes:

    ``no_phone``, ``sms_not_allowed`` (the tenant does not allow SMS), ``sms_country_not_allowed``,
    ``sms_cooldown`` (``params["retry_after"]``), ``sms_cap_reached``, ``sms_opted_out``,
    ``sms_refused`` (the provider refused the message), ``sms_delivery_failed`` (transient).
    """


# -- results ---------------------------------------------------------------------


@dataclass(frozen=True)
class PendingTotp:
    """A TOTP secret offered for enrolment; nothing is saved until a first code confirms it."""

    secret: str
    uri: str
    issuer: str
    label: str

    @property
    def grouped_secret(self) -> str:
        """The key in groups of 4 for typing by hand (``ABCD EFGH ...``)."""
        return group_secret(self.secret)


@dataclass(frozen=True)
class UserFactors:
    """One user's active factors as read at one moment (oldest first), for several decisions in one request."""

    user_id: int
    rows: tuple[Factor, ...]

    def of_type(self, type: str) -> list[Factor]:
        return [f for f in self.rows if f.type == type]


@dataclass(frozen=True)
class TotpCheck:
    """The result of :meth:`FactorService.verify_totp`; true when the code was accepted."""

    ok: bool
    #: ``ok``, ``invalid`` (no factor's code), ``replay`` (a code already used) or ``no_factor``.
    reason: str
    factor_id: str = ""

    def __bool__(self) -> bool:
        return self.ok


@dataclass(frozen=True)
class SmsSent:
    """A code was sent."""

    masked_number: str
    expires_in: int
    resend_in: int


@dataclass(frozen=True)
class SmsCheck:
    """The result of :meth:`FactorService.verify_sms_code`; true when the code was accepted."""

    ok: bool
    #: ``ok``, ``invalid`` (wrong code, tries left), ``exhausted`` (that was the last try: the code is void),
    #: ``expired`` (no live code for this flow: expired, used, voided or never sent).
    reason: str
    attempts_left: int = 0

    def __bool__(self) -> bool:
        return self.ok


def group_secret(secret: str) -> str:
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def normalise_code(code: str) -> str:
    """Digits of a typed code (spaces and dashes dropped)."""
    return "".join(c for c in (code or "") if c not in " -\u00a0\t")


def mask_phone(number: str) -> str:
    try:
        from idp.messaging.masking import mask_phone as _mask

        return _mask(number)
    except ImportError:  # pragma: no cover - messaging ships with the package
        return "+" + number[1:3] + "*" * max(0, len(number) - 5) + number[-2:]


def _now() -> datetime:
    return datetime.now(UTC)


def random_uuid() -> str:
    import uuid

    return str(uuid.uuid4())
