"""SMS through AWS SNS ``Publish`` to a phone number, transactional, with the tenant's sender ID."""

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
from idp.messaging.contract import DeliveryError, DeliveryRefused, Sms, Texter
from idp.messaging.masking import mask_phone


class SnsTexter(Texter):
    """Sends through ``sns.publish(PhoneNumber=...)`` with ``AWS.SNS.SMS.SMSType=Transactional`` (R-92).

    The opt-out status is checked before publishing; an opted-out number raises
    :class:`DeliveryRefused` (``opted-out``) and nothing is published (R-91). ``Throttled`` is
    retried with a bounded backoff (R-92).
    """

    def __init__(
        self,
        *,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.max_attempts = max_attempts
        self.client = make_client(
            "sns",
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_attempts=max_attempts,
        )

    @staticmethod
    def request(sms: Sms) -> dict[str, Any]:
        """The ``Publish`` parameters for ``sms``."""
        attributes = {
            "AWS.SNS.SMS.SMSType": {
                "DataType": "String",
                "StringValue": "Transactional",
            }
        }
        if sms.sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {
                "DataType": "String",
                "StringValue": sms.sender_id,
            }
        return {
            "PhoneNumber": sms.to_e164,
            "Message": sms.text,
            "MessageAttributes": attributes,
        }

    def is_opted_out(self, number: str) -> bool:
        try:
            response = call_with_backoff(
                self.client.check_if_phone_number_is_opted_out,
                attempts=self.max_attempts,
                phoneNumber=number,
            )
        except DeliveryError as err:
            log.error(
                "opt-out check for %s failed: %s (%s)",
                mask_phone(number),
                err.reason,
                err.detail,
            )
            raise
        return bool(response["isOptedOut"])

    def send(self, sms: Sms) -> str:
        to = mask_phone(sms.to_e164)
        if self.is_opted_out(sms.to_e164):
            log.warning("SMS to %s not sent: the number opted out", to)
            raise DeliveryRefused("opted-out")
        try:
            response = call_with_backoff(
                self.client.publish, attempts=self.max_attempts, **self.request(sms)
            )
        except DeliveryError as err:
            level = log.warning if isinstance(err, DeliveryRefused) else log.error
            level("SMS to %s not sent by SNS: %s (%s)", to, err.reason, err.detail)
            raise
        message_id = str(response["MessageId"])
        log.info("SMS to %s sent by SNS: id=%s", to, message_id)
        return message_id
