"""Playwright (sync API) driving Debian's Chromium: the hosted pages as a person sees them.

- ``chromium``: one headless Chromium per test session, started from
  :data:`CHROMIUM` with ``executable_path`` (Playwright never downloads a
  browser here). ``launch()`` gives it a new, empty user data directory of its
  own (Playwright refuses ``--user-data-dir`` there), removed when it closes.
- ``new_page(locale)``: a fresh browser context (own cookies) and page per
  call, with ``locale`` as the browser language (``Accept-Language`` and
  ``navigator.language``); every context is closed after the test.
- ``page``: one such page in English; parametrise ``browser_locale`` to change it.

Tests that use these get the ``browser`` marker.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("IDP_TEST_CHROMIUM", "/usr/bin/chromium")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if {"chromium", "new_page", "page"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """A headless Chromium (new empty profile) for the whole session."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium (never a downloaded build)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_page(chromium: Any) -> Iterator[Callable[..., Any]]:
    """``new_page(locale="en")``: a page in its own browser context (its own cookies)."""
    contexts: list[Any] = []

    def make(locale: str = "en") -> Any:
        context = chromium.new_context(locale=locale, java_script_enabled=True)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def browser_locale() -> str:
    return "en"


@pytest.fixture
def page(new_page: Callable[..., Any], browser_locale: str) -> Any:
    """A fresh page whose browser speaks ``browser_locale``."""
    return new_page(browser_locale)
