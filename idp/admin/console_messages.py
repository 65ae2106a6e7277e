"""The console's words for the services' refusals: the rule's message in the page's language.

The services (tenant configuration, flow settings, accounts) refuse with one plain English line
``"<field>: <rule>"`` and the field's name; the API answers that line as it is. The console shows
the rule next to its field, translated here when it is one of the known rules; a rule this table
does not know yet is shown as the service wrote it (still next to its field). Nothing here decides
whether a value is valid.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

from idp.web.messages import known, message_for

#: Rules without variable parts, as :mod:`idp.tenants.config` and the flows' settings word them.
EXACT = {
    "must be a colour like #1f4fd1": _l("must be a colour like #1f4fd1"),
    "must be an https URL": _l("must be an https URL"),
    "must be an http(s) or mailto: URL": _l("must be an http(s) or mailto: URL"),
    "must be an https or mailto: URL": _l("must be an https or mailto: URL"),
    "must be RS256 or ES256": _l("must be RS256 or ES256"),
    "must be between 1 and 600 seconds": _l("must be between 1 and 600 seconds"),
    "must be between 1 and 600 seconds (R-11)": _l("must be between 1 and 600 seconds"),
    "must be a positive number of seconds": _l("must be a positive number of seconds"),
    "must not exceed tokens.sso_max_ttl": _l("must not exceed the absolute session lifetime"),
    "must be 8 or more": _l("must be 8 or more"),
    "must be between min_length and 1024": _l("must be between the minimum length and 1024"),
    "must be 1 to 11 letters or digits": _l("must be 1 to 11 letters or digits"),
    "must be between 1 and 10": _l("must be between 1 and 10"),
    "must be an email address": _l("must be an email address"),
    "must be 'off', 'optional' or 'required'": _l("must be off, optional or required"),
    "must be 'en' or 'fr'": _l("must be English or French"),
    "is not a known setting": _l("is not a known setting"),
    "must be an object": _l("must be an object"),
    "must be true or false": _l("must be true or false"),
    "must be a whole number": _l("must be a whole number"),
    "must be a string": _l("must be a string"),
    "must be a list of strings": _l("must be a list of strings"),
    "must be between 60 and 86400 seconds": _l("must be between 60 and 86400 seconds"),
    "at least one recovery path must be offered": _l("at least one recovery path must be offered"),
    "names a step twice": _l("names a step twice"),
    "must be an ISO 8601 date and time": _l("must be a date and time"),
    "experience must be 'v2' or 'legacy'": _l("must be the new or the legacy login experience"),
    "no mail channel is configured (set IDP_MAIL_BACKEND=ses)": _l("no mail channel is configured (set IDP_MAIL_BACKEND=ses)"),
    "no SMS channel is configured (set IDP_SMS_BACKEND=sns)": _l("no SMS channel is configured (set IDP_SMS_BACKEND=sns)"),
    "the tenant's users do not keep local passwords, which the recovery asks for": _l(
        "the tenant's users do not keep local passwords, which the recovery asks for"
    ),
    "must be the SHA-256 of an uploaded logo": _l("must name a logo uploaded here"),
    "the file is empty": _l("the file is empty"),
    "must be a PNG, JPEG or SVG image": _l("must be a PNG, JPEG or SVG image"),
    "must be a PNG, JPEG or SVG image; an SVG may not declare a DOCTYPE or entities": _l("must be a PNG, JPEG or SVG image; an SVG may not declare a DOCTYPE or entities"),
    "an SVG logo may only link inside itself": _l("an SVG logo may only link inside itself"),
    "a client needs at least one response mode": _l("a client needs at least one response mode"),
    "response_modes must be a list of response modes": _l("must be a list of response modes"),
}

#: Rules with a variable part: (pattern of the English line, translated message using its groups).
PATTERNS = (
    (re.compile(r"^'(?P<value>[^']*)' is not a country calling code$"), _l("%(value)s is not a country calling code")),
    (re.compile(r"^unknown step '(?P<value>[^']*)' \(known: (?P<known>.*)\)$"), _l("unknown step %(value)s (known: %(known)s)")),
    (re.compile(r"^must end with the '(?P<value>[^']*)' step$"), _l("must end with the %(value)s step")),
    (re.compile(r"^reaches 'factor replaced' without proving: (?P<value>.*)$"), _l("replaces the factor without proving: %(value)s")),
    (re.compile(r"^reaches 'password replaced' without proving: (?P<value>.*)$"), _l("replaces the password without proving: %(value)s")),
    (re.compile(r"^must be at most (?P<value>\d+) KB$"), _l("must be at most %(value)s KB")),
    (re.compile(r"^an SVG logo may not contain <(?P<value>[^>]*)>$"), _l("an SVG logo may not contain <%(value)s>")),
    (re.compile(r"^an SVG logo may not carry the attribute '(?P<value>[^']*)'$"), _l("an SVG logo may not carry the attribute %(value)s")),
    (re.compile(r"^the password must have at least (?P<value>\d+) characters$"), _l("must have at least %(value)s characters")),
    (re.compile(r"^the password must have at most (?P<value>\d+) characters$"), _l("must have at most %(value)s characters")),
    (
        re.compile(r"^the tenant is on the legacy login experience: migrate it first \((?P<value>.*)\)$"),
        _l("the tenant is on the legacy login experience: migrate it first (%(value)s)"),
    ),
    (re.compile(r"^invalid tenant name '(?P<value>.*)': use lower-case letters, digits and dashes$"), _l("%(value)s is not a valid tenant name: use lower-case letters, digits and dashes")),
    (re.compile(r"^tenant '(?P<value>.*)' already exists$"), _l("%(value)s already exists")),
    (re.compile(r"^redirect URI '(?P<value>.*)' must use https \(http only on a loopback address\)$"), _l("redirect URI %(value)s must use https (http only on a loopback address)")),
    (re.compile(r"^redirect URI '(?P<value>.*)' must be absolute$"), _l("redirect URI %(value)s must be absolute")),
    (re.compile(r"^invalid redirect URI '(?P<value>.*)'$"), _l("%(value)s is not a valid redirect URI")),
    (re.compile(r"^unsupported scope '(?P<value>[^']*)'.*$"), _l("unsupported scope %(value)s")),
    (re.compile(r"^unsupported response mode '(?P<value>[^']*)'.*$"), _l("unsupported response mode %(value)s: use query or form_post")),
    (re.compile(r"^must be between (?P<low>\d+) and (?P<high>\d+) seconds$"), _l("must be between %(low)s and %(high)s seconds")),
    (re.compile(r"^must be between (?P<low>\d+) and (?P<high>\d+) characters$"), _l("must be between %(low)s and %(high)s characters")),
    (re.compile(r"^must be between (?P<low>\d+) and (?P<high>\d+)$"), _l("must be between %(low)s and %(high)s")),
    (re.compile(r"^invalid username '(?P<value>.*)': a username cannot contain spaces$"), _l("%(value)s is not a valid username: it cannot contain spaces")),
    (
        re.compile(r"^invalid username '(?P<value>.*)': a username cannot contain invisible characters$"),
        _l("%(value)s is not a valid username: it cannot contain invisible characters"),
    ),
    (
        re.compile(r"^invalid username '(?P<value>.*)': a username cannot mix letters of different scripts.*$"),
        _l("%(value)s is not a valid username: it cannot mix letters of different scripts (e.g. Latin and Cyrillic)"),
    ),
    (re.compile(r"^invalid username '(?P<value>.*?)'(: .*)?$"), _l("%(value)s is not a valid username")),
    (re.compile(r"^invalid email address '(?P<value>.*)'$"), _l("%(value)s is not a valid email address")),
    (re.compile(r"^invalid phone number '(?P<value>.*)': use the international form.*$"), _l("%(value)s is not a phone number: use the international form, e.g. +33612345678")),
    (re.compile(r"^invalid phone number '(?P<value>.*)'$"), _l("%(value)s is not a valid phone number")),
    (re.compile(r"^phone numbers from \+(?P<value>\d+) are not allowed for this tenant$"), _l("numbers from +%(value)s are not allowed")),
    (re.compile(r"^username '(?P<value>.*)' is already taken in tenant .*$"), _l("%(value)s is already taken")),
    (re.compile(r"^email '(?P<value>.*)' is already used in tenant .*$"), _l("%(value)s is already used by another account")),
    (re.compile(r"^locale must be 'en' or 'fr'$"), _l("must be English or French")),
)


#: A flow refused with the reasons of its compatibility check, joined by "; ".
_CANNOT_ENABLE = re.compile(r"^cannot enable (?P<flow>\S+) for tenant '(?P<tenant>[^']*)': (?P<reasons>.*)$")


def rule_of(message: str, field: str) -> str:
    """The rule part of a service's line: ``"sms.code_ttl: must be ..."`` → ``"must be ..."``."""
    prefix = f"{field}: "
    return message[len(prefix) :] if field and message.startswith(prefix) else message


def translate(message: str, field: str = "", code: str = "") -> str:
    """The service's refusal in the page's language when the rule is known, else as the service wrote it.

    ``code``: the stable reason some refusals carry (the password policy's), worded by :mod:`idp.web.messages`
    when no rule here words it.
    """
    rule = rule_of(message, field)
    refused = _CANNOT_ENABLE.match(rule)
    if refused:
        reasons = "; ".join(translate(reason) for reason in refused["reasons"].split("; "))
        return str(_l("%(flow)s cannot be enabled for %(tenant)s: %(reasons)s")) % {**refused.groupdict(), "reasons": reasons}
    exact = EXACT.get(rule)
    if exact is not None:
        return str(exact)
    for pattern, words in PATTERNS:
        match = pattern.match(rule)
        if match:
            return str(words) % match.groupdict()
    for reason in (code, f"password_{code}"):  # the password policy's reasons, as the hosted pages word them
        if code and known(reason):
            return message_for(reason)
    return rule
