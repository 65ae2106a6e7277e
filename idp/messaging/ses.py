"""Mail through AWS SES v2 ``SendEmail``: simple content, multipart text and HTML (issue 3, item 5)."""

from __future__ import annotations

from typing import Any

from idp.messaging.aws import (
    CONNECT_TIMEOUT,
    MAX_ATTEMPTS,
    READ_TIMEOUT,
    call_with_backoff,
    log,
    make_client,
)
from idp.messaging.contract import DeliveryError, DeliveryRefused, Email, Mailer
from idp.messaging.masking import mask_email


class SesMailer(Mailer):
    """Sends through ``sesv2.send_email``; the sender is the email's, else ``default_from`` (``IDP_MAIL_FROM``).

    Throttling is retried by botocore's standard mode with backoff (R-86, R-93); ``MessageRejected``,
    an unverified MAIL FROM domain and paused sending raise :class:`DeliveryRefused` at once (R-87).
    """

    def __init__(
        self,
        default_from: str,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.default_from = default_from
        self.client = make_client(
            "sesv2",
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_attempts=max_attempts,
        )

    def request(self, email: Email) -> dict[str, Any]:
        """The ``SendEmail`` parameters for ``email``."""
        params: dict[str, Any] = {
            "FromEmailAddress": email.from_address or self.default_from,
            "Destination": {"ToAddresses": [email.to]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                    "Body": {
                        "Text": {"Data": email.text, "Charset": "UTF-8"},
                        "Html": {"Data": email.html, "Charset": "UTF-8"},
                    },
                }
            },
        }
        if email.configuration_set:
            params["ConfigurationSetName"] = email.configuration_set
        if email.tags:
            params["EmailTags"] = [
                {"Name": k, "Value": v} for k, v in sorted(email.tags.items())
            ]
        return params

    def send(self, email: Email) -> str:
        to = mask_email(email.to)
        try:
            response = call_with_backoff(self.client.send_email, **self.request(email))
        except DeliveryError as err:
            level = log.warning if isinstance(err, DeliveryRefused) else log.error
            level(
                "mail to %s not sent by SES: %s (%s) tags=%s",
                to,
                err.reason,
                err.detail,
                dict(email.tags),
            )
            raise
        message_id = str(response["MessageId"])
        retries = response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
        log.info(
            "mail to %s sent by SES: id=%s retries=%s tags=%s",
            to,
            message_id,
            retries,
            dict(email.tags),
        )
        return message_id
