"""Password hashing and policy (R-01 to R-05, R-23 to R-25, R-57).

Argon2id at m=19 MiB, t=2, p=1 (argon2-cffi); no composition rules; a length
window, then a blocklist of common, expected and breached values (NIST SP
800-63B-4 §3.1.1.2): the list shipped with the package and zxcvbn's list of
common passwords, the account's own context words (username, email, tenant
name and slug), and zxcvbn's estimate, which refuses what is guessed in under
a million tries (repeated or sequential characters, keyboard rows, dates,
single dictionary words). Every rejection says why (R-04). Only new passwords
are checked; zxcvbn is loaded once, on the first check.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files
from typing import Any

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


#: zxcvbn's guess estimate below which a password is refused as predictable (its score 0 and 1: under 10^6 guesses).
MIN_GUESSES_LOG10 = 6
#: zxcvbn estimates at most this many characters (its own limit); a longer password is judged on its start.
ESTIMATE_MAX_LENGTH = 72
#: Context words shorter than this are not looked for inside a password (too many false refusals).
MIN_CONTEXT_WORD = 4


@lru_cache(maxsize=1)
def _blocklist() -> frozenset[str]:
    """The shipped list of common and breached passwords and zxcvbn's list of common passwords, lowercased."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    text = files("idp.security").joinpath("common-passwords.txt").read_text(encoding="utf-8")
    shipped = (line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))
    return frozenset((*shipped, *FREQUENCY_LISTS["passwords"]))


@lru_cache(maxsize=1)
def _estimator() -> Any:
    """zxcvbn's estimator, imported on first use (it builds its ranked dictionaries at import)."""
    from zxcvbn import zxcvbn

    return zxcvbn


def context_words(*values: str) -> list[str]:
    """The words a password must not contain: each value whole and its alphanumeric parts, lowercased."""
    words: set[str] = set()
    for value in values:
        value = normalise(value or "").casefold().strip()
        words.update(w for w in (value, *re.split(r"[\W_]+", value)) if len(w) >= MIN_CONTEXT_WORD)
    return sorted(words, key=len, reverse=True)


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 12
    max_length: int = 128

    def check(self, password: str, *, username: str = "", email: str = "", context: Iterable[str] = ()) -> None:
        """Raise :class:`PasswordPolicyError` with the reason, or return.

        ``context`` holds further words the password must not contain (the tenant's name and slug).
        """
        pw = normalise(password)
        if len(pw) < self.min_length:
            raise PasswordPolicyError("too_short", f"the password must have at least {self.min_length} characters", min=self.min_length)
        if len(pw) > self.max_length:
            raise PasswordPolicyError("too_long", f"the password must have at most {self.max_length} characters", max=self.max_length)
        lowered = pw.casefold()
        words = context_words(username, email, email.split("@")[0] if email else "", *context)
        if any(word in lowered for word in words):
            raise PasswordPolicyError("contains_identity", "the password must not contain your username, your email or the name of the organisation")
        if lowered in _blocklist():
            raise PasswordPolicyError("common", "this password is too common or appeared in a data breach; choose another")
        estimate = _estimator()(pw[:ESTIMATE_MAX_LENGTH], user_inputs=words)
        if estimate["guesses_log10"] < MIN_GUESSES_LOG10:
            raise PasswordPolicyError(
                "predictable", "this password is too easy to guess (repeated or sequential characters, a keyboard row, a date or a common word); choose another"
            )
