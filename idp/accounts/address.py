"""The postal address of a user: the OIDC Core §5.1.1 ``address`` claim, checked once for the CLI and the admin API.

Its members are ``formatted``, ``street_address``, ``locality``, ``region``, ``postal_code`` and
``country``, each a string; ``formatted`` and ``street_address`` may hold line breaks (§5.1.1). Only
the members that are set are kept; an address with none is no address (None).
"""

from __future__ import annotations

from typing import Any

#: The members of the claim (OIDC Core §5.1.1), in the order the spec lists them.
ADDRESS_FIELDS = ("formatted", "street_address", "locality", "region", "postal_code", "country")
#: Members that may span several lines.
MULTILINE = ("formatted", "street_address")
#: Longest member accepted.
MAX_LENGTH = 400


class AddressError(ValueError):
    """An address was refused: one plain line, and the member at fault (``address.locality``)."""

    def __init__(self, message: str, field: str = "address") -> None:
        super().__init__(message)
        self.field = field


def normalise_address(value: Any) -> dict[str, str] | None:
    """``value`` (a mapping of the §5.1.1 members) trimmed, its empty members dropped; None when nothing is left.

    ``\\r\\n`` line breaks become ``\\n``. Raises :class:`AddressError` on an unknown member, a value that is not a
    string, a line break outside ``formatted``/``street_address``, or a member longer than :data:`MAX_LENGTH`.
    """
    if value is None:
        return None
    if not isinstance(value, dict):
        raise AddressError("address must be an object with the members " + ", ".join(ADDRESS_FIELDS))
    out: dict[str, str] = {}
    for name, raw in value.items():
        if name not in ADDRESS_FIELDS:
            raise AddressError(f"unknown address member {name!r}: use {', '.join(ADDRESS_FIELDS)}", field=f"address.{name}")
        if raw is None:
            continue
        if not isinstance(raw, str):
            raise AddressError(f"address.{name} must be a string", field=f"address.{name}")
        text = raw.replace("\r\n", "\n").strip()
        if "\n" in text and name not in MULTILINE:
            raise AddressError(f"address.{name} must be one line", field=f"address.{name}")
        if len(text) > MAX_LENGTH:
            raise AddressError(f"address.{name} must be at most {MAX_LENGTH} characters", field=f"address.{name}")
        if text:
            out[name] = text
    return {k: out[k] for k in ADDRESS_FIELDS if k in out} or None
