"""The dev outbox: atomic files, a reader, the /dev/outbox page, refused in production (issue 3 item 5)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from idp.messaging import (
    DeliveryRefused,
    Email,
    OutboxMailer,
    OutboxTexter,
    Sms,
    make_mailer,
    make_texter,
    read_outbox,
)
from idp.settings import Settings, SettingsError


def email(to: str = "alice@example.com", **kw: Any) -> Email:
    values: dict[str, Any] = {
        "subject": "Reset your sign-in methods",
        "text": "link: https://x/t/SECRET",
        "html": "<p>link</p>",
    }
    values.update(kw)
    return Email(to=to, **values)


def test_mail_and_sms_are_written_and_read_back(tmp_path: Path) -> None:
    box = tmp_path / "outbox"
    mailer = OutboxMailer(box, default_from="no-reply@idp.localhost")
    texter = OutboxTexter(box)
    first = mailer.send(
        email(
            configuration_set="tenant-a",
            tags={"tenant": "acme", "template": "recovery_link"},
        )
    )
    second = mailer.send(email(to="bob@example.com", from_address="id@acme.example"))
    sms_id = texter.send(Sms("+33612345678", "493021 is your code", sender_id="ACME"))

    messages = read_outbox(box)
    assert [m.id for m in messages] == [first, second, sms_id]
    m = messages[0]
    assert (m.kind, m.to, m.from_address, m.subject) == (
        "email",
        "alice@example.com",
        "no-reply@idp.localhost",
        "Reset your sign-in methods",
    )
    assert (m.text, m.html, m.configuration_set) == (
        "link: https://x/t/SECRET",
        "<p>link</p>",
        "tenant-a",
    )
    assert m.tags == {"tenant": "acme", "template": "recovery_link"}
    assert messages[1].from_address == "id@acme.example"
    assert (
        messages[2].kind,
        messages[2].to,
        messages[2].text,
        messages[2].sender_id,
    ) == ("sms", "+33612345678", "493021 is your code", "ACME")
    assert read_outbox(box, to="bob@example.com")[0].id == second
    assert [x.id for x in read_outbox(box, kind="sms")] == [sms_id]
    assert read_outbox(tmp_path / "missing") == []


def test_each_message_is_one_whole_json_record_plus_readable_copies(
    tmp_path: Path,
) -> None:
    box = tmp_path / "outbox"
    message_id = OutboxMailer(box, "no-reply@idp.localhost").send(email())
    sms_id = OutboxTexter(box).send(Sms("+33612345678", "code 1"))
    files = sorted(p.name for p in box.iterdir())
    assert not [f for f in files if f.startswith(".tmp-")], (
        "no temporary file left behind"
    )
    (mail,) = read_outbox(box, kind="email")
    assert {f"{mail.stem}.json", f"{mail.stem}.txt", f"{mail.stem}.html"} <= set(files)
    assert json.loads((box / f"{mail.stem}.json").read_text())["id"] == message_id
    assert (box / f"{mail.stem}.txt").read_text() == "link: https://x/t/SECRET"
    assert (box / f"{mail.stem}.html").read_text() == "<p>link</p>"
    (sms,) = read_outbox(box, kind="sms")
    assert sms.id == sms_id and not (box / f"{sms.stem}.html").exists()
    # A reader ignores a record still being written (a temporary file is never a message).
    (box / ".tmp-abc.json").write_text("{")
    assert len(read_outbox(box)) == 2


def test_outbox_opt_out_list_refuses_before_writing(tmp_path: Path) -> None:
    """R-91: an opted-out number gets nothing; the outbox behaves as SNS does."""
    texter = OutboxTexter(tmp_path, opted_out={"+447700900999"})
    assert texter.is_opted_out("+447700900999") and not texter.is_opted_out(
        "+33612345678"
    )
    with pytest.raises(DeliveryRefused) as info:
        texter.send(Sms("+447700900999", "code"))
    assert info.value.reason == "opted-out"
    assert read_outbox(tmp_path) == []


def test_logs_mask_recipients_and_never_hold_bodies(
    tmp_path: Path, messaging_log: pytest.LogCaptureFixture
) -> None:
    """R-46: no code, token or body in logs; addresses and numbers masked."""
    OutboxMailer(tmp_path, "no-reply@idp.localhost").send(email())
    OutboxTexter(tmp_path).send(Sms("+33612345678", "493021 is your code"))
    assert (
        "a***@e***.com" in messaging_log.text and "+33*******78" in messaging_log.text
    )
    for secret in ("alice@example.com", "+33612345678", "SECRET", "493021"):
        assert secret not in messaging_log.text


def test_factories_pick_the_configured_backend(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    mailer, texter = make_mailer(settings), make_texter(settings)
    assert isinstance(mailer, OutboxMailer) and mailer.path == settings.outbox_path
    assert mailer.default_from == settings.mail_from
    assert isinstance(texter, OutboxTexter) and texter.path == settings.outbox_path


def test_production_refuses_the_outbox(make_settings: Callable[..., Settings]) -> None:
    """The outbox holds codes and links in clear: refused when IDP_ENV=production (issue 3 item 5)."""
    prod = {
        "env": "production",
        "secret_key": "p" * 40,
        "public_url": "https://id.example",
    }
    for backends in (
        {"mail_backend": "outbox", "sms_backend": "sns"},
        {"mail_backend": "ses", "sms_backend": "outbox"},
    ):
        settings = make_settings(**prod, **backends)
        with pytest.raises(SettingsError, match="outbox"):
            settings.validate()
        factory = make_mailer if backends["mail_backend"] == "outbox" else make_texter
        with pytest.raises(
            SettingsError, match="outbox is refused when IDP_ENV=production"
        ):
            factory(settings)


def test_dev_page_lists_messages_newest_first(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    services = app.extensions["idp"]
    services.mailer.send(email(subject="First <mail>"))
    services.texter.send(Sms("+33612345678", "493021 is your code", sender_id="ACME"))
    response = app.test_client().get("/dev/outbox")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert page.index("493021 is your code") < page.index("First &lt;mail&gt;")
    assert "alice@example.com" in page and "ACME" in page
    assert f"{services.settings.outbox_path}/" in page and ".html</code>" in page


def test_dev_page_is_empty_before_any_message(make_app: Callable[..., Flask]) -> None:
    response = make_app().test_client().get("/dev/outbox")
    assert response.status_code == 200 and "No messages yet." in response.get_data(
        as_text=True
    )


def test_dev_page_is_404_in_production(make_app: Callable[..., Flask]) -> None:
    app = make_app(
        env="production",
        secret_key="p" * 40,
        public_url="https://id.example",
        mail_backend="ses",
        sms_backend="sns",
    )
    response = app.test_client().get("/dev/outbox")
    assert response.status_code == 404
