"""The messaging contract: what a caller hands over, what it gets back, how a send fails.

A caller renders a message (:func:`idp.messaging.render`), wraps it in an :class:`Email`
or an :class:`Sms` and calls ``services.mailer.send(...)`` or ``services.texter.send(...)``.
A send either returns the provider's message id or raises one of two errors:

- :class:`DeliveryRefused`: permanent; the provider refused this message (SES ``MessageRejected``,
  an unverified sender, sending paused, an opted-out or invalid phone number). Retrying the
  same message cannot help (R-87, R-91).
- :class:`DeliveryFailed`: transient; throttling, time-outs or an unreachable endpoint that
  survived the bounded retries (R-86, R-92, R-93, R-95).

Either way the caller must not leave a half-done state behind: a code carried by a failed
message is voided (issue 3, item 5).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_TAG = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class DeliveryError(Exception):
    """Base of the two ways a send fails; ``reason`` is a short, stable, log-safe word."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class DeliveryRefused(DeliveryError):
    """The provider refused the message for good; it was not retried (R-87, R-91).

    ``reason`` is one of :data:`REFUSAL_REASONS`.
    """


class DeliveryFailed(DeliveryError):
    """The message could not be sent after the bounded retries (throttled, timed out, unreachable)."""


#: Reasons a :class:`DeliveryRefused` carries.
REFUSAL_REASONS = (
    "rejected",  # SES MessageRejected (unverified identity, sandbox recipient), bad request
    "sender-not-verified",  # SES MailFromDomainNotVerifiedException
    "sending-paused",  # SES account or configuration set sending paused, account suspended
    "opted-out",  # SNS: the number replied STOP
    "invalid-number",  # SNS InvalidParameter on the phone number, or not E.164
    "not-authorized",  # credentials lack the permission, or are refused
)


@dataclass(frozen=True)
class Email:
    """One mail to one recipient, multipart text and HTML.

    ``from_address`` and ``configuration_set`` come from the tenant configuration
    (``mail.from_address``, ``mail.configuration_set``); an empty sender means ``IDP_MAIL_FROM``.
    ``tags`` become SES message tags (names and values: letters, digits, ``_`` and ``-``);
    they are also logged, so they must never carry a secret.
    """

    to: str
    subject: str
    text: str
    html: str
    from_address: str = ""
    configuration_set: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "@" not in self.to or any(c in self.to for c in "\r\n,;<> "):
            raise ValueError("Email.to must be one bare email address")
        if "\r" in self.subject or "\n" in self.subject:
            raise ValueError("Email.subject must be one line")
        for name, value in self.tags.items():
            if not _TAG.match(name) or not _TAG.match(value):
                raise ValueError(
                    f"Email tag {name!r} must use only letters, digits, '_' and '-'"
                )


@dataclass(frozen=True)
class Sms:
    """One SMS to one E.164 number; ``sender_id`` is the tenant's ``sms.sender_id`` (may be empty)."""

    to_e164: str
    text: str
    sender_id: str = ""

    def __post_init__(self) -> None:
        if not _E164.match(self.to_e164):
            raise ValueError("Sms.to_e164 must be an E.164 number such as +33612345678")
        if self.sender_id and not re.fullmatch(r"[A-Za-z0-9]{1,11}", self.sender_id):
            raise ValueError("Sms.sender_id must be 1 to 11 letters or digits")


class Mailer(ABC):
    """Sends :class:`Email` messages; built once per process by :func:`idp.messaging.make_mailer`."""

    @abstractmethod
    def send(self, email: Email) -> str:
        """Send ``email``; return the provider's message id, or raise a :class:`DeliveryError`."""


class Texter(ABC):
    """Sends :class:`Sms` messages; built once per process by :func:`idp.messaging.make_texter`."""

    @abstractmethod
    def send(self, sms: Sms) -> str:
        """Send ``sms``; return the provider's message id, or raise a :class:`DeliveryError`.

        A number that opted out is refused before anything is published (R-91).
        """

    @abstractmethod
    def is_opted_out(self, number: str) -> bool:
        """Whether ``number`` (E.164) replied STOP and must not receive SMS (R-91)."""
