"""A relying party's logout endpoints as a real HTTP server on a loopback port (no mocks).

:class:`RpEndpoints` records every request it gets (method, path, query, content type, form fields) and answers
200, or whatever the test set for a path: a status, or a hold (the answer waits until the test releases it,
to play a slow RP). Tests wait on conditions (:meth:`RpEndpoints.wait_for`), never on fixed sleeps.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Hit:
    """One request the RP got."""

    method: str
    path: str
    query: dict[str, str]
    content_type: str
    fields: dict[str, str]
    at: float


@dataclass
class RpEndpoints:
    """The RP's server: ``url(path)`` of its endpoints, the requests it got, and how it answers."""

    base: str
    hits: list[Hit] = field(default_factory=list)
    #: path -> HTTP status to answer (default 200).
    statuses: dict[str, int] = field(default_factory=dict)
    #: paths whose answers wait until :attr:`release` is set (a slow RP).
    held: set[str] = field(default_factory=set)
    release: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    def at(self, path: str) -> list[Hit]:
        return [h for h in self.hits if h.path == path]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
        """Wait until ``predicate()`` is true (re-checked at every request the RP gets); fail the test after ``timeout``."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; the RP got {[(h.method, h.path) for h in self.hits]}")
                self.changed.wait(min(left, 0.2))


@contextmanager
def rp_endpoints(port: int = 0) -> Iterator[RpEndpoints]:
    """An RP on ``127.0.0.1:port`` (a free port when 0) for the duration of the block."""
    server = ThreadingHTTPServer(("127.0.0.1", port), BaseHTTPRequestHandler)
    server.daemon_threads = True
    rp = RpEndpoints(base=f"http://127.0.0.1:{server.server_address[1]}")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            parts = urlsplit(self.path)
            if parts.path in rp.held:
                rp.release.wait(30)
            hit = Hit(self.command, parts.path, dict(parse_qsl(parts.query)), self.headers.get("Content-Type", ""), dict(parse_qsl(body)), time.time())
            page = b"<!doctype html><title>RP</title><h1>signed out of the RP</h1>"
            try:
                self.send_response(rp.statuses.get(parts.path, 200))
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
            except OSError:  # the IdP gave up waiting (a timeout): still recorded
                pass
            with rp.changed:
                rp.hits.append(hit)
                rp.changed.notify_all()

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rp
    finally:
        rp.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
