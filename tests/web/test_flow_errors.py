"""A flow's own error ids are declared by its steps and translated from its package's catalog (issue 13, item 4).

The core knows the ids of the engine, the protocol and the HTTP layer; "Invalid username or password."
belongs to the password step (``flows/steps``), which declares it with ``N_()``; the page shows it in
the reader's language. Two flows cannot give one id two texts, and no flow can shadow a core id.
"""

from __future__ import annotations

import html

import pytest
from flask import Flask
from support.builders import Site

from flows.browser_login import BrowserLoginFlow
from flows.steps.password import PasswordStep
from idp.flowengine.contract import N_, Flow
from idp.flowengine.registry import FlowRegistry, RegistryError
from idp.web import messages


def test_a_steps_error_shows_in_the_readers_language_from_its_packages_catalog(site: Site) -> None:
    assert "invalid_credentials" not in messages.MESSAGES and "invalid_credentials" in PasswordStep.errors
    for lang, text in (("fr", "Utilisateur ou mot de passe incorrect."), ("en", "Invalid username or password.")):
        walker = site.walker(site.browser(lang))
        walker.open_login()
        page = walker.post(username="nobody", password="not the password")
        assert text in html.unescape(page.text), (lang, page.text[:2000])
        missing = walker.post(username="", password="")
        expected = "Saisissez votre nom d'utilisateur ou votre e-mail, et votre mot de passe." if lang == "fr" else "Enter your username or email and your password."
        assert expected in html.unescape(missing.text)


def _flow(name: str, errors: dict[str, str]) -> type[Flow]:
    class Declares(BrowserLoginFlow):
        pass

    Declares.name = name
    Declares.errors = errors
    Declares.designation = ""
    return Declares


def test_two_flows_cannot_give_one_error_two_texts() -> None:
    registry = FlowRegistry()
    registry.register(_flow("first", {"odd_error": N_("One text.")}))
    registry.register(_flow("second", {"odd_error": N_("One text.")}))  # the same text: shared, fine
    with pytest.raises(RegistryError, match="odd_error"):
        registry.register(_flow("third", {"odd_error": N_("Another text.")}))
    assert registry.error_texts()["odd_error"] == "One text."
    assert registry.error_texts()["invalid_credentials"] == "Invalid username or password."


def test_a_flow_cannot_shadow_a_core_error() -> None:
    registry = FlowRegistry()
    registry.register(_flow("shadowing", {"server_error": N_("All is well.")}))
    with pytest.raises(RuntimeError, match="server_error"):
        messages.init_app(Flask("probe"), registry)


