"""The discovery and JWKS fast lane (idp.web.fastlane) answers exactly as the Flask views do."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from conftest import random_slug
from observability.conftest import RedisServer

from idp.app import create_app
from idp.observability.logs import json_handler
from idp.storage.schema import upgrade
from idp.web.fastlane import ProtocolFastLane

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


# -- client_credentials -------------------------------------------------------------------------------


def _basic(client_id: str, secret: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def _token_call(wsgi: Any, tenant: Any, body: bytes, authorization: str = "", **environ: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    env = {
        "REQUEST_METHOD": "POST",
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        **({"HTTP_AUTHORIZATION": authorization} if authorization else {}),
        **environ,
    }
    status, headers, raw = _call(wsgi, f"/realms/{tenant.slug}/protocol/openid-connect/token", **env)  # type: ignore[arg-type]
    return status, dict(headers), json.loads(raw)


@pytest.fixture
def service_client(site: Any) -> tuple[Any, Any, Any, str]:
    app, tenant = site
    services = app.extensions["idp"]
    client, secret = services.clients.create(tenant, "svc", [], grant_types=["client_credentials"], scope="profile email")
    return app, services.tenants.get(tenant.slug), client, secret


def _lane_spy(app: Any) -> list[str]:
    """Paths the lane handed to Flask."""
    lane = app.wsgi_app
    passed: list[str] = []
    flask = lane.next
    lane.next = lambda env, start: (passed.append(env["PATH_INFO"]), flask(env, start))[1]
    return passed


def test_client_credentials_from_the_lane_match_authlibs_answer(service_client: Any) -> None:
    """R-75: the same token, claims and headers (no-store) whether Authlib or the lane answers."""
    app, tenant, _client, secret = service_client
    body = b"grant_type=client_credentials&scope=profile+openid+unknown"
    flask_status, flask_headers, flask_token = _token_call(_flask_only(app), tenant, body, _basic("svc", secret))  # fills the caches
    passed = _lane_spy(app)
    lane_status, lane_headers, lane_token = _token_call(app.wsgi_app, tenant, body, _basic("svc", secret), HTTP_X_REQUEST_ID="req-lane-cc001")
    assert passed == []  # the lane answered
    assert lane_status == flask_status == "200 OK"
    assert {k: v for k, v in lane_headers.items() if k not in ("X-Request-ID", "Content-Length")} == {
        k: v for k, v in flask_headers.items() if k not in ("X-Request-ID", "Content-Length")
    }
    assert lane_headers["Cache-Control"] == "no-store" and lane_headers["Pragma"] == "no-cache"
    assert lane_headers["X-Request-ID"] == "req-lane-cc001"
    assert {k: v for k, v in lane_token.items() if k != "access_token"} == {k: v for k, v in flask_token.items() if k != "access_token"}
    assert lane_token["scope"] == "profile" and "refresh_token" not in lane_token
    tokens = app.extensions["idp.oidc"].tokens
    lane_claims = tokens.decode_jwt(tenant, lane_token["access_token"])
    flask_claims = tokens.decode_jwt(tenant, flask_token["access_token"])
    assert lane_claims is not None and flask_claims is not None
    volatile = ("iat", "exp", "jti")
    assert {k: v for k, v in lane_claims.items() if k not in volatile} == {k: v for k, v in flask_claims.items() if k not in volatile}
    assert lane_claims["exp"] - lane_claims["iat"] == flask_claims["exp"] - flask_claims["iat"]


@pytest.mark.parametrize(
    "case,body,auth,status,error",
    [
        ("wrong secret", b"grant_type=client_credentials", ("svc", "not-the-secret"), 401, "invalid_client"),
        ("unknown client", b"grant_type=client_credentials", ("ghost", "x"), 401, "invalid_client"),
        ("no credentials", b"grant_type=client_credentials", None, 401, "invalid_client"),
        ("duplicated parameter", b"grant_type=client_credentials&grant_type=client_credentials", ("svc", "SECRET"), 400, "invalid_request"),
        ("other grant", b"grant_type=password&username=a&password=b", ("svc", "SECRET"), 400, "unsupported_grant_type"),
        ("extra parameter", b"grant_type=client_credentials&audience=x", ("svc", "SECRET"), 200, None),
        ("secret in the body", b"grant_type=client_credentials&client_id=svc&client_secret=SECRET", None, 200, None),
        ("Basic credentials not UTF-8", b"grant_type=client_credentials", "Basic /w==", 401, "invalid_client"),
        ("Basic credentials not base64", b"grant_type=client_credentials", "Basic ***", 401, "invalid_client"),
    ],
)
def test_anything_but_a_valid_client_credentials_request_goes_to_authlib(
    service_client: Any, case: str, body: bytes, auth: tuple[str, str] | str | None, status: int, error: str | None
) -> None:
    """R-75: the lane writes no error itself; Authlib authenticates and answers every request it does not, body intact."""
    app, tenant, _client, secret = service_client
    _token_call(app.wsgi_app, tenant, b"grant_type=client_credentials", _basic("svc", secret))  # caches warm
    passed = _lane_spy(app)
    body = body.replace(b"SECRET", secret.encode())
    authorization = auth if isinstance(auth, str) else _basic(auth[0], auth[1].replace("SECRET", secret)) if auth else ""
    got_status, _headers, answer = _token_call(app.wsgi_app, tenant, body, authorization)
    assert len(passed) == 1, case
    assert int(got_status.split()[0]) == status, (case, answer)
    if error:
        assert answer["error"] == error, (case, answer)
    if status == 200:
        assert answer["token_type"] == "Bearer"


def test_a_client_without_the_grant_is_refused_by_authlib(site: Any) -> None:
    app, tenant = site
    services = app.extensions["idp"]
    _, secret = services.clients.create(tenant, "web", ["https://rp.example.com/cb"], grant_types=["authorization_code"])
    tenant = services.tenants.get(tenant.slug)
    for _ in range(2):  # the second with the client cached
        status, _, answer = _token_call(app.wsgi_app, tenant, b"grant_type=client_credentials", _basic("web", secret))
        assert status.startswith("400") and answer["error"] == "unauthorized_client"


def test_a_removed_client_stops_at_the_lane_once_its_cache_is_invalidated(service_client: Any) -> None:
    app, tenant, _client, secret = service_client
    status, _, _ = _token_call(app.wsgi_app, tenant, b"grant_type=client_credentials", _basic("svc", secret))
    assert status == "200 OK"
    services = app.extensions["idp"]
    services.clients.delete(tenant, "svc")
    status, _, answer = _token_call(app.wsgi_app, tenant, b"grant_type=client_credentials", _basic("svc", secret))
    assert status.startswith("401") and answer["error"] == "invalid_client"


def test_keys_the_process_no_longer_holds_fresh_send_the_request_to_flask(service_client: Any) -> None:
    """The lane never queries: with the signing keys' cache expired, Flask reloads them (and would answer an
    outage with a 503, R-95) instead of the lane reaching the database."""
    app, tenant, _client, secret = service_client
    status, _, _ = _token_call(app.wsgi_app, tenant, b"grant_type=client_credentials", _basic("svc", secret))
    assert status == "200 OK"
    app.extensions["idp"].keys.invalidate(tenant.id)
    passed = _lane_spy(app)
    status, _, answer = _token_call(app.wsgi_app, tenant, b"grant_type=client_credentials", _basic("svc", secret))
    assert passed and status == "200 OK" and answer["token_type"] == "Bearer"
    passed.clear()
    _token_call(app.wsgi_app, tenant, b"grant_type=client_credentials", _basic("svc", secret))
    assert passed == []  # fresh again: the lane answers


@pytest.mark.parametrize("endpoint", ["token/introspect", "revoke"])
def test_malformed_basic_credentials_are_a_401_on_the_other_client_endpoints(service_client: Any, endpoint: str) -> None:
    app, tenant, _client, _secret = service_client
    status, headers, _ = _call(
        app.wsgi_app,
        f"/realms/{tenant.slug}/protocol/openid-connect/{endpoint}",
        REQUEST_METHOD="POST",
        CONTENT_TYPE="application/x-www-form-urlencoded",
        CONTENT_LENGTH="7",
        HTTP_AUTHORIZATION="Basic /w==",
        **{"wsgi.input": io.BytesIO(b"token=x")},  # type: ignore[arg-type]
    )
    assert status.startswith("401") and dict(headers)["WWW-Authenticate"].startswith("Basic")


# -- the admin revision (issue 11, item 5) ----------------------------------------------------------


def test_a_secret_rotated_by_another_worker_is_refused_by_the_lane_at_once(service_client: Any) -> None:
    """R-44: the lane reads the admin revision before answering from its caches; a rotation elsewhere empties them."""
    app, tenant, _client, secret = service_client
    for _ in range(2):  # the second from the lane's warm caches
        assert _token_call(app.wsgi_app, tenant, b"grant_type=client_credentials", _basic("svc", secret))[0] == "200 OK"
    other = create_app(app.extensions["idp"].settings).extensions["idp"]  # another worker: same database and store
    try:
        other.clients.rotate_secret(other.tenants.require(tenant.slug), "svc")
    finally:
        other.close()
    passed = _lane_spy(app)
    status, _, answer = _token_call(app.wsgi_app, tenant, b"grant_type=client_credentials", _basic("svc", secret))
    assert passed and status.startswith("401") and answer["error"] == "invalid_client"


def test_a_store_outage_is_a_503_never_an_answer_from_the_caches(make_settings: Callable[..., Any], redis_server: RedisServer) -> None:
    """R-95: with the store down, the lane cannot know whether its caches are current: Flask answers 503."""
    app = create_app(make_settings(redis_url=redis_server.url))
    services = app.extensions["idp"]
    upgrade(services.db)
    try:
        tenant = services.tenants.create(random_slug("lane"))
        _, secret = services.clients.create(tenant, "svc", [], grant_types=["client_credentials"])
        discovery = f"/realms/{tenant.slug}/.well-known/openid-configuration"
        for _ in range(2):
            assert _token_call(app.wsgi_app, tenant, b"grant_type=client_credentials", _basic("svc", secret))[0] == "200 OK"
            assert _call(app.wsgi_app, discovery)[0] == "200 OK"
        redis_server.stop()
        status, headers, answer = _token_call(app.wsgi_app, tenant, b"grant_type=client_credentials", _basic("svc", secret))
        assert status.startswith("503") and answer["error"] == "temporarily_unavailable" and headers["Cache-Control"].startswith("no-store")
        assert _call(app.wsgi_app, discovery)[0].startswith("503")
        redis_server.start()
        assert _token_call(app.wsgi_app, tenant, b"grant_type=client_credentials", _basic("svc", secret))[0] == "200 OK"
    finally:
        services.close()
