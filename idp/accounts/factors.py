"""Second factors: TOTP authenticators and SMS codes, with their whole lifecycle (R-14).

- **TOTP** (pyotp): SHA1, 6 digits, 30 s, ``valid_window=1``, 160-bit secrets from
  ``pyotp.random_base32()`` (R-79 to R-81), encrypted at rest (R-84). A step is
  accepted at most once per credential: the last accepted step is advanced
  atomically in the ephemeral store (R-82), so of two parallel requests with the
  same code exactly one succeeds; a replay is logged, refused and the holder is
  told (R-36).
- **Enrolment** is two calls: :meth:`FactorService.begin_totp_enrolment` makes a
  pending secret and its ``otpauth://`` URI and saves nothing;
  :meth:`FactorService.confirm_totp_enrolment` saves the factor only once a first
  code from it is valid, and with ``replace_existing=True`` removes every earlier
  factor in the same database transaction (R-85, R-98).
- **SMS codes**: 6 digits from ``secrets`` (R-11), stored as a keyed hash in the
  ephemeral store, bound to the flow that asked, lifetime ``sms.code_ttl``, single
  use, voided after ``sms.max_attempts`` wrong tries, voided by a resend, with a
  resend cool-down (R-35, R-53). Sent only to a verified number (R-10, R-37),
  within per-number, per-account and per-tenant daily caps and the tenant's
  allowed country codes (R-89). A failed send voids the code it carried.

Phone numbers: the user's *number on file* (``users.phone`` with
``phone_verified``) is contact data; an **SMS factor** (a row of type ``sms``,
made by :meth:`FactorService.set_phone`) is what makes SMS usable as a login
second factor. The recovery flow sends its code to the number on file
(:meth:`FactorService.phone_on_file`).

Removed factors keep their row with ``removed_at`` and ``removed_by`` (R-14).

The service is split by job: :mod:`idp.accounts.totp` (TOTP), :mod:`idp.accounts.sms_codes`
(SMS codes), :mod:`idp.accounts.recovery_codes`, :mod:`idp.accounts.passkeys` (WebAuthn),
:mod:`idp.accounts.factor_results` (errors and results, re-exported here).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select

from idp.storage.models import Factor, User

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import Session

    from idp.accounts.users import UserService
    from idp.audit import AuditLog
    from idp.messaging import Mailer, MessageTemplates, Texter
    from idp.request_info import RequestInfo
    from idp.security.secrets import SecretBox
    from idp.storage.database import Database
    from idp.store import EphemeralStore
    from idp.tenants.service import TenantView

from idp.accounts.factor_results import FactorError as FactorError
from idp.accounts.factor_results import PendingTotp as PendingTotp
from idp.accounts.factor_results import SmsCheck as SmsCheck
from idp.accounts.factor_results import SmsError as SmsError
from idp.accounts.factor_results import SmsSent as SmsSent
from idp.accounts.factor_results import TotpCheck as TotpCheck
from idp.accounts.factor_results import UserFactors as UserFactors
from idp.accounts.factor_results import _now, mask_phone, random_uuid
from idp.accounts.factor_results import group_secret as group_secret
from idp.accounts.factor_results import normalise_code as normalise_code
from idp.accounts.passkeys import Passkeys
from idp.accounts.recovery_codes import RECOVERY_CODE, RecoveryCodes
from idp.accounts.sms_codes import SmsCodes
from idp.accounts.totp import MIN_SECRET_BITS as MIN_SECRET_BITS
from idp.accounts.totp import TOTP_DIGITS as TOTP_DIGITS
from idp.accounts.totp import TOTP_INTERVAL as TOTP_INTERVAL
from idp.accounts.totp import TOTP_REPLAY_TTL as TOTP_REPLAY_TTL
from idp.accounts.totp import TOTP_VALID_WINDOW as TOTP_VALID_WINDOW
from idp.accounts.totp import TotpFactors

log = logging.getLogger("idp.factors")


#: A user's active factors, oldest first (built once: a statement built per call costs about a third of the read).
_ACTIVE = (
    select(Factor)
    .where(Factor.tenant_id == bindparam("tenant_id"), Factor.user_id == bindparam("user_id"), Factor.removed_at.is_(None))
    .order_by(Factor.created_at, Factor.id)
)
#: The same, of one ``type``.
_ACTIVE_OF_TYPE = (
    select(Factor)
    .where(
        Factor.tenant_id == bindparam("tenant_id"),
        Factor.user_id == bindparam("user_id"),
        Factor.removed_at.is_(None),
        Factor.type == bindparam("type"),
    )
    .order_by(Factor.created_at, Factor.id)
)


class FactorService(TotpFactors, SmsCodes, RecoveryCodes, Passkeys):
    """Second factors of users; every rule about them is here (steps, CLI and admin API call it)."""

    def __init__(
        self,
        db: Database,
        store: EphemeralStore,
        secrets: SecretBox,
        audit: AuditLog,
        mailer: Mailer,
        texter: Texter,
        users: UserService,
    ) -> None:
        self.db = db
        self.store = store
        self.secrets = secrets
        self.audit = audit
        self.mailer = mailer
        self.texter = texter
        self.users = users

    # -- reading ----------------------------------------------------------------

    def active(self, tenant: TenantView, user: User, type: str | None = None) -> list[Factor]:
        """The user's active factors (optionally of one ``type``: ``totp`` or ``sms``), oldest first."""
        params: dict[str, Any] = {"tenant_id": tenant.id, "user_id": user.id}
        if type is not None:
            params["type"] = type
        with self.db.read() as s:
            return list(s.scalars(_ACTIVE if type is None else _ACTIVE_OF_TYPE, params))

    def history(self, tenant: TenantView, user: User) -> list[Factor]:
        """Every factor ever bound to the user, removed ones included (R-14)."""
        with self.db.read() as s:
            q = select(Factor).where(Factor.tenant_id == tenant.id, Factor.user_id == user.id)
            return list(s.scalars(q.order_by(Factor.created_at, Factor.id)))

    def get(self, tenant: TenantView, user: User, factor_id: str) -> Factor | None:
        with self.db.read() as s:
            return s.scalar(
                select(Factor).where(Factor.tenant_id == tenant.id, Factor.user_id == user.id, Factor.id == factor_id)
            )

    def of_user(self, tenant: TenantView, user: User) -> UserFactors:
        """The user's active factors in one read, to pass as ``known`` to the checks below within one request."""
        return UserFactors(user.id, tuple(self.active(tenant, user)))

    def _rows(self, tenant: TenantView, user: User, type: str, known: UserFactors | None) -> list[Factor]:
        if known is not None and known.user_id == user.id:
            return known.of_type(type)
        return self.active(tenant, user, type)

    def has_totp(self, tenant: TenantView, user: User, known: UserFactors | None = None) -> bool:
        return bool(self._rows(tenant, user, "totp", known))

    def sms_number(self, tenant: TenantView, user: User, known: UserFactors | None = None) -> str | None:
        """The number of the user's active SMS factor, when the tenant allows SMS as a second factor (R-37)."""
        if not tenant.config.sms.allowed_as_second_factor:
            return None
        rows = self._rows(tenant, user, "sms", known)
        return rows[-1].phone if rows and rows[-1].phone else None

    def phone_on_file(self, tenant: TenantView, user: User) -> str | None:
        """The user's verified number on file (for recovery codes and notices), or None (R-10)."""
        fresh = self.users.get(tenant, user.id)
        if fresh is None or not fresh.phone or not fresh.phone_verified:
            return None
        return fresh.phone

    # -- lifecycle --------------------------------------------------------------

    def remove_factor(
        self, tenant: TenantView, user: User, factor_id: str, actor: str = "", request: RequestInfo | None = None
    ) -> Factor:
        """Remove one active factor; its row stays with ``removed_at``/``removed_by`` (R-14, R-34)."""
        with self.db.session() as s:
            row = s.scalar(
                select(Factor).where(
                    Factor.tenant_id == tenant.id, Factor.user_id == user.id, Factor.id == factor_id, Factor.removed_at.is_(None)
                )
            )
            if row is None:
                raise FactorError("not_found", f"no active factor {factor_id!r} for user {user.username!r}", status=404)
            row.removed_at = _now()
            row.removed_by = (actor or f"user:{user.id}")[:200]
            self._audit(s, tenant, user, "factor.removed", request, actor=actor, factor_id=row.id, factor_type=row.type)
        self._drop_replay_state(tenant, [row])
        return row

    def _remove_all(
        self, s: Session, tenant: TenantView, user: User, actor: str, request: RequestInfo | None, reason: str, type: str | None = None
    ) -> list[Factor]:
        q = select(Factor).where(Factor.tenant_id == tenant.id, Factor.user_id == user.id, Factor.removed_at.is_(None))
        if type is not None:
            q = q.where(Factor.type == type)
        rows = list(s.scalars(q))
        for row in rows:
            row.removed_at = _now()
            row.removed_by = actor[:200]
            self._audit(s, tenant, user, "factor.removed", request, actor=actor, factor_id=row.id, factor_type=row.type, reason=reason)
        return rows

    def set_phone(
        self, tenant: TenantView, user: User, phone: str, actor: str = "", request: RequestInfo | None = None
    ) -> Factor:
        """Bind ``phone`` as the user's SMS factor and verified number on file (R-10: a new number is a new binding).

        The earlier SMS factor, if any, is removed in the same transaction.
        """
        from idp.accounts.users import normalise_phone

        number = normalise_phone(phone, tenant.config.sms.allowed_country_codes)
        factor = Factor(
            id=random_uuid(),
            tenant_id=tenant.id,
            user_id=user.id,
            type="sms",
            label=mask_phone(number),
            phone=number,
            created_by=(actor or f"user:{user.id}")[:200],
        )
        with self.db.session() as s:
            row = s.get(User, user.id)
            if row is None or row.tenant_id != tenant.id:
                raise FactorError("not_found", f"no user {user.id} in tenant {tenant.slug!r}", status=404)
            self._remove_all(s, tenant, user, actor or f"user:{user.id}", request, reason="number_changed", type="sms")
            changed = row.phone != number
            row.phone = number
            row.phone_verified = True
            s.add(factor)
            self._audit(s, tenant, user, "factor.enrolled", request, actor=actor, factor_id=factor.id, factor_type="sms")
            s.flush()
            if changed:  # before the commit: a store failure leaves the account as it was
                self.users.end_flows(tenant, user.id)
        if changed:
            self.users.contact_changed(tenant, row, None, ["phone"], actor=actor)
        return factor

    # -- the holder's own changes (account console) ------------------------------

    @staticmethod
    def is_second_factor(factor: Factor) -> bool:
        """Whether ``factor`` keeps a ``required`` MFA policy satisfied: any kind but a recovery-code set
        (a set is the fallback of the others, spent code by code)."""
        return factor.type != RECOVERY_CODE

    def rename_factor(
        self, tenant: TenantView, user: User, factor_id: str, label: str, actor: str = "", request: RequestInfo | None = None
    ) -> Factor:
        """Give one of the user's active factors a new label (1 to 60 characters, shown in listings only)."""
        label = " ".join((label or "").split())
        if not label or len(label) > 60:
            raise FactorError("invalid_label", "the name must have 1 to 60 characters", status=422)
        with self.db.session() as s:
            row = s.scalar(
                select(Factor).where(
                    Factor.tenant_id == tenant.id, Factor.user_id == user.id, Factor.id == factor_id, Factor.removed_at.is_(None)
                )
            )
            if row is None:
                raise FactorError("not_found", f"no active factor {factor_id!r} for user {user.username!r}", status=404)
            row.label = label
            self._audit(s, tenant, user, "factor.renamed", request, actor=actor, factor_id=row.id, factor_type=row.type)
        return row

    def remove_own_factor(self, tenant: TenantView, user: User, factor_id: str, request: RequestInfo | None = None) -> Factor:
        """The holder removes one of their factors (R-19, R-34); under the ``required`` MFA policy the last second
        factor stays: :class:`FactorError` ``last_second_factor`` (409), nothing changed. Checked and removed in one
        transaction."""
        actor = f"user:{user.id}"
        with self.db.session() as s:
            rows = list(
                s.scalars(select(Factor).where(Factor.tenant_id == tenant.id, Factor.user_id == user.id, Factor.removed_at.is_(None)))
            )
            row = next((r for r in rows if r.id == factor_id), None)
            if row is None:
                raise FactorError("not_found", f"no active factor {factor_id!r} for user {user.username!r}", status=404)
            others = [r for r in rows if r.id != row.id and self.is_second_factor(r)]
            if tenant.config.mfa.policy == "required" and self.is_second_factor(row) and not others:
                raise FactorError("last_second_factor", "the tenant requires a second factor: the last one cannot be removed", status=409)
            row.removed_at = _now()
            row.removed_by = actor
            self._audit(s, tenant, user, "factor.removed", request, actor=actor, factor_id=row.id, factor_type=row.type)
        self._drop_replay_state(tenant, [row])
        return row

    # -- notices and audit ------------------------------------------------------

    def notify(
        self,
        tenant: TenantView,
        user: User,
        template: str,
        request: RequestInfo | None = None,
        locale: str = "",
        messages: "MessageTemplates | None" = None,
        **context: Any,
    ) -> bool:
        """Mail ``template`` to the user (R-29, R-36, R-55) in ``locale`` (empty: the account's); best effort, never raises; True when sent.

        ``messages``: where ``template`` is (a flow package's own templates); default the core's."""
        fresh = self.users.get(tenant, user.id) or user
        if not fresh.email:
            return False
        try:
            from idp.messaging import Brand, Email
            from idp.messaging.rendering import CORE_MESSAGES

            templates = messages if messages is not None else CORE_MESSAGES
            lang = locale or fresh.locale or (request.locale if request else "") or tenant.config.default_locale
            when = datetime.fromtimestamp(request.now if request else time.time(), UTC)
            rendered = templates.render(template, lang, brand=Brand.of(tenant), when=when, browser=request.user_agent if request else "", **context)
            self.mailer.send(
                Email(
                    to=fresh.email,
                    subject=rendered.subject,
                    text=rendered.text,
                    html=rendered.html,
                    from_address=tenant.config.mail.from_address,
                    configuration_set=tenant.config.mail.configuration_set,
                    tags={"kind": template.replace("_", "-")},
                )
            )
            return True
        except Exception:
            log.exception("notice %s to user %s of %s could not be sent", template, user.id, tenant.slug)
            return False

    def _audit(
        self, s: Session | None, tenant: TenantView, user: User, type: str, request: RequestInfo | None, actor: str = "", **details: Any
    ) -> None:
        self.audit.record(
            tenant.id,
            type,
            user_id=user.id,
            actor=actor or f"user:{user.id}",
            client_ip=request.client_ip if request else "",
            user_agent=request.user_agent if request else "",
            session=s,
            **details,
        )
