"""User accounts: create, find, verify and change passwords. Every rule about a user is here."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import phonenumbers
from sqlalchemy import bindparam, func, or_, select

from idp.security.passwords import PasswordPolicy, PasswordPolicyError, burn_verify_time, hash_password, verify_password
from idp.storage.models import User

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import Session

    from idp.services import Services
    from idp.tenants.service import TenantView

#: Built once: a statement built per call costs about as much again as running it (SQLAlchemy's coercions
#: and cache key), on the hottest read of the IdP.
_BY_ID = select(User).where(User.tenant_id == bindparam("tenant_id"), User.id == bindparam("user_id"))


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
    email = email.strip()
    local, sep, domain = email.rpartition("@")
    if not sep or not local or "." not in domain or " " in email:
        raise UserError(f"invalid email address {email!r}", field="email")
    return email.lower()


class UserService:
    """Accounts of a tenant."""

    def __init__(self, services: "Services") -> None:
        self.services = services

    def policy(self, tenant: "TenantView") -> PasswordPolicy:
        p = tenant.config.passwords
        return PasswordPolicy(min_length=p.min_length, max_length=p.max_length)

    def check_password(self, tenant: "TenantView", password: str, username: str = "", email: str = "") -> None:
        try:
            self.policy(tenant).check(password, username=username, email=email)
        except PasswordPolicyError as exc:
            raise UserError(str(exc), field="password", code=exc.code) from None

    # -- reading --------------------------------------------------------------

    def get(self, tenant: "TenantView", user_id: int) -> User | None:
        """The user ``user_id`` of ``tenant`` (the hot read of code exchange, userinfo and every flow request)."""
        with self.services.db.read() as s:
            return s.scalar(_BY_ID, {"tenant_id": tenant.id, "user_id": user_id})

    def by_username(self, tenant: "TenantView", username: str) -> User | None:
        with self.services.db.read() as s:
            return s.scalar(select(User).where(User.tenant_id == tenant.id, User.username == username))

    def by_sub(self, tenant: "TenantView", sub: str) -> User | None:
        with self.services.db.read() as s:
            return s.scalar(select(User).where(User.tenant_id == tenant.id, User.sub == sub))

    def find_by_login(self, tenant: "TenantView", login: str) -> User | None:
        """The user whose username or email is ``login`` (case-insensitive email)."""
        login = login.strip()
        if not login or len(login) > 320:
            return None
        with self.services.db.read() as s:
            return s.scalar(
                select(User).where(
                    User.tenant_id == tenant.id,
                    or_(User.username == login, User.email == login.lower()),
                ).limit(1)
            )

    def search(self, tenant: "TenantView", query: str = "", offset: int = 0, limit: int = 50) -> tuple[list[User], int]:
        with self.services.db.read() as s:
            cond = [User.tenant_id == tenant.id]
            if query:
                like = f"%{query.lower()}%"
                cond.append(or_(func.lower(User.username).like(like), User.email.like(like)))
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
    ) -> User:
        """Create a user; every check runs before anything is written."""
        username = username.strip()
        if not username or len(username) > 128 or any(c.isspace() for c in username):
            raise UserError(f"invalid username {username!r}", field="username")
        email_n = normalise_email(email) if email else None
        phone_n = normalise_phone(phone, tenant.config.sms.allowed_country_codes) if phone else None
        if locale is not None and locale not in ("en", "fr"):
            raise UserError("locale must be 'en' or 'fr'", field="locale")
        if password is not None:
            self.check_password(tenant, password, username, email_n or "")
        with self.services.db.session() as s:
            if s.scalar(select(User.id).where(User.tenant_id == tenant.id, User.username == username)) is not None:
                raise UserError(f"username {username!r} is already taken in tenant {tenant.slug!r}", status=409, field="username")
            if email_n and s.scalar(select(User.id).where(User.tenant_id == tenant.id, User.email == email_n)) is not None:
                raise UserError(f"email {email_n!r} is already used in tenant {tenant.slug!r}", status=409, field="email")
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
                password_hash=hash_password(password) if password is not None else "",
            )
            s.add(user)
            s.flush()
            return user

    def set_password(self, tenant: "TenantView", user: User, password: str) -> None:
        self.check_password(tenant, password, user.username, user.email or "")
        with self.services.db.session() as s:
            row = s.get(User, user.id)
            assert row is not None and row.tenant_id == tenant.id
            row.password_hash = hash_password(password)

    def update(self, tenant: "TenantView", user: User, **changes: Any) -> User:
        """Change profile fields (email, phone, locale, names, status, roles), validated first."""
        allowed = {"email", "phone", "locale", "given_name", "family_name", "status", "roles", "email_verified"}
        unknown = set(changes) - allowed
        if unknown:
            raise UserError(f"unknown field {sorted(unknown)[0]!r}", field=sorted(unknown)[0])
        if changes.get("email"):
            changes["email"] = normalise_email(changes["email"])
        if changes.get("phone"):
            changes["phone"] = normalise_phone(changes["phone"], tenant.config.sms.allowed_country_codes)
            changes["phone_verified"] = True
        if "status" in changes and changes["status"] not in ("active", "disabled"):
            raise UserError("status must be 'active' or 'disabled'", field="status")
        with self.services.db.session() as s:
            row = s.get(User, user.id)
            assert row is not None and row.tenant_id == tenant.id
            if changes.get("email") and changes["email"] != row.email:
                taken = s.scalar(select(User.id).where(User.tenant_id == tenant.id, User.email == changes["email"]))
                if taken is not None:
                    raise UserError(f"email {changes['email']!r} is already used in tenant {tenant.slug!r}", status=409, field="email")
            for k, v in changes.items():
                setattr(row, k, v)
            s.flush()
            return row
