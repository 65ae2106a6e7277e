"""JSON logs: one line per request with its request ID; secrets, codes and tokens never logged;
emails and phone numbers masked (R-46)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from idp.observability.logs import REDACTED, RedactingFilter, json_handler, redact


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the app's own JSON handler writes, captured from a second handler of the same kind."""
    stream = io.StringIO()
    handler = json_handler(stream)
    logger = logging.getLogger("idp")
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


def _records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_request_is_one_json_line_with_its_request_id_and_nothing_secret(live_server: Any, log_lines: io.StringIO) -> None:
    rid = "req-7f3a9c21-5b4e"
    response = requests.get(
        f"{live_server.url}/no-such-page",
        params={
            "code": "SplxlOBeZQQYbYS6WxSbIA",
            "state": "af0ifjsldkj",
            "access_token": "SlAV32hkKG",
            "token": "rcv-Q2h5bW9uZGF5",
            "login_hint": "alice.martin@example.com",
            "note": "+33 6 12 34 56 78",
            "lang": "fr",
        },
        headers={"X-Request-ID": rid},
        timeout=10,
    )
    assert response.status_code == 404 and response.headers["X-Request-ID"] == rid
    (record,) = [r for r in _records(log_lines) if r["logger"] == "idp.access"]
    assert record["request_id"] == rid
    assert record["msg"] == "request" and record["method"] == "GET" and record["status"] == 404
    assert record["endpoint"] == "unmatched" and record["duration_ms"] >= 0
    assert record["ts"].endswith("Z")
    path = record["path"]
    assert path.startswith("/no-such-page?") and "lang=fr" in path
    text = log_lines.getvalue()
    for secret in ("SplxlOBeZQQYbYS6WxSbIA", "af0ifjsldkj", "SlAV32hkKG", "rcv-Q2h5bW9uZGF5", "alice.martin@example.com", "12 34 56", "alice"):
        assert secret not in text
    assert f"code={REDACTED}" in path and f"state={REDACTED}" in path
    assert "+*********78" in path


@pytest.mark.parametrize("header", ["short", "x" * 200, "has space in it", "new\nline-123456", "<script>alert(1)</script>"])
def test_a_malformed_request_id_is_replaced(live_server: Any, header: str) -> None:
    response = requests.get(f"{live_server.url}/healthz", headers={"X-Request-ID": header.replace("\n", "%0A")}, timeout=10)
    rid = response.headers["X-Request-ID"]
    assert rid != header and len(rid) == 32 and int(rid, 16) >= 0


def test_request_ids_differ_between_requests(live_server: Any) -> None:
    ids = {requests.get(f"{live_server.url}/healthz", timeout=10).headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.parametrize(
    ("message", "leaks", "shows"),
    [
        ("redirecting to https://rp.example/cb?code=abc123XYZ&state=s7ate", ["abc123XYZ", "s7ate"], "cb?code=[redacted]&state=[redacted]"),
        ("token request {'client_secret': 'shh-secret', 'grant_type': 'x'}", ["shh-secret"], "'grant_type': 'x'"),
        ('body {"refresh_token": "rt-123456", "scope": "openid"}', ["rt-123456"], '"scope": "openid"'),
        ("Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", ["eyJhbGciOiJSUzI1NiJ9", "c2lnbmF0dXJl"], "Bearer [redacted]"),
        ("id_token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln seen", ["eyJzdWIiOiIxIn0"], "[redacted] seen"),
        ("password=hunter2 otp=123456 for user 42", ["hunter2", "123456"], "for user 42"),
        ("reset link sent to bob.smith@mail.example.org", ["bob.smith", "mail.example"], "b***@m***.org"),
        ("SMS to +1 (415) 555-0123 queued", ["555-0123", "415"], "+*********23 queued"),
        ("SMS to +447700900123", ["7700900123"], "+**********23"),
        ("user typed OTP: 482913 at 10:02", ["482913"], "OTP: [redacted] at 10:02"),
        ("password: Tr0ub4dor&3 rejected", ["Tr0ub4dor"], "password: [redacted] rejected"),
        ("served 12 requests in 3.5 s for tenant acme", [], "served 12 requests in 3.5 s for tenant acme"),
    ],
)
def test_redaction(message: str, leaks: list[str], shows: str) -> None:
    out = redact(message)
    assert shows in out
    for leak in leaks:
        assert leak not in out


def test_the_filter_redacts_arguments_and_extra_fields() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("idp.test-redaction")
    handler = json_handler(stream)
    logger.addHandler(handler)
    try:
        logger.warning(
            "code %s sent to %s",
            "492039",
            "carol@example.net",
            extra={"otp": "492039", "phone": "0612345678", "email": "carol@example.net", "recovery_token": "tok", "user_id": 7},
        )
    finally:
        logger.removeHandler(handler)
    (record,) = _records(stream)
    assert "492039" not in json.dumps(record) and "carol@" not in json.dumps(record)
    assert record["otp"] == REDACTED and record["recovery_token"] == REDACTED
    assert record["phone"] == "********78" and record["email"] == "c***@e***.net"
    assert record["user_id"] == 7 and record["msg"] == "code [redacted] sent to c***@e***.net"


def test_the_dev_servers_own_request_lines_are_scrubbed() -> None:
    """Werkzeug (and granian, if its access log is turned on) log raw request lines; the filter sits on their loggers too."""
    from types import SimpleNamespace

    from idp.observability.logs import configure_logging

    configure_logging(SimpleNamespace(log_level="INFO"))  # what every worker's create_app does
    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, '"%s" %s', ("GET /cb?code=abc&state=x HTTP/1.1", 302), None)
    for name in ("werkzeug", "granian.access"):
        assert any(isinstance(f, RedactingFilter) for f in logging.getLogger(name).filters), name
    RedactingFilter().filter(record)
    assert record.getMessage() == '"GET /cb?code=[redacted]&state=[redacted] HTTP/1.1" 302'
