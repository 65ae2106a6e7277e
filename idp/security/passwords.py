"""Password hashing and policy (R-01 to R-05, R-23 to R-25, R-57).

Argon2id at m=19 MiB, t=2, p=1 (argon2-cffi); no composition rules; a length
window and a shipped list of common and breached passwords, with a reason for
every rejection.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: The hash settings we ship (R-57). Tests may not lower them: the benchmark measures these.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16)

#: A hash of a random password, verified when the user is unknown so timing does not tell (R-28).
_DUMMY_HASH = HASHER.hash("no-such-user-dummy-password-for-timing")


class PasswordPolicyError(ValueError):
    """A new password breaks the policy; ``code`` is stable, ``str()`` is the reason in English."""

    def __init__(self, code: str, message: str, **params: int) -> None:
        super().__init__(message)
        self.code = code
        self.params = params


def normalise(password: str) -> str:
    """NFKC-normalise before hashing, so the same password typed on two keyboards matches (R-02)."""
    return unicodedata.normalize("NFKC", password)


def hash_password(password: str) -> str:
    return HASHER.hash(normalise(password))


def verify_password(password_hash: str, password: str) -> bool:
    """Constant-time check; an empty hash (no local password) burns the same time and fails."""
    try:
        return HASHER.verify(password_hash or _DUMMY_HASH, normalise(password)) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def burn_verify_time() -> None:
    """Spend the time of one verify, for an unknown user (R-28)."""
    verify_password(_DUMMY_HASH, "not-the-password")


def needs_rehash(password_hash: str) -> bool:
    return HASHER.check_needs_rehash(password_hash)


@lru_cache(maxsize=1)
def _blocklist() -> frozenset[str]:
    text = files("idp.security").joinpath("common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 12
    max_length: int = 128

    def check(self, password: str, *, username: str = "", email: str = "") -> None:
        """Raise :class:`PasswordPolicyError` with the reason, or return."""
        pw = normalise(password)
        if len(pw) < self.min_length:
            raise PasswordPolicyError("too_short", f"the password must have at least {self.min_length} characters", min=self.min_length)
        if len(pw) > self.max_length:
            raise PasswordPolicyError("too_long", f"the password must have at most {self.max_length} characters", max=self.max_length)
        lowered = pw.lower()
        if lowered in _blocklist():
            raise PasswordPolicyError("common", "this password is too common or appeared in a data breach; choose another")
        for ident in (username, email, email.split("@")[0] if email else ""):
            if ident and len(ident) >= 4 and lowered == ident.lower():
                raise PasswordPolicyError("matches_identity", "the password must not be your username or email")
