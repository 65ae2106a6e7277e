"""Sign-in identifiers: the canonical forms that decide whether two usernames or emails name the same account.

A tenant has one namespace of identifiers: every user's username and email, in canonical form
(:class:`idp.storage.models.UserIdentifier`, unique per tenant). The rules:

- Usernames follow RFC 8265, the PRECIS ``UsernameCaseMapped`` profile (``precis-i18n``): width mapping
  (fullwidth ``ｐｔ`` is ``pt``), NFC, lower case; code points outside the IdentifierClass are refused
  (spaces, symbols, controls). On top of it this module refuses invisible (default-ignorable) code points
  such as zero-width spaces and joiners, and usernames whose letters come from more than one script
  (``раypal`` with Cyrillic ``р``/``а``): the script of a letter is the first word of its Unicode name
  (``LATIN``, ``CYRILLIC``, ``GREEK``...); digits, marks and punctuation have none; Han, Hiragana and Katakana
  count as one script (Japanese writes them together).
- Emails: the address is kept as typed for sending; its canonical form lower-cases the domain (always
  case-insensitive) and the local part (compared case-insensitively, as users expect).
- A login string is looked up under both forms; a username match wins over an email match, so one string
  names at most one account (:func:`login_forms`).
- Usernames stored before these rules that the rules refuse keep working: the ``0002`` migration files
  them as ``legacy-username`` in their lenient form (NFKC, case folded), which only such rows can match.
"""

from __future__ import annotations

import unicodedata

from precis_i18n import get_profile

USERNAME = "username"
EMAIL = "email"
#: A username written before these rules that they refuse: kept in its lenient form so its holder can still sign in.
LEGACY_USERNAME = "legacy-username"

#: RFC 8265 §3.3 (case-mapped usernames).
_PROFILE = get_profile("UsernameCaseMapped")
#: Scripts written together in one language, counted as one.
_SCRIPT_FAMILIES = {"CJK": "HAN", "HIRAGANA": "HAN", "KATAKANA": "HAN"}
#: Longest username kept (the column is 128; a canonical form never grows past its input by much).
MAX_USERNAME = 128


class IdentifierError(ValueError):
    """An identifier is refused; ``reason`` says why in one plain line."""


def _invisible(char: str) -> bool:
    """Default-ignorable or format code points: drawn as nothing, so two different strings look alike."""
    cp = ord(char)
    return (
        unicodedata.category(char) in ("Cf", "Cc", "Co", "Cn")
        or 0x180B <= cp <= 0x180F  # Mongolian variation selectors
        or 0xFE00 <= cp <= 0xFE0F  # variation selectors
        or 0xE0100 <= cp <= 0xE01EF
        or cp in (0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0, 0x17B4, 0x17B5)  # combining grapheme joiner, Hangul fillers, Khmer
    )


def script_of(char: str) -> str | None:
    """The script of a letter (first word of its Unicode name, families merged); None for anything else."""
    if not unicodedata.category(char).startswith("L") or unicodedata.category(char) == "Lm":
        return None
    name = unicodedata.name(char, "")
    if not name:
        return None
    word = name.split(" ", 1)[0].split("-", 1)[0]
    return _SCRIPT_FAMILIES.get(word, word)


def scripts(text: str) -> set[str]:
    """The scripts of the letters of ``text``."""
    return {s for s in (script_of(c) for c in text) if s is not None}


def canonical_username(username: str) -> str:
    """The enforced RFC 8265 form of ``username``, or :class:`IdentifierError` with the reason."""
    if not username:
        raise IdentifierError("a username cannot be empty")
    if any(_invisible(c) for c in username):
        raise IdentifierError("a username cannot contain invisible characters")
    if any(c.isspace() for c in username):
        raise IdentifierError("a username cannot contain spaces")
    try:
        value = _PROFILE.enforce(username)
    except UnicodeError:
        raise IdentifierError("a username can contain only letters, digits and common punctuation (RFC 8265)") from None
    if len(value) > MAX_USERNAME:
        raise IdentifierError(f"a username is at most {MAX_USERNAME} characters")
    if len(scripts(value)) > 1:
        raise IdentifierError("a username cannot mix letters of different scripts (e.g. Latin and Cyrillic)")
    return str(value)


def lenient_username(username: str) -> str:
    """NFKC and case folding only: the form of usernames written before the rules above (see the 0002 migration)."""
    return unicodedata.normalize("NFKC", username).casefold()


def split_email(email: str) -> tuple[str, str] | None:
    """``(local, domain)`` of a plausible address, else None."""
    local, sep, domain = email.rpartition("@")
    if not sep or not local or "." not in domain or any(c.isspace() for c in email):
        return None
    return local, domain


def canonical_email(email: str) -> str:
    """The comparison form of an address: the local part and the domain lower-cased."""
    parts = split_email(email.strip())
    if parts is None:
        raise IdentifierError(f"invalid email address {email!r}")
    local, domain = parts
    return f"{local.lower()}@{domain.lower()}"


def login_forms(login: str) -> list[tuple[str, str]]:
    """``(kind, canonical value)`` a typed login can match, username first (it wins when both match)."""
    forms: list[tuple[str, str]] = []
    try:
        forms.append((USERNAME, canonical_username(login)))
    except IdentifierError:
        forms.append((LEGACY_USERNAME, lenient_username(login)))  # only rows kept from before the rules match it
    if split_email(login) is not None:
        forms.append((EMAIL, canonical_email(login)))
    return forms
