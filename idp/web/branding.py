"""What the hosted pages show of a tenant and serve from this server: its uploaded logo.

``GET /realms/<tenant>/branding/logo/<sha256>``: the logo stored by :mod:`idp.tenants.logos`,
with the content type found when it was checked; its address changes with its content, so it is
cached for a year. Unknown tenant or digest: 404.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app

bp = Blueprint("branding", __name__)

#: The address changes with the content: cache it for good.
CACHE = "public, max-age=31536000, immutable"


@bp.get("/realms/<tenant>/branding/logo/<digest>")
def logo(tenant: str, digest: str) -> Response:
    services = current_app.extensions["idp"]
    view = services.tenants.get(tenant)
    found = services.logos.get(view, digest) if view is not None else None
    if found is None:
        return Response("not found", status=404, mimetype="text/plain")
    response = Response(found.data, mimetype=found.content_type)
    response.headers["Cache-Control"] = CACHE
    response.headers["Content-Disposition"] = "inline"
    return response
