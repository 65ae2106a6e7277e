"""Mail through SES v2 on moto's server mode: sent, refused, throttled, unreachable (R-86, R-87, R-93, R-46)."""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from plugins.aws import SENDER, SES_SEND_EMAIL, AwsEnv, AwsProxy, ses_throttling

from flows.self_recovery.mail import MESSAGES
from idp.messaging import Brand, DeliveryFailed, DeliveryRefused, Email
from idp.messaging.ses import SesMailer

BRAND = Brand(
    name="Acme ID", primary_color="#aa3300", support_url="https://help.acme.example"
)


def recipient() -> str:
    return f"user-{secrets.token_hex(4)}@example.com"


def recovery_email(to: str, **kw: Any) -> Email:
    msg = MESSAGES.render(
        "recovery_link",
        "fr",
        brand=BRAND,
        link="https://id.acme.example/r/TOKEN123",
        expires_minutes=5,
    )
    return Email(to=to, subject=msg.subject, text=msg.text, html=msg.html, **kw)


def test_mail_is_sent_through_ses_and_read_back_from_moto(
    aws_env: AwsEnv, aws_proxy: AwsProxy
) -> None:
    """Multipart text + HTML, tenant sender, configuration set and tags reach SES v2 SendEmail."""
    to = recipient()
    aws_env.verify_sender("acme.example")
    aws_env.client("sesv2").create_configuration_set(ConfigurationSetName="acme-events")
    mail = recovery_email(
        to,
        from_address="id@acme.example",
        configuration_set="acme-events",
        tags={"tenant": "acme", "template": "recovery_link"},
    )

    message_id = SesMailer(SENDER).send(mail)

    sent = aws_env.last_email(to)
    assert sent.id == message_id
    assert sent.source == "id@acme.example" and sent.to == [to]
    assert sent.subject == "Réinitialiser vos moyens de connexion"
    assert sent.body == mail.html and "Ce lien expire dans 5 minutes." in sent.body
    # moto keeps one body; the wire request shows the whole multipart message and its options.
    (call,) = aws_proxy.calls(SES_SEND_EMAIL)
    request = call.json()
    body = request["Content"]["Simple"]["Body"]
    assert (
        body["Text"]["Data"] == mail.text
        and "Ce lien expire dans 5 minutes." in body["Text"]["Data"]
    )
    assert body["Html"]["Data"] == mail.html
    assert body["Text"]["Charset"] == body["Html"]["Charset"] == "UTF-8"
    assert request["ConfigurationSetName"] == "acme-events"
    assert request["EmailTags"] == [
        {"Name": "template", "Value": "recovery_link"},
        {"Name": "tenant", "Value": "acme"},
    ]
    assert request["Destination"] == {"ToAddresses": [to]}


def test_default_sender_is_idp_mail_from_and_options_are_omitted(
    aws_env: AwsEnv, aws_proxy: AwsProxy
) -> None:
    to = recipient()
    SesMailer(SENDER).send(recovery_email(to))
    assert aws_env.last_email(to).source == SENDER
    request = aws_proxy.calls(SES_SEND_EMAIL)[0].json()
    assert "ConfigurationSetName" not in request and "EmailTags" not in request


def test_services_build_the_ses_mailer_from_settings(
    aws_env: AwsEnv, make_app: Callable[..., Flask]
) -> None:
    """IDP_MAIL_BACKEND=ses: services.mailer sends through SES with IDP_MAIL_FROM; boto3's env decides the endpoint."""
    services = make_app(
        mail_backend="ses", mail_from="no-reply@idp.localhost"
    ).extensions["idp"]
    assert isinstance(services.mailer.backend, SesMailer)
    to = recipient()
    services.mailer.send(recovery_email(to))
    assert aws_env.last_email(to).source == "no-reply@idp.localhost"


def test_client_uses_standard_retries_and_explicit_timeouts(aws_env: AwsEnv) -> None:
    """R-93: standard retry mode, 3 attempts, explicit connect and read time-outs."""
    config = SesMailer(SENDER, connect_timeout=2, read_timeout=7).client.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert (config.connect_timeout, config.read_timeout) == (2, 7)
    assert SesMailer(SENDER).client.meta.endpoint_url == aws_env.endpoint_url


def test_aws_region_is_honoured_when_boto3_has_none(
    aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert SesMailer(SENDER).client.meta.region_name == "eu-central-1"


def test_unverified_sender_is_refused_once_and_not_retried(
    aws_env: AwsEnv, aws_proxy: AwsProxy, messaging_log: pytest.LogCaptureFixture
) -> None:
    """R-87: MessageRejected is permanent: one request, DeliveryRefused, logged without the address or body."""
    to = recipient()
    with pytest.raises(DeliveryRefused) as info:
        SesMailer(SENDER).send(
            recovery_email(to, from_address="someone@unverified.example")
        )
    assert (info.value.reason, info.value.detail) == ("rejected", "MessageRejected")
    assert len(aws_proxy.calls(SES_SEND_EMAIL)) == 1
    assert aws_env.sent_emails(to) == []
    assert "rejected (MessageRejected)" in messaging_log.text
    assert (
        to not in messaging_log.text
        and "TOKEN123" not in messaging_log.text
        and "unverified.example" not in messaging_log.text
    )


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("MailFromDomainNotVerifiedException", "sender-not-verified"),
        ("SendingPausedException", "sending-paused"),
        ("AccountSuspendedException", "sending-paused"),
    ],
)
def test_other_permanent_ses_errors_are_refused_without_retry(
    aws_env: AwsEnv, aws_proxy: AwsProxy, code: str, reason: str
) -> None:
    """R-87: unverified MAIL FROM domain, paused sending: DeliveryRefused after exactly one request."""
    aws_proxy.fail_next(
        SES_SEND_EMAIL,
        5,
        (
            400,
            {"x-amzn-ErrorType": code, "Content-Type": "application/json"},
            b'{"message": "refused"}',
        ),
    )
    with pytest.raises(DeliveryRefused) as info:
        SesMailer(SENDER).send(recovery_email(recipient()))
    assert (info.value.reason, info.value.detail) == (reason, code)
    assert len(aws_proxy.calls(SES_SEND_EMAIL)) == 1


@pytest.mark.parametrize("code", ["TooManyRequestsException", "ThrottlingException"])
def test_throttled_then_successful_send(
    aws_env: AwsEnv,
    aws_proxy: AwsProxy,
    code: str,
    messaging_log: pytest.LogCaptureFixture,
) -> None:
    """R-86, R-93: SES answers "Maximum sending rate exceeded" twice, botocore backs off, the third attempt is sent."""
    aws_proxy.fail_next(SES_SEND_EMAIL, 2, ses_throttling(code))
    to = recipient()
    message_id = SesMailer(SENDER).send(recovery_email(to))
    calls = aws_proxy.calls(SES_SEND_EMAIL)
    assert [c.answered_by for c in calls] == ["proxy", "proxy", "moto"]
    assert aws_env.last_email(to).id == message_id
    assert "retries=2" in messaging_log.text


def test_throttling_that_outlasts_the_retries_fails_transiently(
    aws_env: AwsEnv, aws_proxy: AwsProxy
) -> None:
    """R-86: after 3 throttled attempts the send fails with DeliveryFailed, nothing is sent."""
    aws_proxy.fail_next(SES_SEND_EMAIL, 10, ses_throttling())
    to = recipient()
    with pytest.raises(DeliveryFailed) as info:
        SesMailer(SENDER).send(recovery_email(to))
    assert (info.value.reason, info.value.detail) == (
        "throttled",
        "TooManyRequestsException",
    )
    assert len(aws_proxy.calls(SES_SEND_EMAIL)) == 3
    assert aws_env.sent_emails(to) == []


def test_server_errors_are_retried_then_fail_transiently(
    aws_env: AwsEnv, aws_proxy: AwsProxy
) -> None:
    aws_proxy.fail_next(
        SES_SEND_EMAIL, 10, (503, {"x-amzn-ErrorType": "InternalFailure"}, b"{}")
    )
    with pytest.raises(DeliveryFailed) as info:
        SesMailer(SENDER).send(recovery_email(recipient()))
    assert info.value.reason == "unavailable"
    assert len(aws_proxy.calls(SES_SEND_EMAIL)) == 3


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_endpoint_fails_within_bounded_time(
    aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    """R-93, R-95: nothing listens: DeliveryFailed after the bounded retries, in seconds."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port}")
    mailer = SesMailer(SENDER, connect_timeout=1, read_timeout=1)
    started = time.monotonic()
    with pytest.raises(DeliveryFailed) as info:
        mailer.send(recovery_email(recipient()))
    assert info.value.reason == "unreachable"
    assert time.monotonic() - started < 10


@pytest.fixture
def silent_server() -> Iterator[tuple[int, list[socket.socket]]]:
    """A loopback port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield int(listener.getsockname()[1]), []
    listener.close()


def test_endpoint_that_never_answers_times_out_within_bounded_time(
    aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch, silent_server: tuple[int, Any]
) -> None:
    """R-93: the explicit read time-out bounds each attempt; DeliveryFailed("timeout") after 3."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{silent_server[0]}")
    mailer = SesMailer(SENDER, connect_timeout=1, read_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(DeliveryFailed) as info:
        mailer.send(recovery_email(recipient()))
    assert info.value.reason == "timeout"
    assert time.monotonic() - started < 10


def test_missing_region_is_a_clear_settings_error(
    aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    from idp.settings import SettingsError

    monkeypatch.delenv("AWS_DEFAULT_REGION")
    with pytest.raises(SettingsError, match="AWS_REGION or AWS_DEFAULT_REGION"):
        SesMailer(SENDER)
