"""JSON logs: one line per request and per event, with the request ID, never a secret (R-46).

:class:`RedactingFilter` is the single place that scrubs what reaches a log:
query-string and ``key=value`` parameters that carry codes, tokens, state or
passwords, bearer credentials and JWTs are replaced by ``[redacted]``; email
addresses and phone numbers are masked (``a***@example.com``, ``+*********23``).
It sits on the JSON handler (so it sees every ``idp.*`` record) and on the
``werkzeug`` and granian's loggers, whose request lines and errors carry raw URLs.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
import time
from typing import IO, Any

from flask import g, has_request_context

#: Parameter names whose values never reach a log.
SENSITIVE_NAMES = (
    "code", "token", "access_token", "refresh_token", "id_token", "id_token_hint", "logout_token",
    "state", "nonce", "code_verifier", "client_secret", "client_assertion", "password", "new_password",
    "current_password", "otp", "totp", "secret", "session_state", "ticket", "csrf_token",
    "authorization", "cookie", "set-cookie", "recovery_token", "reset_token", "link_token",
)
#: Parameters of a URL or a message whose values are dropped: the secrets, and who the user is.
PARAM_NAMES = (*SENSITIVE_NAMES, "login_hint", "email", "phone", "phone_number", "username")
_NAMES = "|".join(sorted((re.escape(n) for n in PARAM_NAMES), key=len, reverse=True))
#: ``?code=...``, ``&state=...`` in URLs, and ``password=...`` in free text.
_PARAM = re.compile(r"(?i)((?:^|[?&;\s,(\[{])(?:" + _NAMES + r")=)(?:\[redacted\]|[^&\s\"'#;,)\]}]*)")
#: ``"token": "..."`` or ``'code': '...'`` in a dict or JSON printed into a message.
_QUOTED = re.compile(r"(?i)(['\"](?:" + _NAMES + r")['\"]\s*:\s*)(['\"])(?:(?!\2).)*\2")
#: A one-time code after the word that names it: ``code 492039``, ``OTP: 123456``, ``password: x``.
_WORD_CODE = re.compile(r"(?i)\b((?:code|otp|pin|passcode)\s*:?\s*)\d{4,10}\b|\b((?:password|secret)\s*:\s*)\S+")
_BEARER = re.compile(r"(?i)\b(bearer|basic|dpop)\s+[A-Za-z0-9._~+/=-]{8,}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9])[A-Za-z0-9._%+-]*@([A-Za-z0-9])[A-Za-z0-9.-]*(\.[A-Za-z]{2,})(?![A-Za-z0-9-])")
#: E.164 and international formats: ``+`` (or ``%2B``) then 7 to 17 digits, separators allowed
#: (space, ``().-``, and ``+`` or ``%20`` for spaces in a query string).
_PHONE = re.compile(r"(?<![\w+%])(?:\+|%2[Bb])\d(?:(?:[ ().+-]{1,2}|%20)?\d){6,16}(?!\d)")
#: Fields whose value is dropped whatever it is.
_SENSITIVE_KEYS = frozenset(n.lower() for n in SENSITIVE_NAMES) | {"otp_code", "totp_code", "sms_code", "client_secret_hash"}
#: Fields whose value is an address or a number and is masked.
_CONTACT_KEYS = frozenset({"email", "phone", "phone_number", "to", "recipient", "username", "login", "login_hint"})

REDACTED = "[redacted]"


def _mask_phone(match: re.Match[str]) -> str:
    raw = match.group(0)
    raw = raw[3:] if raw[:3] in ("%2B", "%2b") else raw
    digits = re.sub(r"\D", "", raw.replace("%20", " "))
    return "+" + "*" * (len(digits) - 2) + digits[-2:]


_WORD_CODE_HINTS = ("code", "otp", "pin", "passcode", "password", "secret")


def redact(text: str) -> str:
    """``text`` with secrets removed and contact details masked (R-46).

    Each pattern runs only when a cheap substring test says it could match: most
    log fields (paths, endpoint names, addresses) pass through in a microsecond.
    """
    if not text:
        return text
    low = text.lower()
    if "eyj" in low:
        text = _JWT.sub(REDACTED, text)
    if "bearer" in low or "basic" in low or "dpop" in low:
        text = _BEARER.sub(lambda m: m.group(1) + " " + REDACTED, text)
    if ":" in text and ('"' in text or "'" in text):
        text = _QUOTED.sub(lambda m: m.group(1) + m.group(2) + REDACTED + m.group(2), text)
    if "=" in text:
        text = _PARAM.sub(lambda m: m.group(1) + REDACTED, text)
    if any(hint in low for hint in _WORD_CODE_HINTS):
        text = _WORD_CODE.sub(lambda m: (m.group(1) or m.group(2)) + REDACTED, text)
    if "@" in text:
        text = _EMAIL.sub(r"\1***@\2***\3", text)
    if "+" in text or "%2" in text:
        text = _PHONE.sub(_mask_phone, text)
    return text


def redact_value(key: str, value: Any) -> Any:
    """One structured field, redacted by its name and then by its content."""
    lowered = key.lower()
    if lowered in _SENSITIVE_KEYS or lowered.endswith(("_token", "_secret", "_password", "_code", "_otp")):
        return REDACTED
    if isinstance(value, str):
        if lowered in _CONTACT_KEYS and "@" not in value and sum(c.isdigit() for c in value) >= 6:
            return re.sub(r"\d(?=(?:\D*\d){2})", "*", value)
        return redact(value)
    if isinstance(value, dict):
        return {str(k): redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(key, v) for v in value]
    return value


#: Attributes every LogRecord has; anything else on a record came through ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "request_id"}


class RedactingFilter(logging.Filter):
    """Rewrites a record in place: the formatted message and every ``extra`` field are redacted (R-46)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_idp_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and not key.startswith("_"):
                setattr(record, key, redact_value(key, value))
        record._idp_redacted = True
        return True


def current_request_id() -> str | None:
    """The ID of the request being served, if any."""
    if has_request_context():
        return g.get("request_id")
    return None


@functools.lru_cache(maxsize=4)
def _utc_second(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``msg``, ``request_id``, then the ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": _utc_second(int(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            data["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exc_type"] = record.exc_info[0].__name__ if record.exc_info[0] else None
            data["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(data, default=str, separators=(",", ":"))


_HANDLER_MARK = "_idp_json_handler"


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of the record (test runners swap it)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property  # type: ignore[override]
    def stream(self) -> IO[str]:
        return sys.stderr


def json_handler(stream: IO[str] | None = None) -> logging.Handler:
    """A handler with the redacting filter and the JSON formatter, on ``stream`` (default: stderr)."""
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else StderrHandler()
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter())
    setattr(handler, _HANDLER_MARK, True)
    return handler


def configure_logging(settings: Any, stream: IO[str] | None = None) -> logging.Logger:
    """Send every ``idp.*`` record as one redacted JSON line to stderr at ``IDP_LOG_LEVEL``; idempotent.

    Also puts the redacting filter on the ``werkzeug``, ``granian.access`` and ``_granian`` loggers, whose
    request lines and errors would otherwise carry codes and tokens in query strings (``idp serve`` turns
    granian's access log off).
    """
    from flask.logging import default_handler

    logger = logging.getLogger("idp")
    logger.setLevel(str(getattr(settings, "log_level", "INFO")).upper())
    logger.removeHandler(default_handler)
    if not any(getattr(h, _HANDLER_MARK, False) for h in logger.handlers):
        logger.addHandler(json_handler(stream))
    logger.propagate = False
    for name in ("werkzeug", "granian.access", "_granian"):
        other = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in other.filters):
            other.addFilter(RedactingFilter())
    return logger
