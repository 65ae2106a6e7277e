"""Every user-facing message that stands for an error id: the core's here, the flows' in their packages.

Steps and the engine speak in ids (``Failure("invalid_code")``, ``Ended("link_expired")``); pages
show :func:`message_for` of the id in the request's language. The core's ids are below; an id a
flow's step introduces is declared by the step (``errors = {"code_replayed": N_("...")}``) and
translated from the flow package's own catalog (:func:`init_app` takes them from the registry and
refuses one that would shadow a core id). An unknown id shows the generic message rather than the
id itself (R-45: generic error pages).
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask, current_app
from flask_babel import LazyString, gettext
from flask_babel import lazy_gettext as _l

from idp.flowengine.registry import FlowRegistry

MESSAGES: dict[str, LazyString] = {
    # attempts (the engine, idp/flowengine/attempts.py) and codes in general
    "too_many_attempts": _l("Too many attempts. Wait a few minutes, then try again."),
    "invalid_code": _l("This code is not valid. Check it and try again."),
    # flows
    "steps_out_of_order": _l("These steps must be taken in order. Please start again."),
    "no_method_available": _l("None of the ways to confirm your identity here is available for your account. Contact support."),
    "flow_expired": _l("This page has expired. Please start again."),
    "link_expired": _l("This link has expired; request a new one."),
    "link_used": _l("This link has already been used; request a new one."),
    # password policy (idp/security/passwords.py), wherever a new password is chosen
    "password_too_short": _l("This password is too short."),
    "password_too_long": _l("This password is too long."),
    "password_common": _l("This password is too common or appeared in a data breach. Choose another."),
    "password_contains_identity": _l("The password must not contain your username, your email or the name of the organisation."),
    "password_predictable": _l(
        "This password is too easy to guess: repeated or sequential characters, a keyboard row, a date or a common word. Choose another."
    ),
    "account_unavailable": _l("This account cannot be used. Contact support."),
    # HTTP-level pages
    "bad_request": _l("The request could not be understood."),
    "csrf_failed": _l("Your form expired or was sent from another page. Go back, reload the page and try again."),
    "not_found": _l("This page does not exist."),
    "method_not_allowed": _l("This page cannot be used that way."),
    "service_unavailable": _l("The service is temporarily unavailable. Please try again in a few minutes."),
    "server_error": _l("Something went wrong on our side. Please try again later."),
    # protocol errors shown as pages (never redirected to an unregistered URI)
    "invalid_request": _l("The sign-in request from the application is not valid."),
    "invalid_client": _l("The application asking you to sign in is not known."),
    "invalid_redirect_uri": _l("The application asked to send you to an address it has not registered."),
    "unauthorized_client": _l("This application is not allowed to sign you in this way."),
    "access_denied": _l("Access was denied."),
    "login_required": _l("You need to sign in again."),
    "session_expired": _l("Your session has expired. Please sign in again."),
}

GENERIC = "server_error"
#: Where the app keeps the installed flows' error texts (id → English msgid).
EXTENSION = "idp.flow_errors"


def init_app(app: Flask, registry: FlowRegistry) -> None:
    """Take the error ids the installed flows declare; one that would shadow a core id is refused."""
    texts = registry.error_texts()
    shadowed = sorted(set(texts) & set(MESSAGES))
    if shadowed:
        raise RuntimeError(f"flows declare error ids the core already has: {', '.join(shadowed)}")
    app.extensions[EXTENSION] = texts


def _flow_errors() -> Mapping[str, str]:
    texts: Mapping[str, str] = current_app.extensions.get(EXTENSION, {}) if current_app else {}
    return texts


def message_for(error: str | None) -> str:
    """The message for ``error`` in the current language (the generic one for an unknown id)."""
    core = MESSAGES.get(error or GENERIC)
    if core is not None:
        return str(core)
    text = _flow_errors().get(error or "")
    return gettext(text) if text else str(MESSAGES[GENERIC])


def known(error: str | None) -> bool:
    return bool(error) and (error in MESSAGES or error in _flow_errors())
