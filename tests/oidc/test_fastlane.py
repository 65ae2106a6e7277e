"""The discovery and JWKS fast lane (idp.oidc.fastlane) answers exactly as the Flask views do."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from conftest import random_slug

from idp.app import create_app
from idp.observability.logs import json_handler
from idp.oidc.fastlane import ProtocolFastLane
from idp.storage.schema import upgrade

DOCUMENTS = [
    ("/.well-known/openid-configuration", "oidc.discovery", "/realms/<tenant>/.well-known/openid-configuration"),
    ("/protocol/openid-connect/certs", "oidc.certs", "/realms/<tenant>/protocol/openid-connect/certs"),
]


@pytest.fixture(params=["http://127.0.0.1:8080", "https://id.example.org"])
def site(request: pytest.FixtureRequest, make_settings: Callable[..., Any]) -> Any:
    app = create_app(make_settings(public_url=request.param))
    services = app.extensions["idp"]
    upgrade(services.db)
    tenant = services.tenants.create(random_slug("lane"))
    yield app, tenant
    services.close()


def _call(wsgi: Any, path: str, **environ: str) -> tuple[str, list[tuple[str, str]], bytes]:
    env = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "REMOTE_ADDR": "192.0.2.7",
        "HTTP_HOST": "127.0.0.1:8080",
        **environ,
    }
    answer: list[Any] = []
    body = b"".join(wsgi(env, lambda status, headers, exc_info=None: answer.extend((status, headers))))
    return answer[0], answer[1], body


def _flask_only(app: Any) -> Any:
    lane = app.wsgi_app
    assert isinstance(lane, ProtocolFastLane)
    return lane.next


@pytest.mark.parametrize("suffix,endpoint,route", DOCUMENTS)
def test_the_lane_answers_as_flask_does(site: Any, suffix: str, endpoint: str, route: str) -> None:
    app, tenant = site
    path = f"/realms/{tenant.slug}{suffix}"
    flask_status, flask_headers, flask_body = _call(_flask_only(app), path, HTTP_X_REQUEST_ID="req-flask-0001")  # fills the caches

    stream = io.StringIO()
    handler = json_handler(stream)
    logging.getLogger("idp").addHandler(handler)
    timer = app.extensions["idp.observability"]["timer"]
    seen: list[tuple[str, str, int]] = []
    observe = timer.observe
    timer.observe = lambda e, m, s, t: (seen.append((e, m, s)), observe(e, m, s, t))
    try:
        lane_status, lane_headers, lane_body = _call(app.wsgi_app, path, HTTP_X_REQUEST_ID="req-lane-00001")
    finally:
        del timer.observe
        logging.getLogger("idp").removeHandler(handler)

    assert (lane_status, lane_body) == (flask_status, flask_body) == ("200 OK", flask_body)
    assert [(k, v) for k, v in lane_headers if k != "X-Request-ID"] == [(k, v) for k, v in flask_headers if k != "X-Request-ID"]
    assert dict(lane_headers)["X-Request-ID"] == "req-lane-00001"
    assert ("Strict-Transport-Security" in dict(lane_headers)) == tenant.public_url.startswith("https://")
    assert seen == [(endpoint, "GET", 200)]
    (line,) = [json.loads(x) for x in stream.getvalue().splitlines() if '"idp.access"' in x]
    assert {k: line[k] for k in ("request_id", "method", "path", "route", "endpoint", "tenant", "status", "remote_addr", "bytes")} == {
        "request_id": "req-lane-00001",
        "method": "GET",
        "path": path,
        "route": route,
        "endpoint": endpoint,
        "tenant": tenant.slug,
        "status": 200,
        "remote_addr": "192.0.2.7",
        "bytes": len(flask_body),
    }


@pytest.mark.parametrize(
    "environ",
    [
        {"REQUEST_METHOD": "HEAD"},
        {"QUERY_STRING": "x=1"},
        {"HTTP_IF_NONE_MATCH": '"abc"'},
    ],
)
def test_anything_else_goes_to_flask(site: Any, environ: dict[str, str]) -> None:
    app, tenant = site
    lane = app.wsgi_app
    calls: list[str] = []
    flask = lane.next
    lane.next = lambda env, start: (calls.append(env["PATH_INFO"]), flask(env, start))[1]
    path = f"/realms/{tenant.slug}/protocol/openid-connect/certs"
    _call(app.wsgi_app, path)  # through Flask (nothing cached yet), then cached
    _call(app.wsgi_app, path)  # the lane
    assert len(calls) == 1
    _call(app.wsgi_app, path, **environ)
    assert len(calls) == 2


def test_unknown_tenants_and_cache_misses_go_to_flask(site: Any) -> None:
    app, tenant = site
    status, _, body = _call(app.wsgi_app, "/realms/no-such-tenant/.well-known/openid-configuration")
    assert status.startswith("404") and json.loads(body)["error"] == "not_found"
    status, _, body = _call(app.wsgi_app, "/realms/no-such-tenant/.well-known/openid-configuration")
    assert status.startswith("404")
    services = app.extensions["idp"]
    services.tenants.invalidate(tenant.slug)
    assert services.tenants.cached(tenant.slug) is None
    status, _, _ = _call(app.wsgi_app, f"/realms/{tenant.slug}/.well-known/openid-configuration")
    assert status == "200 OK" and services.tenants.cached(tenant.slug) is not None


def test_a_rotated_key_shows_in_the_lane_after_invalidation(site: Any) -> None:
    app, tenant = site
    path = f"/realms/{tenant.slug}/protocol/openid-connect/certs"
    _call(app.wsgi_app, path)
    before = json.loads(_call(app.wsgi_app, path)[2])
    app.extensions["idp"].keys.rotate(tenant)
    after = json.loads(_call(app.wsgi_app, path)[2])
    assert len(after["keys"]) == len(before["keys"]) + 1
