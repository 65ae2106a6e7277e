"""User accounts: create, find, verify and change passwords. Every rule about a user is here.

Identifiers (issue 12): a tenant's usernames and emails share one namespace of canonical forms
(:mod:`idp.identifiers`, one ``user_identifiers`` row each under a unique index), so one login
string names at most one account, also under concurrent writes. A change of a user's email or phone,
by any path, goes through :meth:`UserService.contact_changed`: their flow runs and recovery links end and
the old address is told (R-15, R-29).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import phonenumbers
from sqlalchemy import bindparam, delete, func, or_, select
from sqlalchemy.exc import IntegrityError

from idp.accounts.address import AddressError, normalise_address
from idp.accounts.locks import AccountLocks
from idp.identifiers import EMAIL, USERNAME, IdentifierError, canonical_email, canonical_username, login_forms, split_email
from idp.security.passwords import PasswordPolicy, PasswordPolicyError, burn_verify_time, hash_password, verify_password
from idp.storage.models import User, UserIdentifier
from idp.store import user_flows_label, user_label

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import Session

    from idp.audit import AuditLog
    from idp.messaging import Mailer
    from idp.request_info import RequestInfo
    from idp.storage.database import Database
    from idp.store import EphemeralStore
    from idp.tenants.service import TenantView

#: Built once: a statement built per call costs about as much again as running it (SQLAlchemy's coercions
#: and cache key), on the hottest read of the IdP.
_BY_ID = select(User).where(User.tenant_id == bindparam("tenant_id"), User.id == bindparam("user_id"))
#: The columns of :class:`UserProfile` (the claims of the protocol endpoints), as a Core select.
_PROFILE_BY_ID = select(
    User.id, User.sub, User.username, User.email, User.email_verified, User.phone, User.phone_verified,
    User.given_name, User.family_name, User.locale, User.status, User.updated_at, User.address,
).where(User.tenant_id == bindparam("tenant_id"), User.id == bindparam("user_id"))
#: The accounts holding any of the canonical ``values`` (at most one per value: the index is unique per tenant).
_BY_IDENTIFIER = (
    select(User, UserIdentifier.kind, UserIdentifier.value)
    .join(UserIdentifier, UserIdentifier.user_id == User.id)
    .where(UserIdentifier.tenant_id == bindparam("tenant_id"), UserIdentifier.value.in_(bindparam("values", expanding=True)))
)

log = logging.getLogger("idp.accounts")


@dataclass(frozen=True)
class UserProfile:
    """What the protocol endpoints read of a user (status and standard claims), without the ORM object."""

    id: int
    sub: str
    username: str
    email: str | None
    email_verified: bool
    phone: str | None
    phone_verified: bool
    given_name: str
    family_name: str
    locale: str | None
    status: str
    updated_at: datetime | None
    #: The OIDC Core §5.1.1 address members that are set (None: none).
    address: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.given_name, self.family_name) if p)


class UserError(ValueError):
    """A user operation was refused: one plain line, an HTTP status and the field at fault."""

    def __init__(self, message: str, status: int = 400, field: str = "", code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.code = code


def normalise_phone(phone: str, allowed_country_codes: tuple[str, ...] = ()) -> str:
    """E.164 form of ``phone`` or :class:`UserError`; only allowed country codes when the tenant lists some."""
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        raise UserError(f"invalid phone number {phone!r}: use the international form, e.g. +33612345678", field="phone") from None
    if not phonenumbers.is_valid_number(parsed):
        raise UserError(f"invalid phone number {phone!r}", field="phone")
    if allowed_country_codes and str(parsed.country_code) not in allowed_country_codes:
        raise UserError(f"phone numbers from +{parsed.country_code} are not allowed for this tenant", field="phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(email: str) -> str:
    """``email`` as it is kept for sending: trimmed, the domain lower-cased, the local part as typed.

    Comparisons use :func:`idp.identifiers.canonical_email` (the local part case-insensitive too).
    """
    email = email.strip()
    parts = split_email(email)
    if parts is None or len(email) > 320:
        raise UserError(f"invalid email address {email!r}", field="email")
    local, domain = parts
    return f"{local}@{domain.lower()}"


def normalise_username(username: str) -> tuple[str, str]:
    """``(as typed, canonical)`` of a new username (RFC 8265 and the rules of :mod:`idp.identifiers`)."""
    username = username.strip()
    try:
        return username, canonical_username(username)
    except IdentifierError as exc:
        raise UserError(f"invalid username {username!r}: {exc}", field="username") from None


def _checked_address(address: Any) -> dict[str, str] | None:
    """The address as kept (:func:`idp.accounts.address.normalise_address`), or :class:`UserError` naming the member."""
    try:
        return normalise_address(address)
    except AddressError as exc:
        raise UserError(str(exc), field=exc.field) from None


class UserService:
    """Accounts of a tenant."""

    def __init__(
        self,
        db: "Database",
        store: "EphemeralStore",
        audit: "AuditLog",
        mailer: "Mailer",
        locks: AccountLocks,
        sessions_revoked: "Callable[[TenantView, int], None] | None" = None,
    ) -> None:
        self.db = db
        self.store = store
        self.audit = audit
        self.mailer = mailer
        self.locks = locks
        #: Told after :meth:`revoke_everything` ended a user's sessions (the composition root hands in the
        #: relying parties' logout, :meth:`idp.oidc.rp_logout.RpLogout.user_revoked`); accounts know nothing of it.
        self.sessions_revoked = sessions_revoked

    def policy(self, tenant: "TenantView") -> PasswordPolicy:
        p = tenant.config.passwords
        return PasswordPolicy(min_length=p.min_length, max_length=p.max_length)

    def check_password(self, tenant: "TenantView", password: str, username: str = "", email: str = "") -> None:
        """Check a NEW password against the tenant's policy (R-04): its length, the blocklist, and the account's
        context words (username, email, the tenant's slug and names); :class:`UserError` on field ``password``."""
        context = (tenant.slug, tenant.display_name, tenant.config.branding.display_name or "")
        try:
            self.policy(tenant).check(password, username=username, email=email, context=context)
        except PasswordPolicyError as exc:
            raise UserError(str(exc), status=422, field="password", code=exc.code) from None

    # -- reading --------------------------------------------------------------

    def get(self, tenant: "TenantView", user_id: int) -> User | None:
        """The user ``user_id`` of ``tenant`` (the hot read of code exchange, userinfo and every flow request)."""
        with self.db.read() as s:
            return s.scalar(_BY_ID, {"tenant_id": tenant.id, "user_id": user_id})

    def profile(self, tenant: "TenantView", user_id: int) -> UserProfile | None:
        """The status and claims of user ``user_id`` of ``tenant`` (the hot read of code exchange and userinfo):
        the same row as :meth:`get`, read with one Core select instead of an ORM session."""
        row = self.db.first(_PROFILE_BY_ID, {"tenant_id": tenant.id, "user_id": user_id})
        return UserProfile(**row) if row is not None else None

    def by_username(self, tenant: "TenantView", username: str) -> User | None:
        """The user whose username is ``username`` in canonical form (``PT-Conf`` finds ``pt-conf``)."""
        username = username.strip()
        if not username or len(username) > 320:
            return None
        return self._by_identifier(tenant, login_forms(username)[:1])

    def _by_identifier(self, tenant: "TenantView", forms: list[tuple[str, str]]) -> User | None:
        """The account of the first of ``forms`` (``(kind, canonical value)``) that some account holds."""
        with self.db.read() as s:
            rows = s.execute(_BY_IDENTIFIER, {"tenant_id": tenant.id, "values": sorted({v for _, v in forms})}).all()
        held = {(kind, value): user for user, kind, value in rows}
        return next((held[f] for f in forms if f in held), None)

    def by_sub(self, tenant: "TenantView", sub: str) -> User | None:
        with self.db.read() as s:
            return s.scalar(select(User).where(User.tenant_id == tenant.id, User.sub == sub))

    def find_by_login(self, tenant: "TenantView", login: str) -> User | None:
        """The one user whose username or email is ``login`` in canonical form; a username match wins."""
        login = login.strip()
        if not login or len(login) > 320:
            return None
        return self._by_identifier(tenant, login_forms(login))

    def search(self, tenant: "TenantView", query: str = "", offset: int = 0, limit: int = 50) -> tuple[list[User], int]:
        """Users whose username or email contains ``query`` (case-insensitive, taken literally), by username."""
        with self.db.read() as s:
            cond = [User.tenant_id == tenant.id]
            if query:
                # a substring match: ``%`` and ``_`` typed by the admin are literal characters, not wildcards;
                # emails are stored as typed, so both sides are compared in lower case
                needle = query.lower()
                cond.append(or_(func.lower(User.username).contains(needle, autoescape=True), func.lower(User.email).contains(needle, autoescape=True)))
            total = s.scalar(select(func.count()).select_from(User).where(*cond)) or 0
            rows = list(s.scalars(select(User).where(*cond).order_by(User.username).offset(offset).limit(limit)))
            return rows, total

    # -- checking -------------------------------------------------------------

    def verify_password(self, user: User | None, password: str) -> bool:
        """True when ``password`` is the active user's; an unknown user costs the same time (R-28)."""
        if user is None:
            burn_verify_time()
            return False
        ok = verify_password(user.password_hash, password)
        return ok and user.status == "active"

    # -- changing -------------------------------------------------------------

    def create(
        self,
        tenant: "TenantView",
        username: str,
        password: str | None,
        email: str | None = None,
        phone: str | None = None,
        locale: str | None = None,
        roles: list[str] | None = None,
        given_name: str = "",
        family_name: str = "",
        email_verified: bool = False,
        session: "Session | None" = None,
        address: dict[str, Any] | None = None,
    ) -> User:
        """Create a user; every check runs before anything is written, and its identifiers are claimed with it."""
        address_n = _checked_address(address)
        username, username_c = normalise_username(username)
        if len(username) > 128:
            raise UserError(f"invalid username {username!r}: at most 128 characters", field="username")
        email_n = normalise_email(email) if email else None
        phone_n = normalise_phone(phone, tenant.config.sms.allowed_country_codes) if phone else None
        if locale is not None and locale not in ("en", "fr"):
            raise UserError("locale must be 'en' or 'fr'", field="locale")
        if password is not None:
            self.check_password(tenant, password, username, email_n or "")
        with self.db.session() as s:
            self._refuse_taken(s, tenant, USERNAME, username_c, username)
            if email_n:
                self._refuse_taken(s, tenant, EMAIL, canonical_email(email_n), email_n)
            user = User(
                tenant_id=tenant.id,
                username=username,
                email=email_n,
                email_verified=email_verified,
                phone=phone_n,
                phone_verified=phone_n is not None,
                locale=locale,
                roles=roles or [],
                given_name=given_name,
                family_name=family_name,
                address=address_n,
                password_hash=hash_password(password) if password is not None else "",
            )
            s.add(user)
            self._flush_claims(s, tenant, username)
            s.add(UserIdentifier(tenant_id=tenant.id, user_id=user.id, kind=USERNAME, value=username_c))
            if email_n and canonical_email(email_n) != username_c:  # a username that is the user's own email is held once
                s.add(UserIdentifier(tenant_id=tenant.id, user_id=user.id, kind=EMAIL, value=canonical_email(email_n)))
            self._flush_claims(s, tenant, username)
            return user

    def _refuse_taken(self, s: "Session", tenant: "TenantView", kind: str, value: str, typed: str, user_id: int | None = None) -> None:
        """A 409 when another account of the tenant holds ``value`` as its username or email (issue 12)."""
        q = select(UserIdentifier.user_id).where(UserIdentifier.tenant_id == tenant.id, UserIdentifier.value == value)
        holder = s.scalar(q)
        if holder is not None and holder != user_id:
            what = "username" if kind == USERNAME else "email"
            verb = "taken" if kind == USERNAME else "used"
            raise UserError(f"{what} {typed!r} is already {verb} in tenant {tenant.slug!r}", status=409, field=kind)

    def _flush_claims(self, s: "Session", tenant: "TenantView", typed: str) -> None:
        """Write now; a concurrent claim of the same identifier loses here, on the unique index, with a 409."""
        try:
            s.flush()
        except IntegrityError:
            raise UserError(f"an identifier of {typed!r} was just taken in tenant {tenant.slug!r}", status=409) from None

    def set_password(self, tenant: "TenantView", user: User, password: str) -> None:
        self.check_password(tenant, password, user.username, user.email or "")
        with self.db.session() as s:
            row = s.get(User, user.id)
            assert row is not None and row.tenant_id == tenant.id
            row.password_hash = hash_password(password)

    def change_password(self, tenant: "TenantView", user: User, current: str, new: str, request: "RequestInfo | None" = None) -> None:
        """The holder changes their password: the current one first (R-26), the new one against the policy (R-04),
        then hashed (R-57) and audited in one transaction. :class:`UserError` on field ``current_password``
        (403, code ``wrong_password``; audited) or ``password`` (422, the policy's code); nothing changed then."""
        ip, agent = (request.client_ip, request.user_agent) if request else ("", "")
        fresh = self.get(tenant, user.id)
        if fresh is None or not self.verify_password(fresh, current):
            self.audit.record(tenant.id, "account.password_change_failed", user_id=user.id, actor=f"user:{user.id}", client_ip=ip, user_agent=agent)
            raise UserError("the current password is not right", status=403, field="current_password", code="wrong_password")
        self.check_password(tenant, new, fresh.username, fresh.email or "")
        with self.db.session() as s:
            row = s.get(User, user.id)
            assert row is not None and row.tenant_id == tenant.id
            row.password_hash = hash_password(new)
            self.audit.record(
                tenant.id, "account.password_changed", user_id=user.id, actor=f"user:{user.id}", client_ip=ip, user_agent=agent, session=s
            )

    def update(self, tenant: "TenantView", user: User, **changes: Any) -> User:
        """Change profile fields (email, phone, locale, names, address, status, roles), validated first.

        A new email or phone ends the user's flow runs and recovery links in the same unit of work (the store
        is cleared before the commit, so a store failure leaves the account as it was), and again after the
        commit; then the old address is told (:meth:`contact_changed`).
        """
        allowed = {"email", "phone", "locale", "given_name", "family_name", "status", "roles", "email_verified", "address"}
        unknown = set(changes) - allowed
        if unknown:
            raise UserError(f"unknown field {sorted(unknown)[0]!r}", field=sorted(unknown)[0])
        if "address" in changes:
            changes["address"] = _checked_address(changes["address"])
        if changes.get("email"):
            changes["email"] = normalise_email(changes["email"])
        if changes.get("phone"):
            changes["phone"] = normalise_phone(changes["phone"], tenant.config.sms.allowed_country_codes)
            changes["phone_verified"] = True
        if "status" in changes and changes["status"] not in ("active", "disabled"):
            raise UserError("status must be 'active' or 'disabled'", field="status")
        with self.db.session() as s:
            row = s.get(User, user.id)
            assert row is not None and row.tenant_id == tenant.id
            old_email = row.email
            email_changed = "email" in changes and _email_key(changes["email"]) != _email_key(row.email)
            phone_changed = "phone" in changes and (changes["phone"] or None) != (row.phone or None)
            if email_changed:
                self._replace_email_claim(s, tenant, row, changes["email"])
            for k, v in changes.items():
                setattr(row, k, v)
            self._flush_claims(s, tenant, row.username)
            if email_changed or phone_changed:
                self.end_flows(tenant, row.id)
        changed = [f for f, yes in (("email", email_changed), ("phone", phone_changed)) if yes]
        if changed:
            self.contact_changed(tenant, row, old_email if email_changed else None, changed)
        return row

    def _replace_email_claim(self, s: "Session", tenant: "TenantView", row: User, email: str | None) -> None:
        """Give up the user's email identifier and claim ``email``'s (409 when another account holds it)."""
        s.execute(delete(UserIdentifier).where(UserIdentifier.user_id == row.id, UserIdentifier.kind == EMAIL))
        if not email:
            return
        value = canonical_email(email)
        self._refuse_taken(s, tenant, EMAIL, value, email, user_id=row.id)
        if s.scalar(select(UserIdentifier.id).where(UserIdentifier.tenant_id == tenant.id, UserIdentifier.value == value)) is None:
            s.add(UserIdentifier(tenant_id=tenant.id, user_id=row.id, kind=EMAIL, value=value))  # else: it is their own username

    def revoke_everything(self, tenant: "TenantView", user_id: int) -> int:
        """End every SSO session, code and token grant, flow run and recovery link of the user (R-34, R-40).

        Access tokens of those grants become inactive at userinfo and introspection at once; refresh
        tokens are refused. Two store calls; returns how many live records were removed. Then
        :attr:`sessions_revoked` is told, so the relying parties of the ended sessions hear of it (every
        path that revokes a user comes here: admin, self-recovery, the holder's lock); its failure is
        logged, never raised: the revocation stands.
        """
        removed = self.store.revoke_by_grant(user_label(tenant.slug, user_id)) + self.store.revoke_by_grant(user_flows_label(tenant.slug, user_id))
        if self.sessions_revoked is not None:
            try:
                self.sessions_revoked(tenant, user_id)
            except Exception:  # the revocation is done; telling the RPs is best effort
                log.exception("could not queue the logout of the relying parties of user %s in tenant %s", user_id, tenant.slug)
        return removed

    def lock(self, tenant: "TenantView", user_id: int, request: "RequestInfo") -> bool:
        """The holder's "not you?" lock: disable the account and revoke everything; recovery links of a disabled
        account open nothing. False when the user is gone."""
        user = self.get(tenant, user_id)
        if user is None:
            return False
        self.update(tenant, user, status="disabled")
        self.revoke_everything(tenant, user_id)
        self.audit.record(
            tenant.id, "account.locked_by_user", user_id=user_id, actor=f"user:{user_id}", client_ip=request.client_ip, user_agent=request.user_agent
        )
        return True

    def end_flows(self, tenant: "TenantView", user_id: int) -> None:
        """End the user's flow runs and void their recovery links (sessions and tokens stay)."""
        self.store.revoke_by_grant(user_flows_label(tenant.slug, user_id))

    def contact_changed(self, tenant: "TenantView", user: User, old_email: str | None, fields: list[str], actor: str = "") -> None:
        """After a committed change of ``user``'s email or phone, by any path (issue 12, R-15, R-29).

        Every flow run and recovery link of the user ends (a link mailed to the old address, or a run begun
        with the old number, opens nothing). When the email changed the OLD address gets a notice with
        a "not you?" lock link and the support contact; when the phone changed, the account's address does. The notice is best effort, after the commit, like
        every other notice: a mail failure is logged and never undoes the change.
        """
        self.end_flows(tenant, user.id)
        self.audit.record(tenant.id, "account.contact_changed", user_id=user.id, actor=actor, fields=fields)
        if old_email:
            self._notify(tenant, user, old_email, "email_changed_notice")
        if "phone" in fields and user.email:
            self._notify(tenant, user, user.email, "phone_changed_notice")

    def _notify(self, tenant: "TenantView", user: User, to: str, template: str) -> None:
        """Send ``template`` (a notice with a "not you?" lock link) to ``to``; best effort, logged on failure."""
        from idp.messaging import Brand, Email, render

        try:
            locks = self.locks
            lock_link = locks.url(tenant, locks.issue(tenant, user.id))
            lang = user.locale or tenant.config.default_locale
            message = render(template, lang, brand=Brand.of(tenant), when=datetime.now(UTC), lock_link=lock_link)
            self.mailer.send(
                Email(
                    to=to,
                    subject=message.subject,
                    text=message.text,
                    html=message.html,
                    from_address=tenant.config.mail.from_address,
                    configuration_set=tenant.config.mail.configuration_set,
                    tags={"kind": template.replace("_", "-")},
                )
            )
        except Exception as exc:
            # the class only: a driver's message can carry an address
            log.error("%s not sent: %s", template, exc.__class__.__name__, extra={"tenant": tenant.slug})


def _email_key(email: str | None) -> str | None:
    """The comparison form of a stored or new address (None when there is none)."""
    if not email:
        return None
    try:
        return canonical_email(email)
    except IdentifierError:  # an address stored before the checks: compared as it is, lower-cased
        return email.lower()
