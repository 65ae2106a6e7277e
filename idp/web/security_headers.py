"""Security headers on every response (R-45, R-56, R-66, R-68).

- ``Content-Security-Policy`` without ``'unsafe-inline'``: styles come from our
  own stylesheet, plus one ``<style>`` block for the tenant colour carrying a
  per-request nonce (:func:`csp_nonce`); no scripts at all, except on a page that
  asks for :func:`csp_script_nonce` (the form post page's one-line auto-submit:
  ``script-src`` then allows that nonce only); ``frame-ancestors 'none'``; no frames, except on
  the end_session page, which frames the relying parties' front-channel logout URIs
  (:func:`csp_allow_frames`: ``frame-src`` then lists exactly their origins).
- ``X-Frame-Options: DENY`` for browsers that ignore ``frame-ancestors`` (R-66).
- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` (R-68).
- ``Strict-Transport-Security`` (one year) when the public URL is https.
- ``Cache-Control: no-store`` on every response that did not choose its own
  caching (pages, token and error responses; the JWKS sets its own), and a
  short public cache for our static files.

Only a page that rendered the ``<style>`` block asks for a nonce (:func:`csp_nonce`);
other responses (JSON, redirects, the token endpoint) get the same policy without
one, built once: the protocol endpoints are hot paths (issue 7).

``form-action`` is left out on purpose: Chromium applies it to the whole
redirect chain after a form post, which would block the final redirect to a
relying party's registered ``redirect_uri``; and the form post page
(``response_mode=form_post``) posts straight to that ``redirect_uri``.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, current_app, g, request

HSTS = "max-age=31536000; includeSubDomains"
STATIC_CACHE = "public, max-age=3600"


def csp_nonce() -> str:
    """This request's CSP nonce (for the one ``<style>`` block of the layout)."""
    nonce = g.get("_idp_csp_nonce")
    if nonce is None:
        nonce = g._idp_csp_nonce = secrets.token_urlsafe(18)
    return str(nonce)


def csp_script_nonce() -> str:
    """This request's CSP nonce for a ``<script>`` block: the policy then allows scripts carrying it, and no others.

    Only the form post page asks for it (``templates/form_post.html``); every other page runs no script.
    """
    g._idp_csp_scripts = True
    return csp_nonce()


def csp_allow_frames(origins: list[str]) -> None:
    """Let this response's page frame ``origins`` (``scheme://host[:port]`` each): ``frame-src`` lists them, no others.

    Only the end_session page asks, for the relying parties' front-channel logout URIs.
    """
    g._idp_frame_src = [o for o in origins if o and all(c not in o for c in " ;,'\"")]


def content_security_policy(nonce: str | None, scripts: bool = False, frames: tuple[str, ...] = ()) -> str:
    """The policy; ``style-src`` allows the nonce's ``<style>`` block only when a page asked for one, and
    ``script-src`` (absent otherwise: ``default-src 'none'`` forbids every script) the nonce's ``<script>``
    blocks only when ``scripts``; ``frame-src`` (absent otherwise) the origins in ``frames``."""
    style = f"style-src 'self' 'nonce-{nonce}'" if nonce else "style-src 'self'"
    script = (f"script-src 'nonce-{nonce}'",) if nonce and scripts else ()
    frame = (f"frame-src {' '.join(frames)}",) if frames else ()
    return "; ".join(
        (
            "default-src 'none'",
            *script,
            *frame,
            style,
            "img-src 'self' https: data:",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        )
    )


#: The policy of every response that rendered no nonce (JSON, redirects, errors without a page).
CSP_WITHOUT_NONCE = content_security_policy(None)
#: Headers that never change.
FIXED_HEADERS = (
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)


def _apply(response: Response) -> Response:
    headers = response.headers
    nonce = g.get("_idp_csp_nonce")
    frames = tuple(g.get("_idp_frame_src") or ())
    if nonce or frames:
        headers["Content-Security-Policy"] = content_security_policy(nonce, bool(g.get("_idp_csp_scripts")), frames)
    else:
        headers["Content-Security-Policy"] = CSP_WITHOUT_NONCE
    for name, value in FIXED_HEADERS:
        headers[name] = value
    if current_app.extensions["idp"].settings.public_url.startswith("https://"):
        headers["Strict-Transport-Security"] = HSTS
    if "Cache-Control" not in headers:
        if request.endpoint == "static":
            headers["Cache-Control"] = STATIC_CACHE
        else:
            headers["Cache-Control"] = "no-store"
            headers["Pragma"] = "no-cache"
    return response


def init_app(app: Flask) -> None:
    app.after_request(_apply)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.globals["csp_script_nonce"] = csp_script_nonce
