"""panva's ``openid-client`` (npm, MIT) as an independent relying party of the protocol tests.

:func:`openid_client_package` installs :data:`OPENID_CLIENT_VERSION` once with ``npm`` from the npm registry
into a cache folder (``IDP_TEST_OPENID_CLIENT_DIR``, default ``~/.cache/idp-tests/openid-client-<version>``),
through a temporary folder renamed into place (two test workers never see half a package), as
``tests/plugins/axe.py`` does for axe-core. :class:`NodeRp` runs ``openid_client_rp.mjs`` with Node: it prints
the authorization URL, takes the callback URL the browser was sent to, and prints what it obtained.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

OPENID_CLIENT_VERSION = "6.9.1"
SCRIPT = Path(__file__).with_name("openid_client_rp.mjs")


def _folder() -> Path:
    default = Path.home() / ".cache" / "idp-tests" / f"openid-client-{OPENID_CLIENT_VERSION}"
    return Path(os.environ.get("IDP_TEST_OPENID_CLIENT_DIR", str(default)))


def openid_client_package() -> Path:
    """The ``build/index.js`` of openid-client (installed into the cache folder on first use)."""
    folder = _folder()
    entry = folder / "node_modules" / "openid-client" / "build" / "index.js"
    if entry.exists():
        return entry
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.fail("node and npm are needed: the relying-party tests install openid-client with npm (apt-get install npm)")
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent) as work:
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", work, f"openid-client@{OPENID_CLIENT_VERSION}"],
            check=True,
            timeout=300,
            stdin=subprocess.DEVNULL,
        )
        try:
            os.rename(work, folder)
            os.mkdir(work)  # TemporaryDirectory removes its folder when done
        except OSError:
            if not entry.exists():  # another worker won the race, or a real failure
                raise
    return entry


class NodeRp:
    """One run of the openid-client relying party: :meth:`authorization_url`, then :meth:`finish`."""

    def __init__(self, package: Path, **args: Any) -> None:
        self.process = subprocess.Popen(
            [shutil.which("node") or "node", str(SCRIPT), json.dumps({"package": str(package), **args})],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def _line(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(30)
            raise AssertionError(f"openid-client ended without an answer: {self.process.stderr.read() if self.process.stderr else ''}")
        return json.loads(line)  # type: ignore[no-any-return]

    def authorization_url(self) -> str:
        answer = self._line()
        assert "url" in answer, answer
        return str(answer["url"])

    def finish(self, callback_url: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(callback_url + "\n")
        self.process.stdin.flush()
        answer = self._line()
        self.process.wait(30)
        return answer

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
