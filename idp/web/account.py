"""The "not you?" link of recovery notices: confirm, then lock the account (R-15, R-19).

``GET /realms/<t>/account/lock?token=…`` remembers the (still unused) link for this
browser and redirects to the same page without the token (R-52); the page asks for
confirmation; the POST uses the link up and locks. Nothing changes on a GET: a mail
scanner that opens the link neither locks the account nor spends the link.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, redirect, request, url_for

from idp.web import csrf
from idp.web.browser import browser_binding
from idp.web.context import current_services as _services
from idp.web.flows import request_info
from idp.web.pages import render_page

bp = Blueprint("account", __name__)

#: Seconds the browser has to confirm after opening the link.
CONFIRM_TTL = 900


def _tenant(slug: str) -> Any:
    tenant = _services().tenants.get(slug)
    if tenant is None:
        abort(404)
    return tenant


def _pending_key(tenant: Any) -> str:
    return f"{tenant.slug}:lock-pending:{browser_binding()}"


@bp.get("/realms/<tenant>/account/lock")
def lock_page(tenant: str) -> Response:
    """Opening the link only remembers it for this browser (a mail scanner's visit uses nothing up)."""
    view = _tenant(tenant)
    token = request.args.get("token")
    store = _services().store
    if token is not None:
        key = _services().locks.peek(view, token)
        if key is None:
            return render_page("error.html", status=400, tenant=view, error="link_expired")
        store.upsert(_pending_key(view), {"key": key}, CONFIRM_TTL)
        return redirect(url_for("account.lock_page", tenant=view.slug), 303)  # the token leaves the address bar
    if store.find(_pending_key(view)) is None:
        return render_page("error.html", status=400, tenant=view, error="link_expired")
    return render_page("account/lock.html", tenant=view, action=url_for("account.lock_confirm", tenant=view.slug))


@bp.post("/realms/<tenant>/account/lock")
def lock_confirm(tenant: str) -> Response:
    """The confirming POST uses the link up and locks the account."""
    view = _tenant(tenant)
    csrf.protect()
    pending = _services().store.take(_pending_key(view))
    user_id = _services().locks.redeem(pending["key"]) if pending is not None else None
    if user_id is None:
        return render_page("error.html", status=400, tenant=view, error="link_expired")
    _services().users.lock(view, user_id, request_info())
    return render_page("account/locked.html", tenant=view)
