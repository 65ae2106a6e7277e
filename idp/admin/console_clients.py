"""The console's client page and signing keys: edit a client; list and rotate the tenant's keys.

``/admin/console/realms/<tenant>/clients/<client id>`` edits a client's name, redirect URIs,
post-logout redirect URIs, scope, consent flag, front- and back-channel logout registration, and whether it must use
pushed authorization requests (RFC 9126) and DPoP (RFC 9449) through :meth:`AdminActions.update_client` (the admin API's
``PATCH``; the client service checks every URI); ``/keys`` lists the signing keys and rotates them
through :meth:`AdminActions.rotate_key`. Listing, registering, new secrets and removal are on the
clients page (:mod:`idp.admin.console`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import Response, redirect, request, url_for
from flask_babel import lazy_gettext as _l

from idp.admin.actions import AdminActions
from idp.admin.console import CLIENT_ID, DONE, REFUSALS, _actions, _page, _services, bp
from idp.admin.console_messages import translate
from idp.admin.console_settings import Field
from idp.web import csrf
from idp.web.pages import render_page

FIELDS = (
    Field("name", _l("Name")),
    Field("redirect_uris", _l("Redirect URIs"), "lines", _l("One per line; https, or http on a loopback address.")),
    Field("post_logout_redirect_uris", _l("Post-logout redirect URIs"), "lines", _l("One per line.")),
    Field("scope", _l("Scopes"), hint=_l("Space-separated, e.g. openid profile email.")),
    Field("response_modes", _l("Response modes"), hint=_l("query, form_post, or both (space- or comma-separated). New clients get both.")),
    Field("consent_required", _l("Third-party client: ask users to consent"), "bool", _l("Users approve the scopes it asks for on a consent page, remembered per user.")),
    Field("frontchannel_logout_uri", _l("Front-channel logout URI"), "url", _l("Framed by the logout page to sign the user out of this application; https, or http on a loopback address. Empty: none.")),
    Field("frontchannel_logout_session_required", _l("Front-channel logout: send iss and sid"), "bool"),
    Field("backchannel_logout_uri", _l("Back-channel logout URI"), "url", _l("Where logout tokens are posted when a session ends; https, or http on a loopback address. Empty: none.")),
    Field("backchannel_logout_session_required", _l("Back-channel logout: the token carries sid"), "bool"),
    Field(
        "require_pushed_authorization_requests",
        _l("Require pushed authorization requests (PAR)"),
        "bool",
        _l("The application must post its sign-in requests to the PAR endpoint first; a plain request is refused."),
    ),
    Field(
        "dpop_bound_access_tokens",
        _l("Require DPoP-bound tokens"),
        "bool",
        _l("Every token request must carry a DPoP proof: tokens only work with the application's own key."),
    ),
)
#: The check boxes of the form (absent from a post when unticked).
FLAGS = (
    "consent_required",
    "frontchannel_logout_session_required",
    "backchannel_logout_session_required",
    "require_pushed_authorization_requests",
    "dpop_bound_access_tokens",
)
DONE.update({"key_rotated": _l("A new signing key was published; it signs once the current key's tokens can be checked with it.")})


def _values(client: Any) -> dict[str, Any]:
    return {
        "name": client.name,
        "redirect_uris": list(client.redirect_uris),
        "post_logout_redirect_uris": list(client.post_logout_redirect_uris),
        "scope": client.scope,
        "response_modes": list(client.response_modes),
        "consent_required": client.consent_required,
        "frontchannel_logout_uri": client.frontchannel_logout_uri,
        "frontchannel_logout_session_required": client.frontchannel_logout_session_required,
        "backchannel_logout_uri": client.backchannel_logout_uri,
        "backchannel_logout_session_required": client.backchannel_logout_session_required,
        **client.security_flags(),
    }


def _client_page(do: AdminActions, slug: str, client_id: str, status: int = 200, values: Mapping[str, Any] | None = None, errors: Mapping[str, str] | None = None, refusal: str = "") -> Response:
    view = do.tenant(slug)
    client = _services().clients.get(view, client_id) if client_id != CLIENT_ID else None
    if client is None:
        return render_page("404.html", status=404, tenant=view)
    shown = dict(values or _values(client))
    for name in ("redirect_uris", "post_logout_redirect_uris"):
        shown[name] = "\n".join(shown[name])
    shown["response_modes"] = " ".join(shown["response_modes"])
    return _page("admin/client.html", do, slug, status=status, client=client, fields=FIELDS, values=shown, errors=errors or {}, refusal=refusal)


@bp.get("/realms/<tenant>/clients/<client_id>")
def client(tenant: str, client_id: str) -> Response:
    return _client_page(_actions(tenant), tenant, client_id)


@bp.post("/realms/<tenant>/clients/<client_id>/edit")
def client_edit(tenant: str, client_id: str) -> Response:
    csrf.protect()
    do = _actions(tenant)
    if client_id == CLIENT_ID:
        return render_page("404.html", status=404)
    values = {
        "name": request.form.get("name", "").strip(),
        "redirect_uris": request.form.get("redirect_uris", "").split(),
        "post_logout_redirect_uris": request.form.get("post_logout_redirect_uris", "").split(),
        "scope": " ".join(request.form.get("scope", "").split()),
        "response_modes": [m for m in re.split(r"[\s,]+", request.form["response_modes"]) if m] if "response_modes" in request.form else None,
        "frontchannel_logout_uri": request.form.get("frontchannel_logout_uri", "").strip(),
        "backchannel_logout_uri": request.form.get("backchannel_logout_uri", "").strip(),
        **{flag: flag in request.form for flag in FLAGS},
    }
    try:
        current = _services().clients.get(do.tenant(tenant), client_id)
        if values["response_modes"] is None:  # a form without the field (an older page) leaves them as they are
            values["response_modes"] = list(current.response_modes) if current is not None else ["query", "form_post"]
        changes = {k: v for k, v in values.items() if current is None or v != _values(current)[k]}
        if changes or current is None:
            do.update_client(tenant, client_id, changes)
    except REFUSALS as exc:
        field = getattr(exc, "field", "") or ""
        if field in {f.path for f in FIELDS}:
            return _client_page(do, tenant, client_id, int(exc.status), values, {field: translate(str(exc), field)})
        return _client_page(do, tenant, client_id, int(exc.status), values, refusal=str(exc))
    return redirect(url_for(".client", tenant=tenant, client_id=client_id, done="saved"), 303)  # type: ignore[return-value]


@bp.get("/realms/<tenant>/keys")
def keys(tenant: str) -> Response:
    do = _actions(tenant)
    return _page("admin/keys.html", do, tenant, keys=_services().keys.list(do.tenant(tenant)))


@bp.post("/realms/<tenant>/keys")
def key_rotate(tenant: str) -> Response:
    csrf.protect()
    do = _actions(tenant)
    try:
        do.rotate_key(tenant, None)
    except REFUSALS as exc:
        return _page("admin/keys.html", do, tenant, status=int(exc.status), keys=_services().keys.list(do.tenant(tenant)), refusal=str(exc))
    return redirect(url_for(".keys", tenant=tenant, done="key_rotated"), 303)  # type: ignore[return-value]
