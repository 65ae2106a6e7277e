"""Every user-facing message that stands for an error id, in one place.

Steps and the engine speak in ids (``Failure("invalid_credentials")``,
``Ended("link_expired")``); pages show :func:`message_for` of the id in the
request's language. Add the id here (and its French translation to the
catalog) when a step introduces a new one; an unknown id shows the generic
message rather than the id itself (R-45: generic error pages).
"""

from __future__ import annotations

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

MESSAGES: dict[str, LazyString] = {
    # sign-in (R-28: one message whether the account exists or not)
    "invalid_credentials": _l("Invalid username or password."),
    "missing_credentials": _l("Enter your username or email and your password."),
    "missing_password": _l("Enter your password."),
    "too_many_attempts": _l("Too many attempts. Wait a few minutes, then try again."),
    "invalid_code": _l("This code is not valid. Check it and try again."),
    "code_expired": _l("This code has expired. Request a new one."),
    # flows
    "steps_out_of_order": _l("These steps must be taken in order. Please start again."),
    "flow_expired": _l("This page has expired. Please start again."),
    "link_expired": _l("This link has expired; request a new one."),
    "link_used": _l("This link has already been used; request a new one."),
    "no_phone": _l("No phone number is on file for your account."),
    "sms_unavailable": _l("We cannot send you a text message right now."),
    # second factors (flows/steps/totp.py, sms.py, totp_setup.py)
    "code_replayed": _l("This code was already used. Wait for the next code in your app."),
    "code_exhausted": _l("Too many wrong codes: this code no longer works. Ask for a new one."),
    "sms_cooldown": _l("A code was sent moments ago. Wait a little, then ask for a new one."),
    "sms_cap_reached": _l("Too many codes were sent today. Try again tomorrow, or contact support."),
    "sms_opted_out": _l("Your phone number has opted out of text messages, so no code can be sent. Contact support."),
    # self-recovery (flows/self_recovery)
    "login_missing": _l("Enter your username or email."),
    "choose_a_path": _l("Choose what you would like to reset."),
    "passwords_differ": _l("The two passwords do not match."),
    "password_too_short": _l("This password is too short."),
    "password_too_long": _l("This password is too long."),
    "password_common": _l("This password is too common or appeared in a data breach. Choose another."),
    "password_matches_identity": _l("The password must not be your username or email."),
    "second_factor_required": _l("Your account has a second factor: prove it before choosing a new password, or contact support."),
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


def message_for(error: str | None) -> str:
    """The message for ``error`` in the current language (the generic one for an unknown id)."""
    return str(MESSAGES.get(error or GENERIC, MESSAGES[GENERIC]))


def known(error: str | None) -> bool:
    return bool(error) and error in MESSAGES
