"""Outages answer a clean 503 and the service recovers by itself when the dependency returns (R-95).

Redis: the test starts its own ``redis-server`` on a free port, points a live server at it,
kills it, and checks that readiness fails, the token endpoint answers ``temporarily_unavailable``
and a page answers the 503 page (never a 500, never a stack trace), then starts Redis again on
the same port and sees every answer come back. The database: an app whose PostgreSQL pool points
at a port that refuses connections answers 503s the same way.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from conftest import free_port
from werkzeug.serving import make_server

from idp import create_app
from idp.observability.logs import json_handler
from observability.conftest import RedisServer, scrape, value

TOKEN = "/protocol/openid-connect/token"


def _token_request(server: Any, slug: str, secret: str) -> requests.Response:
    return requests.post(
        server.realm(slug) + TOKEN,
        data={"grant_type": "authorization_code", "code": "no-such-code", "redirect_uri": "http://127.0.0.1:9/cb", "code_verifier": "v" * 43},
        auth=("rp", secret),
        timeout=20,
    )


def _assert_clean_503(response: requests.Response) -> None:
    assert response.status_code == 503, (response.status_code, response.text[:500])
    assert "Traceback" not in response.text and "redis" not in response.text.lower()
    assert response.headers.get("Retry-After")
    assert response.headers["X-Request-ID"]


def _wait_ready(url: str, timeout: float = 20) -> requests.Response:
    deadline = time.monotonic() + timeout
    while True:
        response = requests.get(f"{url}/readyz", timeout=10)
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def test_redis_outage_gives_503s_and_recovers(
    make_live_server: Callable[..., Any], tenant_factory: Callable[..., Any], redis_server: RedisServer
) -> None:
    server = make_live_server(redis_url=redis_server.url)
    tenant = tenant_factory(server.services)
    _client, secret = server.services.clients.create(tenant, "rp", ["http://127.0.0.1:9/cb"])
    assert secret

    # Up: ready; a bad code is the client's error.
    assert _wait_ready(server.url).status_code == 200
    up = _token_request(server, tenant.slug, secret)
    assert up.status_code == 400 and up.json()["error"] == "invalid_grant"
    before = scrape(server.url)

    redis_server.stop()

    ready = requests.get(f"{server.url}/readyz", timeout=20)
    assert ready.status_code == 503
    assert ready.json()["checks"]["store"].startswith("unavailable") and ready.json()["checks"]["database"] == "ok"

    down = _token_request(server, tenant.slug, secret)
    _assert_clean_503(down)
    assert down.json()["error"] == "temporarily_unavailable"
    assert down.headers["Cache-Control"].startswith("no-store")

    page = requests.get(f"{server.realm(tenant.slug)}/login", allow_redirects=False, timeout=20)
    _assert_clean_503(page)
    assert page.headers["Content-Type"].startswith("text/html")

    after = scrape(server.url)
    assert value(after, "idp_unavailable_responses_total", dependency="store") - value(
        before, "idp_unavailable_responses_total", dependency="store"
    ) >= 2
    assert value(after, "idp_http_requests_total", endpoint="oidc.token", method="POST", status="503") >= 1
    # counted since ``before`` only: the in-process server shares its pytest worker's metrics with earlier
    # tests, one of which provokes a 500 on purpose
    fives = {k: v - before.get(k, 0.0) for k, v in after.items() if k[0] == "idp_http_requests_total" and dict(k[1]).get("status") == "500"}
    assert not any(fives.values()), "an outage must never be a 500"

    redis_server.start()

    assert _wait_ready(server.url).status_code == 200
    again = _token_request(server, tenant.slug, secret)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    login = requests.get(f"{server.realm(tenant.slug)}/login", allow_redirects=False, timeout=20)
    assert login.status_code in (200, 302, 303)


_REFUSED: dict[str, int] = {}


def refused_port(url: str) -> int:
    return _REFUSED[url]


@pytest.fixture
def db_down_server(make_settings: Callable[..., Any]) -> Iterator[str]:
    """An app whose PostgreSQL pool points at a loopback port where nothing listens."""
    refused = free_port()
    app = create_app(make_settings(database_url=f"postgresql://idp@127.0.0.1:{refused}/idp"))
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    _REFUSED[url] = refused
    yield url
    server.shutdown()
    thread.join(5)
    app.extensions["idp"].close()


def test_database_outage_gives_503s_not_500s(db_down_server: str) -> None:
    url = db_down_server
    before = scrape(url)
    stream = io.StringIO()
    handler = json_handler(stream)
    logging.getLogger("idp").addHandler(handler)

    ready = requests.get(f"{url}/readyz", timeout=20)
    assert ready.status_code == 503 and ready.json()["checks"]["database"].startswith("unavailable")

    protocol = requests.get(f"{url}/realms/acme/protocol/openid-connect/certs", timeout=20)
    _assert_clean_503(protocol)
    assert protocol.json() == {
        "error": "temporarily_unavailable",
        "error_description": "The service is temporarily unavailable; try again.",
    }

    page = requests.get(f"{url}/realms/acme/login", timeout=20)
    _assert_clean_503(page)
    assert page.headers["Content-Type"].startswith("text/html")
    assert "postgresql" not in page.text.lower() and "127.0.0.1" not in page.text
    logging.getLogger("idp").removeHandler(handler)
    # The event line names the dependency and the error class, with the request's ID; never the DSN.
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    (event,) = [e for e in events if e["logger"] == "idp.faults" and e.get("request_id") == page.headers["X-Request-ID"]]
    assert event["dependency"] == "database" and event["error"] == "OperationalError" and event["level"] == "WARNING"
    assert str(refused_port(url)) not in stream.getvalue()

    after = scrape(url)
    assert value(after, "idp_unavailable_responses_total", dependency="database") - value(
        before, "idp_unavailable_responses_total", dependency="database"
    ) == 2
    assert value(after, "idp_store_errors_total", backend="database") - value(before, "idp_store_errors_total", backend="database") >= 2
