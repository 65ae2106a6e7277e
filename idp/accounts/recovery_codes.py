"""Recovery codes: saved look-up secrets (NIST SP 800-63B-4 §3.1.2; issue 14, item 3).

A set is ten codes of 80 random bits each (16 base32 letters and digits, shown in four groups of four:
``abcd-efgh-ijkl-mnop``), shown once when generated and never again. Each is kept as its keyed digest
(HMAC-SHA256 under the instance key, :meth:`SecretBox.digest`): the key lives outside the database, so a
copy of the database alone does not allow an offline search, and with 80 bits a slow hash adds nothing.
A code is spent atomically (one ``UPDATE ... WHERE used_at IS NULL``: two workers racing with the same
code, one wins). The set is a :class:`~idp.storage.models.Factor` of type ``recovery_code``, so it is
listed, removed and replaced like any factor; a new set voids the old one, and the set goes once its
last code is spent. Attempts are throttled by the flow engine like any code (``recovery_code``).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update

from idp.accounts.factor_results import FactorParts, _now, random_uuid
from idp.storage.models import Factor, RecoveryCode, User

if TYPE_CHECKING:  # pragma: no cover
    from idp.accounts.factor_results import UserFactors
    from idp.request_info import RequestInfo
    from idp.tenants.service import TenantView

#: The factor type of a set, and the throttle's name for its attempts.
RECOVERY_CODE = "recovery_code"
#: Codes in a set (issue 14: 10).
CODES_PER_SET = 10
#: Random bits per code (issue 14: at least 64).
CODE_BITS = 80
PURPOSE = "recovery-code"


def new_code() -> str:
    """A fresh code: 80 random bits as 16 lower-case base32 characters in four groups."""
    raw = base64.b32encode(secrets.token_bytes(CODE_BITS // 8)).decode().lower()
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def normalise_recovery_code(code: str) -> str:
    """What was typed, as the digest is taken: letters and digits only, lower case (dashes and spaces dropped)."""
    return "".join(c for c in (code or "").lower() if c.isalnum())[:64]


@dataclass(frozen=True)
class RecoveryCodeCheck:
    """The answer to a typed recovery code: spent or not, and how many of the set remain."""

    ok: bool
    remaining: int = 0

    def __bool__(self) -> bool:
        return self.ok


class RecoveryCodes(FactorParts):
    """The recovery-code part of :class:`~idp.accounts.factors.FactorService` (a mixin: it shares its services)."""

    def has_recovery_codes(self, tenant: TenantView, user: User, known: UserFactors | None = None) -> bool:
        """Whether the user has an active set (it goes with its last code)."""
        return bool(self._rows(tenant, user, RECOVERY_CODE, known))

    def _code_digest(self, code: str) -> str:
        return self.secrets.digest(normalise_recovery_code(code), PURPOSE)

    def generate_recovery_codes(self, tenant: TenantView, user: User, actor: str = "", request: RequestInfo | None = None) -> list[str]:
        """A new set of codes for ``user`` (returned once, to be shown once); the earlier set is voided in the
        same transaction."""
        codes = [new_code() for _ in range(CODES_PER_SET)]
        who = (actor or f"user:{user.id}")[:200]
        factor = Factor(id=random_uuid(), tenant_id=tenant.id, user_id=user.id, type=RECOVERY_CODE, label="Recovery codes", created_by=who)
        with self.db.session() as s:
            replaced = self._remove_all(s, tenant, user, who, request, reason="replaced", type=RECOVERY_CODE)
            s.add(factor)
            s.flush()
            s.add_all(RecoveryCode(tenant_id=tenant.id, user_id=user.id, factor_id=factor.id, digest=self._code_digest(c)) for c in codes)
            self._audit(s, tenant, user, "factor.recovery_codes_generated", request, actor=who, factor_id=factor.id, codes=len(codes), replaced=len(replaced))
        return codes

    def recovery_codes_left(self, tenant: TenantView, user: User) -> int:
        """Unused codes of the user's active set (0: no set)."""
        with self.db.read() as s:
            return int(s.scalar(self._left_query(tenant, user)) or 0)

    def _left_query(self, tenant: TenantView, user: User) -> Any:
        active = select(Factor.id).where(Factor.tenant_id == tenant.id, Factor.user_id == user.id, Factor.type == RECOVERY_CODE, Factor.removed_at.is_(None))
        return select(func.count(RecoveryCode.id)).where(RecoveryCode.factor_id.in_(active), RecoveryCode.used_at.is_(None))

    def use_recovery_code(self, tenant: TenantView, user: User, code: str, request: RequestInfo | None = None) -> RecoveryCodeCheck:
        """Spend ``code`` if it is an unused code of the user's active set (atomic); the set goes with its last code."""
        if len(normalise_recovery_code(code)) != 16:
            return RecoveryCodeCheck(False, self.recovery_codes_left(tenant, user))
        now = _now()
        with self.db.session() as s:
            active = select(Factor.id).where(Factor.tenant_id == tenant.id, Factor.user_id == user.id, Factor.type == RECOVERY_CODE, Factor.removed_at.is_(None))
            spent = s.execute(
                update(RecoveryCode)
                .where(
                    RecoveryCode.tenant_id == tenant.id,
                    RecoveryCode.user_id == user.id,
                    RecoveryCode.digest == self._code_digest(code),
                    RecoveryCode.used_at.is_(None),
                    RecoveryCode.factor_id.in_(active),
                )
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            )
            if spent.rowcount != 1:  # type: ignore[attr-defined]
                return RecoveryCodeCheck(False, int(s.scalar(self._left_query(tenant, user)) or 0))
            left = int(s.scalar(self._left_query(tenant, user)) or 0)
            factor = s.scalar(active.with_only_columns(Factor))
            if factor is not None:
                factor.last_used_at = now
                if left == 0:  # the set is spent: it leaves the user's factors
                    factor.removed_at, factor.removed_by = now, "used-up"
            self._audit(s, tenant, user, "factor.recovery_code_used", request, factor_id=factor.id if factor else "", remaining=left)
        return RecoveryCodeCheck(True, left)
