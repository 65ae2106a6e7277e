"""The dev outbox page: ``/dev/outbox`` lists what the outbox backends wrote (never in production).

The page shows codes and links in clear, so it answers 404 when ``IDP_ENV=production``
and is never cached. The HTML part of a mail is in the outbox folder next to its record
(``<stem>.html``), to open in a browser as the recipient would see it.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, current_app

from idp.messaging.outbox import read_outbox
from idp.messaging.rendering import render_page

bp = Blueprint("dev_outbox", __name__, url_prefix="/dev/outbox")


@bp.before_request
def _development_only() -> None:
    if current_app.extensions["idp"].settings.is_production:
        abort(404)


@bp.get("")
def index() -> Response:
    """Every message, newest first."""
    settings = current_app.extensions["idp"].settings
    messages = list(reversed(read_outbox(settings.outbox_path)))
    page = render_page(
        "dev/outbox.html", messages=messages, path=str(settings.outbox_path)
    )
    response = Response(page, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
