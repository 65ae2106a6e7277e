"""Masks for recipients in logs and pages (R-46): enough to tell two apart, not to contact one."""

from __future__ import annotations


def mask_email(address: str) -> str:
    """``alice.martin@example.com`` → ``a***@e***.com``."""
    local, sep, domain = address.rpartition("@")
    if not sep or not local:
        return "***"
    host, dot, tld = domain.rpartition(".")
    if not dot:
        host, tld = domain, ""
    masked_domain = (host[:1] + "***" + (("." + tld) if tld else "")) if host else "***"
    return f"{local[:1]}***@{masked_domain}"


def mask_phone(number: str) -> str:
    """``+33612345678`` → ``+33*******78``: the country prefix and the last two digits."""
    digits = number.lstrip("+")
    if len(digits) < 6:
        return "***"
    keep_head = 2
    return "+" + digits[:keep_head] + "*" * (len(digits) - keep_head - 2) + digits[-2:]
