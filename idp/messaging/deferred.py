"""Transports built on first use, and replaceable.

The mailer and texter are handed to the services that send (users, factors, the flow steps) when those
are built, but the backend behind them (an SES or SNS client) is only made at the first message: a
deployment whose mail settings are incomplete starts and signs users in, and the first send fails with
the settings' error, as before the services took their collaborators explicitly. ``replace`` swaps the
backend for every holder at once (the tests point a running app at moto or at a refusing outbox).
"""

from __future__ import annotations

from collections.abc import Callable

from idp.lazy import Lazy
from idp.messaging.contract import Email, Mailer, Sms, Texter


class DeferredMailer(Mailer):
    def __init__(self, build: Callable[[], Mailer]) -> None:
        self._backend = Lazy(build)

    @property
    def backend(self) -> Mailer:
        """The real mailer, built on first use."""
        return self._backend.get()

    def replace(self, mailer: Mailer) -> None:
        self._backend.replace(mailer)

    def send(self, email: Email) -> str:
        return self.backend.send(email)


class DeferredTexter(Texter):
    def __init__(self, build: Callable[[], Texter]) -> None:
        self._backend = Lazy(build)

    @property
    def backend(self) -> Texter:
        """The real texter, built on first use."""
        return self._backend.get()

    def replace(self, texter: Texter) -> None:
        self._backend.replace(texter)

    def send(self, sms: Sms) -> str:
        return self.backend.send(sms)

    def is_opted_out(self, number: str) -> bool:
        return self.backend.is_opted_out(number)
