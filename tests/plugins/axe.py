"""axe-core (Deque, MPL-2.0) in the browser tests: accessibility checks of real pages in Chromium.

- ``axe_source``: the text of ``axe.min.js`` of :data:`AXE_VERSION`, installed once with ``npm``
  from the npm registry into a cache folder (``IDP_TEST_AXE_DIR``, default
  ``~/.cache/idp-tests/axe-core-<version>``), kept as it is, licence header included. The install
  goes to a temporary folder renamed into place, so two test workers never see half a package.
- ``axe_check(page)``: runs axe on the page as it stands (WCAG 2.0/2.1 A and AA rules) and returns
  the violations of impact ``serious`` or ``critical``, each as one readable line. axe is
  evaluated through the DevTools protocol, which the pages' CSP (no scripts at all) does not
  govern: the pages themselves still run no JavaScript.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

AXE_VERSION = "4.14.1"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = ("serious", "critical")


def _axe_dir() -> Path:
    default = Path.home() / ".cache" / "idp-tests" / f"axe-core-{AXE_VERSION}"
    return Path(os.environ.get("IDP_TEST_AXE_DIR", str(default)))


def _install(target: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is missing: the accessibility tests install axe-core with it (apt-get install npm)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", work, f"axe-core@{AXE_VERSION}"],
            check=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        try:
            os.rename(Path(work) / "node_modules" / "axe-core", target)
        except OSError:
            if not (target / "axe.min.js").exists():  # another worker won the race, or a real failure
                raise


@pytest.fixture(scope="session")
def axe_source() -> str:
    """The text of axe.min.js (installed into the cache folder on first use)."""
    folder = _axe_dir()
    if not (folder / "axe.min.js").exists():
        _install(folder)
    return (folder / "axe.min.js").read_text(encoding="utf-8")


def _describe(violation: dict[str, Any]) -> str:
    targets = ", ".join(str(node.get("target")) for node in violation.get("nodes", [])[:3])
    return f"{violation['impact']}: {violation['id']} ({violation['help']}) at {targets}"


@pytest.fixture
def axe_check(axe_source: str) -> Callable[[Any], list[str]]:
    """``axe_check(page)``: the serious and critical violations of the page, one line each."""

    def check(page: Any) -> list[str]:
        if not page.evaluate("() => typeof window.axe !== 'undefined'"):
            page.evaluate(axe_source + "\n;undefined")
        result = page.evaluate("async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS)
        return [_describe(v) for v in result["violations"] if v.get("impact") in BLOCKING]

    return check
