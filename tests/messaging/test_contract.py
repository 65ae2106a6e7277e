"""The messaging contract: message shapes, error mapping, log masks (R-46, R-87, R-91, R-92)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

import idp.messaging
from idp.messaging import (
    DeliveryFailed,
    DeliveryRefused,
    Email,
    Sms,
    mask_email,
    mask_phone,
)
from idp.messaging.aws import classify


def test_public_api_is_curated() -> None:
    for name in idp.messaging.__all__:
        assert getattr(idp.messaging, name) is not None
    for name in (
        "Mailer",
        "Texter",
        "Email",
        "Sms",
        "DeliveryRefused",
        "DeliveryFailed",
        "make_mailer",
        "make_texter",
        "render",
        "render_sms",
        "read_outbox",
    ):
        assert name in idp.messaging.__all__


@pytest.mark.parametrize(
    "to",
    ["", "alice", "a@b.c, eve@x.y", "alice@example.com\r\nBcc: eve@x.y", "A <a@b.c>"],
)
def test_email_takes_one_bare_address(to: str) -> None:
    with pytest.raises(ValueError):
        Email(to=to, subject="s", text="t", html="h")


def test_email_subject_is_one_line_and_tags_are_ses_safe() -> None:
    with pytest.raises(ValueError, match="one line"):
        Email(to="a@b.example", subject="a\nBcc: eve@x.y", text="t", html="h")
    with pytest.raises(ValueError, match="tag"):
        Email(
            to="a@b.example",
            subject="s",
            text="t",
            html="h",
            tags={"user": "alice@example.com"},
        )
    assert Email(
        to="a@b.example", subject="s", text="t", html="h", tags={"tenant": "acme-1"}
    ).tags


@pytest.mark.parametrize(
    "number", ["0612345678", "+0612345678", "+33 6 12 34 56 78", "+12", "+" + "1" * 16]
)
def test_sms_takes_an_e164_number(number: str) -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        Sms(number, "text")


def test_sms_sender_id_is_what_sns_accepts() -> None:
    with pytest.raises(ValueError, match="sender_id"):
        Sms("+33612345678", "text", sender_id="Acme Corp!")
    assert Sms("+33612345678", "text", sender_id="ACME").sender_id == "ACME"


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("alice.martin@example.com", "a***@e***.com"),
        ("x@localhost", "x***@l***"),
        ("nonsense", "***"),
    ],
)
def test_mask_email(value: str, masked: str) -> None:
    assert mask_email(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"), [("+33612345678", "+33*******78"), ("+1555", "***")]
)
def test_mask_phone(value: str, masked: str) -> None:
    assert mask_phone(value) == masked


def client_error(
    code: str,
    status: int,
    message: str = "Email address is not verified: alice@example.com",
) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "SendEmail",
    )


@pytest.mark.parametrize(
    ("code", "status", "kind", "reason"),
    [
        ("MessageRejected", 400, DeliveryRefused, "rejected"),
        (
            "MailFromDomainNotVerifiedException",
            400,
            DeliveryRefused,
            "sender-not-verified",
        ),
        ("AccountSendingPausedException", 400, DeliveryRefused, "sending-paused"),
        (
            "ConfigurationSetSendingPausedException",
            400,
            DeliveryRefused,
            "sending-paused",
        ),
        ("OptedOut", 400, DeliveryRefused, "opted-out"),
        ("InvalidParameter", 400, DeliveryRefused, "invalid-number"),
        ("AccessDeniedException", 403, DeliveryRefused, "not-authorized"),
        ("Throttling", 400, DeliveryFailed, "throttled"),
        ("ThrottlingException", 400, DeliveryFailed, "throttled"),
        ("TooManyRequestsException", 429, DeliveryFailed, "throttled"),
        ("Throttled", 429, DeliveryFailed, "throttled"),
        ("InternalFailure", 500, DeliveryFailed, "unavailable"),
        ("SomethingNew", 400, DeliveryRefused, "rejected"),
    ],
)
def test_aws_errors_map_to_refused_or_failed(
    code: str, status: int, kind: type, reason: str
) -> None:
    err = classify(client_error(code, status))
    assert type(err) is kind and err.reason == reason and err.detail == code
    assert "alice@example.com" not in str(err), (
        "the AWS message may quote the recipient: never carried"
    )


def test_network_errors_are_transient() -> None:
    assert (
        classify(EndpointConnectionError(endpoint_url="http://x")).reason
        == "unreachable"
    )
    assert classify(ReadTimeoutError(endpoint_url="http://x")).reason == "timeout"
