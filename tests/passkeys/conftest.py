"""A live server reached as ``localhost`` (an IP address is not a valid WebAuthn RP ID), and Chromium pages with a
virtual authenticator (CDP ``WebAuthn``: CTAP2, internal transport, resident keys, user verification)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import LiveServer, free_port
from werkzeug.serving import make_server

from idp import create_app
from idp.services import Services
from idp.storage.schema import upgrade


@pytest.fixture
def localhost_server(make_settings: Callable[..., Any]) -> Iterator[LiveServer]:
    """A live server whose public URL (and so its RP ID) is ``http://localhost:PORT``."""
    port = free_port()
    app = create_app(make_settings(public_url=f"http://localhost:{port}", mail_backend="outbox", sms_backend="outbox"))
    services: Services = app.extensions["idp"]
    upgrade(services.db)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(url=f"http://localhost:{port}", app=app, services=services)
    finally:
        server.shutdown()
        thread.join(5)
        services.close()


class Authenticator:
    """A virtual platform authenticator attached to one page (its credentials live in it)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable", {"enableUI": False})
        options = {
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": True,
            "hasUserVerification": True,
            "isUserVerified": True,
            "automaticPresenceSimulation": True,
        }
        self.id = self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})["authenticatorId"]

    def credentials(self) -> list[dict[str, Any]]:
        return list(self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})["credentials"])

    def add(self, credential: dict[str, Any]) -> None:
        self.cdp.send("WebAuthn.addCredential", {"authenticatorId": self.id, "credential": credential})


#: A browser without conditional mediation: the virtual authenticator would answer an autofill request at once,
#: so tests of the « Sign in with a passkey » button turn it off (test_conditional_mediation keeps it).
NO_CONDITIONAL_MEDIATION = "window.PublicKeyCredential && (PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false));"


@pytest.fixture
def passkey_page(new_page: Callable[..., Any]) -> Callable[..., tuple[Any, Authenticator]]:
    """``passkey_page(locale, conditional=False)``: a fresh page (own cookies) with its own virtual authenticator."""

    def make(locale: str, conditional: bool = False) -> tuple[Any, Authenticator]:
        page = new_page(locale)
        if not conditional:
            page.add_init_script(NO_CONDITIONAL_MEDIATION)
        return page, Authenticator(page)

    return make
