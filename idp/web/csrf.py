"""CSRF defence for every form of the hosted pages (R-42).

The token is a keyed hash of this browser's binding cookie
(:func:`idp.web.browser.browser_binding`, random and HttpOnly): a page from
another site can neither read it nor compute it, and a token never works in
another browser. Forms carry it as ``csrf_token``; views that handle a form
call :func:`protect` first. A failed check is :class:`CsrfError`, shown as a
400 page in the user's language.
"""

from __future__ import annotations

import hmac

from flask import Flask, current_app, request
from werkzeug.exceptions import BadRequest

from idp.web.browser import browser_binding

FIELD = "csrf_token"


class CsrfError(BadRequest):
    """The form's CSRF token is missing or does not belong to this browser."""

    description = "csrf_failed"


def csrf_token() -> str:
    """The token for this browser's forms."""
    return str(current_app.extensions["idp"].secrets.digest(browser_binding(), "csrf"))


def protect() -> None:
    """Refuse the current form post unless it carries this browser's token."""
    sent = request.form.get(FIELD, "")
    if not sent or not hmac.compare_digest(sent.encode(), csrf_token().encode()):
        raise CsrfError()


def init_app(app: Flask) -> None:
    app.jinja_env.globals["csrf_token"] = csrf_token
