"""SMS through SNS on moto's server mode: sent, opted out, invalid, throttled (R-91, R-92, R-93, R-46)."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest
from flask import Flask
from plugins.aws import OPTED_OUT_NUMBER, AwsEnv, AwsProxy, sns_throttled

from idp.messaging import Brand, DeliveryFailed, DeliveryRefused, Sms, render_sms
from idp.messaging.sns import SnsTexter

BRAND = Brand(name="Acme ID")


def number() -> str:
    """A random French mobile number (never ending in 99, which moto treats as opted out)."""
    return f"+336{secrets.randbelow(10**7):07d}" + str(secrets.choice("12345678")) + "0"


def code_sms(to: str, sender_id: str = "") -> Sms:
    return Sms(
        to,
        render_sms("sms_code", "en", brand=BRAND, code="493021", expires_minutes=5),
        sender_id,
    )


def test_sms_is_published_and_read_back_from_moto(
    aws_env: AwsEnv, aws_proxy: AwsProxy
) -> None:
    """Publish to PhoneNumber with SMSType=Transactional and the tenant sender ID (R-92)."""
    to = number()
    message_id = SnsTexter().send(code_sms(to, sender_id="ACME"))

    sent = aws_env.last_sms(to)
    assert sent.message_id == message_id
    assert (
        sent.message
        == "493021 is your Acme ID verification code. It expires in 5 minutes."
    )
    (publish,) = aws_proxy.calls("Publish")
    form = publish.form()
    attributes = {
        form[f"MessageAttributes.entry.{i}.Name"]: form[
            f"MessageAttributes.entry.{i}.Value.StringValue"
        ]
        for i in (1, 2)
    }
    assert form["PhoneNumber"] == to
    assert attributes == {
        "AWS.SNS.SMS.SMSType": "Transactional",
        "AWS.SNS.SMS.SenderID": "ACME",
    }
    # The opt-out status was checked first.
    assert [r.operation for r in aws_proxy.requests] == [
        "CheckIfPhoneNumberIsOptedOut",
        "Publish",
    ]


def test_without_sender_id_only_the_sms_type_is_set(
    aws_env: AwsEnv, aws_proxy: AwsProxy
) -> None:
    to = number()
    SnsTexter().send(code_sms(to))
    form = aws_proxy.calls("Publish")[0].form()
    assert form["MessageAttributes.entry.1.Name"] == "AWS.SNS.SMS.SMSType"
    assert "MessageAttributes.entry.2.Name" not in form
    assert aws_env.last_sms(to).message.startswith("493021 ")


def test_opted_out_number_is_refused_before_publishing(
    aws_env: AwsEnv, aws_proxy: AwsProxy, messaging_log: pytest.LogCaptureFixture
) -> None:
    """R-91: an opted-out number (moto: numbers ending in 99) gets DeliveryRefused and nothing is published."""
    texter = SnsTexter()
    assert texter.is_opted_out(OPTED_OUT_NUMBER) is True
    assert texter.is_opted_out(number()) is False
    with pytest.raises(DeliveryRefused) as info:
        texter.send(code_sms(OPTED_OUT_NUMBER))
    assert info.value.reason == "opted-out"
    assert aws_proxy.calls("Publish") == []
    assert aws_env.sent_sms(OPTED_OUT_NUMBER) == []
    assert "+44********99" in messaging_log.text
    assert (
        OPTED_OUT_NUMBER not in messaging_log.text
        and "493021" not in messaging_log.text
    )


def test_invalid_number_is_refused_not_retried(
    aws_env: AwsEnv, aws_proxy: AwsProxy
) -> None:
    """SNS InvalidParameter on the number is permanent: DeliveryRefused("invalid-number"), one request."""
    with pytest.raises(DeliveryRefused) as info:
        SnsTexter().is_opted_out("not-a-number")
    assert (info.value.reason, info.value.detail) == (
        "invalid-number",
        "InvalidParameter",
    )
    assert len(aws_proxy.calls("CheckIfPhoneNumberIsOptedOut")) == 1
    with pytest.raises(ValueError, match=r"E\.164"):
        Sms("0612345678", "text")


def test_throttled_then_successful_publish(
    aws_env: AwsEnv, aws_proxy: AwsProxy, messaging_log: pytest.LogCaptureFixture
) -> None:
    """R-92: SNS answers Throttled (HTTP 429), which botocore does not retry; the bounded app backoff does."""
    aws_proxy.fail_next("Publish", 2, sns_throttled())
    to = number()
    message_id = SnsTexter().send(code_sms(to))
    assert [c.answered_by for c in aws_proxy.calls("Publish")] == [
        "proxy",
        "proxy",
        "moto",
    ]
    assert aws_env.last_sms(to).message_id == message_id
    assert to not in messaging_log.text


def test_throttling_that_outlasts_the_retries_fails_transiently(
    aws_env: AwsEnv, aws_proxy: AwsProxy
) -> None:
    aws_proxy.fail_next("Publish", 10, sns_throttled())
    to = number()
    with pytest.raises(DeliveryFailed) as info:
        SnsTexter().send(code_sms(to))
    assert (info.value.reason, info.value.detail) == ("throttled", "Throttled")
    assert len(aws_proxy.calls("Publish")) == 3
    assert aws_env.sent_sms(to) == []


def test_opt_out_check_failure_fails_closed(
    aws_env: AwsEnv, aws_proxy: AwsProxy
) -> None:
    """R-95: when the opt-out status cannot be read, nothing is sent and the send fails."""
    aws_proxy.fail_next(
        "CheckIfPhoneNumberIsOptedOut",
        10,
        (503, {"Content-Type": "text/xml"}, b"<ErrorResponse/>"),
    )
    with pytest.raises(DeliveryFailed):
        SnsTexter().send(code_sms(number()))
    assert aws_proxy.calls("Publish") == []


def test_services_build_the_sns_texter_from_settings(
    aws_env: AwsEnv, make_app: Callable[..., Flask]
) -> None:
    services = make_app(sms_backend="sns").extensions["idp"]
    assert isinstance(services.texter.backend, SnsTexter)
    to = number()
    services.texter.send(code_sms(to))
    assert aws_env.last_sms(to).message.startswith("493021 ")
