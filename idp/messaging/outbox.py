"""The dev outbox: messages written to a folder instead of leaving the host (development only).

Each message is one JSON file (the record :func:`read_outbox` reads) written atomically, next to
readable ``.txt`` (and for mail ``.html``) copies. The outbox holds codes and links in clear, so
it is refused when ``IDP_ENV=production`` (:func:`idp.messaging.make_mailer`, ``Settings.validate``).
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from idp.messaging.aws import log
from idp.messaging.contract import DeliveryRefused, Email, Mailer, Sms, Texter
from idp.messaging.masking import mask_email, mask_phone


@dataclass(frozen=True)
class OutboxMessage:
    """One message as the outbox recorded it; ``kind`` is ``email`` or ``sms``."""

    id: str
    kind: str
    created_at: str
    to: str
    text: str
    subject: str = ""
    html: str = ""
    from_address: str = ""
    configuration_set: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    sender_id: str = ""

    @property
    def created(self) -> datetime:
        return datetime.fromisoformat(self.created_at)

    @property
    def stem(self) -> str:
        """Name of its files in the outbox folder, without the extension (sorts by time)."""
        return (
            f"{self.created_at.replace(':', '').replace('-', '')}-{self.kind}-{self.id}"
        )


def _write_atomic(path: Path, data: str) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class _Outbox:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def _store(self, message: OutboxMessage) -> str:
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        stem = message.stem
        _write_atomic(self.path / f"{stem}.txt", message.text)
        if message.html:
            _write_atomic(self.path / f"{stem}.html", message.html)
        # The JSON record last: a reader sees a message only once it is whole.
        _write_atomic(
            self.path / f"{stem}.json",
            json.dumps(asdict(message), ensure_ascii=False, indent=2),
        )
        return message.id

    @staticmethod
    def _new(kind: str, **values: Any) -> OutboxMessage:
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        return OutboxMessage(
            id=secrets.token_hex(8), kind=kind, created_at=now, **values
        )


class OutboxMailer(_Outbox, Mailer):
    """Writes each :class:`Email` to the outbox folder; the sender defaults to ``default_from``."""

    def __init__(self, path: str | os.PathLike[str], default_from: str) -> None:
        super().__init__(path)
        self.default_from = default_from

    def send(self, email: Email) -> str:
        message = self._new(
            "email",
            to=email.to,
            subject=email.subject,
            text=email.text,
            html=email.html,
            from_address=email.from_address or self.default_from,
            configuration_set=email.configuration_set,
            tags=dict(email.tags),
        )
        message_id = self._store(message)
        log.info(
            "mail to %s written to the dev outbox: id=%s",
            mask_email(email.to),
            message_id,
        )
        return message_id


class OutboxTexter(_Outbox, Texter):
    """Writes each :class:`Sms` to the outbox folder; ``opted_out`` numbers are refused as SNS would (R-91)."""

    def __init__(
        self, path: str | os.PathLike[str], opted_out: Iterable[str] = ()
    ) -> None:
        super().__init__(path)
        self.opted_out = frozenset(opted_out)

    def is_opted_out(self, number: str) -> bool:
        return number in self.opted_out

    def send(self, sms: Sms) -> str:
        if self.is_opted_out(sms.to_e164):
            log.warning(
                "SMS to %s not sent: the number opted out", mask_phone(sms.to_e164)
            )
            raise DeliveryRefused("opted-out")
        message_id = self._store(
            self._new("sms", to=sms.to_e164, text=sms.text, sender_id=sms.sender_id)
        )
        log.info(
            "SMS to %s written to the dev outbox: id=%s",
            mask_phone(sms.to_e164),
            message_id,
        )
        return message_id


def read_outbox(
    path: str | os.PathLike[str], *, to: str | None = None, kind: str | None = None
) -> list[OutboxMessage]:
    """Messages in the outbox folder, oldest first; optionally only those to ``to`` or of ``kind``."""
    folder = Path(path)
    if not folder.is_dir():
        return []
    messages = []
    for file in folder.glob("*.json"):
        if file.name.startswith(".tmp-"):
            continue
        data = json.loads(file.read_text(encoding="utf-8"))
        message = OutboxMessage(**data)
        if (to is None or message.to == to) and (kind is None or message.kind == kind):
            messages.append(message)
    return sorted(messages, key=lambda m: (m.created_at, m.id))


def find_outbox_message(
    path: str | os.PathLike[str], message_id: str
) -> OutboxMessage | None:
    """The message with ``message_id``, or None."""
    return next((m for m in read_outbox(path) if m.id == message_id), None)
