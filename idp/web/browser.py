"""The browser binding: a random, HttpOnly cookie that ties server-side flow state to one browser (R-99).

Flow states store the digest of this value; a state is only ever loaded for the
browser that started it.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g, request

from idp.security.secrets import random_token

COOKIE = "idp_browser"


def cookie_name() -> str:
    """``__Host-idp_browser`` on https (Secure, host-only, path /: no sibling domain can plant it, R-42)."""
    return "__Host-" + COOKIE if current_app.config.get("SESSION_COOKIE_SECURE", False) else COOKIE


def browser_binding() -> str:
    """Digest of this browser's binding cookie, creating the cookie (set on the response) if needed (computed once
    per request: a flow request asks for it several times)."""
    digest = g.get("_idp_browser_digest")
    if digest is not None:
        return str(digest)
    value = g.get("_idp_browser")
    if value is None:
        value = request.cookies.get(cookie_name(), "")
        if len(value) < 32 or len(value) > 64:
            value = random_token(32)
            g._idp_browser_new = True
        g._idp_browser = value
    digest = g._idp_browser_digest = current_app.extensions["idp"].secrets.digest(value, "browser")
    return str(digest)


def _set_cookie(response: Response) -> Response:
    if g.get("_idp_browser_new"):
        secure = current_app.config.get("SESSION_COOKIE_SECURE", False)
        response.set_cookie(cookie_name(), g._idp_browser, httponly=True, samesite="Lax", secure=secure, path="/")
    return response


def init_app(app: Flask) -> None:
    app.after_request(_set_cookie)
