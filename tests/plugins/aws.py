"""AWS for tests: moto in server mode on a loopback port, and boto3 pointed at it through its own environment.

Fixtures
- ``moto_server`` (session): a :class:`MotoServer`, the ``moto.server`` console entry point run as a
  subprocess on a free loopback port; ``.url``, ``.data()``, ``.sent_emails(to=None)``,
  ``.sent_sms(to=None)``, ``.reset()``.
- ``aws_env`` (function): an :class:`AwsEnv`; sets ``AWS_ENDPOINT_URL``, test credentials and
  ``AWS_DEFAULT_REGION`` with ``monkeypatch.setenv`` (so code under test uses boto3's own
  environment, R-93), and verifies the sender identities :data:`SENDER` and :data:`SENDER_DOMAIN`
  in SES through boto3. Helpers: ``sent_emails(to=None)``, ``sent_sms(to=None)``, ``last_email(to)``,
  ``last_sms(to)``, ``verify_sender(identity)``, ``client(service)``, ``reset()``.
- ``aws_proxy`` (function): an :class:`AwsProxy`, a small real HTTP server on a loopback port in front
  of moto that records every request boto3 makes (the full wire body: text part, configuration set,
  SMS attributes) and can answer the next N matching requests itself with a real AWS error
  (``fail_next``); it points ``AWS_ENDPOINT_URL`` at itself.

What was sent is read back from moto over HTTP: ``GET /moto-api/data.json`` lists every model moto
tracks (SES ``Message`` with ``source``, ``subject``, ``body``, ``destinations``; SNS ``SMS`` with
``phone_number`` and ``message``), and ``POST /moto-api/reset`` clears it. moto keeps only the HTML
part of a simple email with both parts; the text part is read from the proxy's recording.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

REGION = "eu-west-1"
#: Verified in SES by ``aws_env``: the default ``IDP_MAIL_FROM`` and its whole domain.
SENDER = "no-reply@idp.localhost"
SENDER_DOMAIN = "idp.localhost"
#: moto answers ``CheckIfPhoneNumberIsOptedOut`` with true for numbers ending in 99.
OPTED_OUT_NUMBER = "+447700900999"

#: The proxy's ``operation`` of SES v2 ``SendEmail`` (REST-JSON: method and path).
SES_SEND_EMAIL = "POST /v2/email/outbound-emails"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- moto in server mode -------------------------------------------------------------------


@dataclass(frozen=True)
class SentEmail:
    id: str
    source: str
    to: list[str]
    subject: str
    #: The HTML part when the mail had one, else the text part (moto keeps one body).
    body: str


@dataclass(frozen=True)
class SentSms:
    message_id: str
    phone_number: str
    message: str


@dataclass
class MotoServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def _request(self, path: str, method: str = "GET") -> bytes:
        req = urllib.request.Request(
            self.url + path, method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(req, timeout=10) as response:
            return bytes(response.read())

    def data(self) -> dict[str, Any]:
        """moto's ``/moto-api/data.json``: every tracked model instance by service and model name."""
        return dict(json.loads(self._request("/moto-api/data.json")))

    def sent_emails(self, to: str | None = None) -> list[SentEmail]:
        """Emails SES (v1 or v2, simple content) accepted, oldest first; only those to ``to`` when given."""
        out = []
        for m in self.data().get("ses", {}).get("Message", []):
            recipients = [
                a for addresses in m["destinations"].values() for a in addresses
            ]
            if to is None or to in recipients:
                out.append(
                    SentEmail(m["id"], m["source"], recipients, m["subject"], m["body"])
                )
        return out

    def sent_sms(self, to: str | None = None) -> list[SentSms]:
        """SMS SNS published to phone numbers, oldest first; only those to ``to`` when given."""
        return [
            SentSms(m["message_id"], m["phone_number"], m["message"])
            for m in self.data().get("sns", {}).get("SMS", [])
            if to is None or m["phone_number"] == to
        ]

    def reset(self) -> None:
        """Clear every backend (identities included)."""
        self._request("/moto-api/reset", method="POST")


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    log_path = tmp_path_factory.mktemp("moto") / "moto_server.log"
    last_error: Exception | None = None
    for _ in range(3):  # a free port may be taken between the probe and the bind
        port = _free_port()
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "moto.server",
                    "-H",
                    "127.0.0.1",
                    "-p",
                    str(port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONWARNINGS": "ignore"},
            )
        server = MotoServer(f"http://127.0.0.1:{port}", process, log_path)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                server.data()
                break
            except OSError as exc:
                last_error = exc
                time.sleep(0.1)
        else:
            process.kill()
            process.wait(5)
            continue
        try:
            yield server
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
        return
    raise RuntimeError(f"moto server did not start ({last_error}); see {log_path}")


# -- boto3's environment pointed at moto ------------------------------------------------------


@dataclass
class AwsEnv:
    moto: MotoServer
    endpoint_url: str
    region: str = REGION
    sender: str = SENDER

    def client(self, service: str) -> Any:
        """A boto3 client for the test itself, straight to moto."""
        return boto3.session.Session().client(
            service, region_name=self.region, endpoint_url=self.moto.url
        )

    def verify_sender(self, identity: str) -> None:
        """Verify an address or a whole domain as an SES sender (moto verifies at once)."""
        ses = self.client("ses")
        if "@" in identity:
            ses.verify_email_identity(EmailAddress=identity)
        else:
            ses.verify_domain_identity(Domain=identity)

    def sent_emails(self, to: str | None = None) -> list[SentEmail]:
        return self.moto.sent_emails(to)

    def sent_sms(self, to: str | None = None) -> list[SentSms]:
        return self.moto.sent_sms(to)

    def last_email(self, to: str) -> SentEmail:
        emails = self.sent_emails(to)
        assert emails, f"no email to {to} reached SES"
        return emails[-1]

    def last_sms(self, to: str) -> SentSms:
        messages = self.sent_sms(to)
        assert messages, f"no SMS to {to} reached SNS"
        return messages[-1]

    def reset(self) -> None:
        """Clear moto, then verify the default sender again."""
        self.moto.reset()
        self.verify_sender(SENDER_DOMAIN)
        self.verify_sender(SENDER)


@pytest.fixture
def aws_env(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> AwsEnv:
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL_") or name in (
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_REGION",
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_server.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    env = AwsEnv(moto=moto_server, endpoint_url=moto_server.url)
    env.verify_sender(SENDER_DOMAIN)
    env.verify_sender(SENDER)
    return env


# -- a recording, fault-injecting proxy in front of moto -------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    #: ``Action`` of query-protocol calls (SNS ``Publish``), else ``"METHOD /path"`` (SES v2).
    operation: str
    #: ``"proxy"`` when the proxy answered with an injected error, ``"moto"`` when forwarded.
    answered_by: str = "moto"

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class _Rule:
    operation: str
    remaining: int
    status: int
    headers: dict[str, str]
    body: bytes


def ses_throttling(
    code: str = "TooManyRequestsException",
) -> tuple[int, dict[str, str], bytes]:
    """An SES v2 throttling answer as AWS sends it (REST-JSON error with ``x-amzn-ErrorType``), R-86."""
    status = 429 if code == "TooManyRequestsException" else 400
    body = json.dumps({"message": "Maximum sending rate exceeded."}).encode()
    return (
        status,
        {
            "x-amzn-ErrorType": f"{code}:http://internal.amazon.com/",
            "Content-Type": "application/json",
        },
        body,
    )


def sns_throttled() -> tuple[int, dict[str, str], bytes]:
    """An SNS ``Throttled`` answer (HTTP 429, query-protocol XML), R-92."""
    body = (
        b'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type>'
        b"<Code>Throttled</Code><Message>Rate exceeded</Message></Error>"
        b"<RequestId>5d3c1e2a-0000-4000-8000-000000000000</RequestId></ErrorResponse>"
    )
    return 429, {"Content-Type": "text/xml"}, body


class AwsProxy:
    """A real HTTP server on loopback that forwards to moto, records, and can answer errors itself."""

    _HOP: ClassVar[frozenset[str]] = frozenset(
        {
            "connection",
            "keep-alive",
            "transfer-encoding",
            "content-length",
            "proxy-connection",
        }
    )

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.requests: list[Recorded] = []
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items()}
                status, out_headers, out_body = proxy._answer(
                    self.command, self.path, headers, body
                )
                self.send_response(status)
                for k, v in out_headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out_body)))
                self.end_headers()
                self.wfile.write(out_body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @staticmethod
    def _operation(method: str, path: str, headers: dict[str, str], body: bytes) -> str:
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if "x-www-form-urlencoded" in ctype:
            action = parse_qs(body.decode()).get("Action")
            if action:
                return action[0]
        return f"{method} {urlsplit(path).path}"

    def _answer(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        operation = self._operation(method, path, headers, body)
        record = Recorded(method, path, headers, body, operation)
        with self._lock:
            self.requests.append(record)
            rule = next(
                (
                    r
                    for r in self._rules
                    if r.operation == operation and r.remaining > 0
                ),
                None,
            )
            if rule is not None:
                rule.remaining -= 1
                record.answered_by = "proxy"
                return rule.status, dict(rule.headers), rule.body
        conn = http.client.HTTPConnection(
            self.upstream.hostname, self.upstream.port, timeout=30
        )
        try:
            forward = {k: v for k, v in headers.items() if k.lower() not in self._HOP}
            conn.request(method, path, body=body, headers=forward)
            response = conn.getresponse()
            data = response.read()
            out = {k: v for k, v in response.getheaders() if k.lower() not in self._HOP}
            return response.status, out, data
        finally:
            conn.close()

    def fail_next(
        self, operation: str, count: int, answer: tuple[int, dict[str, str], bytes]
    ) -> None:
        """Answer the next ``count`` requests for ``operation`` with ``answer`` (status, headers, body)."""
        status, headers, body = answer
        with self._lock:
            self._rules.append(_Rule(operation, count, status, headers, body))

    def calls(self, operation: str) -> list[Recorded]:
        """Recorded requests for ``operation``, in order."""
        with self._lock:
            return [r for r in self.requests if r.operation == operation]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@pytest.fixture
def aws_proxy(aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsProxy]:
    proxy = AwsProxy(aws_env.moto.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.url)
    try:
        yield proxy
    finally:
        proxy.close()

