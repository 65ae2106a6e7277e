"""Tenant logos uploaded through the console: checked, stored in the database, served from this server.

Accepted: PNG and JPEG (recognised by their signature, whatever the browser called them), and SVG
with nothing active in it. An SVG is refused, not rewritten, when it declares a DOCTYPE or
entities, uses an element or attribute outside a small drawing vocabulary, has an event
handler (``on...``), or points anywhere but inside itself (``href`` not ``#...``, ``url(...)``
not ``url(#...)``). At most :data:`MAX_BYTES`. A logo is stored under its SHA-256, which the
tenant's ``branding.uploaded_logo`` names; the page layout links
``/realms/<tenant>/branding/logo/<sha256>`` (served with its checked content type, cached for
good since the address changes with the content).
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from idp.storage.models import TenantLogo
from idp.tenants.service import TenantError

if TYPE_CHECKING:  # pragma: no cover
    from idp.storage.database import Database
    from idp.tenants.service import TenantView

#: Largest logo accepted, in bytes.
MAX_BYTES = 256 * 1024
FIELD = "branding.logo_file"

PNG = b"\x89PNG\r\n\x1a\n"
JPEG = b"\xff\xd8\xff"
SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"

#: Drawing elements an SVG logo may use (no script, style, foreignObject, image, a, use of other files...).
SVG_ELEMENTS = frozenset(
    ["svg", "g", "defs", "title", "desc", "path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "text", "tspan", "linearGradient", "radialGradient", "stop", "clipPath", "mask", "symbol", "use"]
)
#: Presentation and geometry attributes an SVG logo may carry.
SVG_ATTRIBUTES = frozenset(
    ["id", "class", "version", "width", "height", "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "d", "points", "viewBox", "preserveAspectRatio", "transform", "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity", "stroke-linecap", "stroke-linejoin", "stroke-miterlimit", "stroke-dasharray", "stroke-dashoffset", "opacity", "clip-path", "clip-rule", "mask", "font-family", "font-size", "font-weight", "font-style", "text-anchor", "dominant-baseline", "letter-spacing", "offset", "stop-color", "stop-opacity", "gradientUnits", "gradientTransform", "spreadMethod", "fx", "fy", "clipPathUnits", "maskUnits", "maskContentUnits", "href", "role", "aria-label", "aria-hidden", "focusable", "xml:space"]
)
_EXTERNAL_URL = re.compile(r"url\(\s*['\"]?(?!#)", re.IGNORECASE)


class LogoError(TenantError):
    """The uploaded file is not an acceptable logo (422 naming :data:`FIELD`)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"{FIELD}: {message}", status=422, field=FIELD)


def content_type(data: bytes) -> str:
    """The content type of an acceptable logo, or :class:`LogoError` saying why it is refused."""
    if not data:
        raise LogoError("the file is empty")
    if len(data) > MAX_BYTES:
        raise LogoError(f"must be at most {MAX_BYTES // 1024} KB")
    if data.startswith(PNG):
        return "image/png"
    if data.startswith(JPEG):
        return "image/jpeg"
    check_svg(data)
    return "image/svg+xml"


def _local(name: str) -> tuple[str, str]:
    """``{namespace}local`` → (namespace, local)."""
    if name.startswith("{"):
        ns, _, local = name[1:].partition("}")
        return ns, local
    return "", name


def check_svg(data: bytes) -> None:
    """Refuse an SVG that is not plain drawing (see the module's docstring); anything not SVG is refused too."""
    lowered = data.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        raise LogoError("must be a PNG, JPEG or SVG image; an SVG may not declare a DOCTYPE or entities")
    # the parser drops processing instructions (e.g. an xml-stylesheet naming another site): refuse them
    if re.search(rb"<\?(?!xml\s)", data):
        raise LogoError("an SVG logo may only link inside itself")
    try:
        root = ET.fromstring(data)
    except (ET.ParseError, ValueError):
        raise LogoError("must be a PNG, JPEG or SVG image") from None
    if _local(root.tag) != (SVG_NS, "svg"):
        raise LogoError("must be a PNG, JPEG or SVG image")
    for element in root.iter():
        ns, tag = _local(str(element.tag))
        if ns != SVG_NS or tag not in SVG_ELEMENTS:
            raise LogoError(f"an SVG logo may not contain <{tag}>")
        for name, value in element.attrib.items():
            ans, attr = _local(name)
            qualified = f"xml:{attr}" if ans == "http://www.w3.org/XML/1998/namespace" else attr
            if ans not in ("", XLINK_NS, "http://www.w3.org/XML/1998/namespace") or qualified not in SVG_ATTRIBUTES:
                raise LogoError(f"an SVG logo may not carry the attribute {attr!r}")
            if attr == "href" and not value.startswith("#"):
                raise LogoError("an SVG logo may only link inside itself")
            # CSS escapes (``u\\72l(``) and image-set() could spell a link the pattern does not see
            if _EXTERNAL_URL.search(value) or "\\" in value or any(w in value.lower() for w in ("javascript:", "@import", "image-set(")):
                raise LogoError("an SVG logo may only link inside itself")


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LogoService:
    """Store and read tenants' uploaded logos."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def store(self, tenant: TenantView, data: bytes) -> str:
        """Check and keep ``data`` for ``tenant``; its SHA-256 (what ``branding.uploaded_logo`` takes)."""
        kind = content_type(data)
        digest = digest_of(data)
        with self.db.session() as s:
            if s.get(TenantLogo, (tenant.id, digest)) is None:
                s.add(TenantLogo(tenant_id=tenant.id, digest=digest, content_type=kind, data=data))
        return digest

    def get(self, tenant: TenantView, digest: str) -> TenantLogo | None:
        if not re.fullmatch(r"[0-9a-f]{64}", digest):
            return None
        with self.db.read() as s:
            return s.scalar(select(TenantLogo).where(TenantLogo.tenant_id == tenant.id, TenantLogo.digest == digest))

    def prune(self, tenant: TenantView) -> None:
        """Drop the tenant's logos but the one its configuration names (after a change of logo)."""
        keep = tenant.config.branding.uploaded_logo
        with self.db.session() as s:
            s.execute(delete(TenantLogo).where(TenantLogo.tenant_id == tenant.id, TenantLogo.digest != keep))
