"""Request IDs: taken from ``X-Request-ID`` when well-formed, else generated; echoed on the response.

A well-formed ID is 8 to 128 characters of letters, digits and ``-_.:``; anything
else (too long, spaces, control characters) is replaced, so a client cannot
forge log lines or inflate them through this header.
"""

from __future__ import annotations

import re
import secrets

HEADER = "X-Request-ID"
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{8,128}\Z")


def request_id_from(header_value: str | None) -> str:
    """The client's ID when well-formed, else a new random one (128 bits, hex)."""
    if header_value and _WELL_FORMED.match(header_value):
        return header_value
    return secrets.token_hex(16)
