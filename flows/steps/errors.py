"""The error ids the shared steps answer with, and their English text (translated from this package's
catalog, ``flows/steps/translations``). Each step declares the ones it uses (``Step.errors``)."""

from __future__ import annotations

from collections.abc import Mapping

from idp.flowengine.contract import N_

TEXTS: Mapping[str, str] = {
    # sign-in (R-28: one message whether the account exists or not)
    "invalid_credentials": N_("Invalid username or password."),
    "missing_credentials": N_("Enter your username or email and your password."),
    "missing_password": N_("Enter your password."),
    # codes
    "code_expired": N_("This code has expired. Request a new one."),
    "code_replayed": N_("This code was already used. Wait for the next code in your app."),
    "code_exhausted": N_("Too many wrong codes: this code no longer works. Ask for a new one."),
    # sending an SMS code
    "no_phone": N_("No phone number is on file for your account."),
    "sms_unavailable": N_("We cannot send you a text message right now."),
    "sms_cooldown": N_("A code was sent moments ago. Wait a little, then ask for a new one."),
    "sms_cap_reached": N_("Too many codes were sent today. Try again tomorrow, or contact support."),
    "sms_opted_out": N_("Your phone number has opted out of text messages, so no code can be sent. Contact support."),
}


def texts_of(*ids: str) -> Mapping[str, str]:
    """The texts of ``ids`` (a step's ``errors``)."""
    return {i: TEXTS[i] for i in ids}
