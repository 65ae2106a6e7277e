"""Code exchange, refresh, UserInfo and introspection through the fast lane (idp.web.fastlane) answer as Flask and
Authlib do (R-60..R-63).

Each case is played twice on the same app: once through Flask alone (the lane's ``next``), once through the lane,
each with its own fresh code or refresh token, and the two answers are compared: status, headers, the OAuth error
(code and description) and, on success, the token response's members and the claims of its tokens.
"""

from __future__ import annotations

import base64
import io
import json
import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from conftest import REDIS_URL, random_slug

from idp.app import create_app
from idp.oidc.tokens import AuthorizationCode
from idp.security.secrets import random_token
from idp.storage.schema import upgrade
from idp.web.fastlane import ProtocolFastLane

REDIRECT = "https://rp.example.com/cb"
VERIFIER = "lane-verifier-0123456789-0123456789-0123456789-0123456789"
SCOPE = "openid profile email offline_access"


class Site:
    """An app with a tenant, a confidential client (code + refresh) and a user; calls through the lane or Flask."""

    def __init__(self, app: Any, tenant: Any, secret: str, other_secret: str, user: Any) -> None:
        self.app = app
        self.services = app.extensions["idp"]
        self.tenant = tenant
        self.secrets = {"web": secret, "other": other_secret}
        self.user = user
        self.passed: list[str] = []
        self.lane_answered = False
        lane = app.wsgi_app
        assert isinstance(lane, ProtocolFastLane)
        self.flask = lane.next
        lane.next = lambda env, start: (self.passed.append(env["PATH_INFO"]), self.flask(env, start))[1]

    def code(self, client_id: str = "web", expires_in: int = 60, challenge: bool = True) -> str:
        """A fresh code, saved as the authorization endpoint saves it."""
        code = random_token(32)
        now = int(time.time())
        record = AuthorizationCode(
            gid=random_token(16), client_id=client_id, redirect_uri=REDIRECT, scope=SCOPE, user_id=self.user.id, sub=self.user.sub,
            sid="sid-" + random_token(8), auth_time=now, expires_at=now + expires_in, nonce="n-1", acr="urn:idp:acr:pwd", amr=("pwd",),
            code_challenge=create_s256_code_challenge(VERIFIER) if challenge else "", code_challenge_method="S256" if challenge else "",
        )
        self.services.tokens.save_code(self.tenant, code, record)
        return code

    def call(
        self, lane: bool, body: str, client_id: str = "web", secret: str | None = None, endpoint: str = "token", bearer: str = ""
    ) -> tuple[int, dict[str, str], dict[str, Any]]:
        raw = body.encode()
        auth = "Basic " + base64.b64encode(f"{client_id}:{secret if secret is not None else self.secrets[client_id]}".encode()).decode()
        env = {
            "REQUEST_METHOD": "GET" if bearer else "POST", "PATH_INFO": f"/realms/{self.tenant.slug}/protocol/openid-connect/{endpoint}",
            "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(raw), "wsgi.errors": io.StringIO(), "REMOTE_ADDR": "192.0.2.7", "HTTP_HOST": "127.0.0.1:8080",
            "HTTP_AUTHORIZATION": "Bearer " + bearer if bearer else auth,
        }
        if not bearer:
            env.update({"CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": str(len(raw))})
        answer: list[Any] = []
        wsgi = self.app.wsgi_app if lane else self.flask
        out = b"".join(wsgi(env, lambda status, headers, exc_info=None: answer.extend((status, headers))))
        return int(answer[0].split()[0]), dict(answer[1]), json.loads(out)

    def exchange(self, lane: bool, code: str, verifier: str | None = VERIFIER, redirect_uri: str = REDIRECT, **kw: Any) -> Any:
        body = f"grant_type=authorization_code&code={code}&redirect_uri={redirect_uri}"
        if verifier is not None:
            body += f"&code_verifier={verifier}"
        return self.call(lane, body, **kw)

    def refresh_token(self) -> str:
        """A refresh token from a real code exchange (through Flask)."""
        status, _, token = self.exchange(False, self.code())
        assert status == 200, token
        return str(token["refresh_token"])


@pytest.fixture
def site(make_settings: Callable[..., Any], backend: str) -> Any:
    """On each store backend: the lane checks the admin revision inside the store's own operations (its Lua, its MGET).

    On Redis, a database of this test worker's own: the admin revision is one key shared by every test using the
    server, and another test's admin write would (rightly) send the lane's request to Flask."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    own_redis = REDIS_URL.rsplit("/", 1)[0] + f"/{8 + worker % 8}"
    app = create_app(make_settings(redis_url=own_redis) if backend == "redis" else make_settings())
    services = app.extensions["idp"]
    upgrade(services.db)
    tenant = services.tenants.create(random_slug("lanegrant"))
    _, secret = services.clients.create(tenant, "web", [REDIRECT], grant_types=["authorization_code", "refresh_token"], scope=SCOPE)
    _, other = services.clients.create(tenant, "other", [REDIRECT], grant_types=["authorization_code", "refresh_token"], scope=SCOPE)
    user = services.users.create(tenant, "ada", "correct-horse-battery-9", email="ada@example.org", given_name="Ada", family_name="L")
    s = Site(app, services.tenants.get(tenant.slug), secret, other, user)
    s.exchange(False, s.code())  # the caches warm (tenant, keys, clients) so the lane can answer
    s.passed.clear()
    yield s
    services.close()


def _same_headers(a: dict[str, str], b: dict[str, str]) -> None:
    skip = ("X-Request-ID", "Content-Length")
    assert {k: v for k, v in a.items() if k not in skip} == {k: v for k, v in b.items() if k not in skip}


def _claims(site: Site, token: str, typ: str) -> dict[str, Any]:
    claims = site.services.tokens.decode_jwt(site.tenant, token, typ=typ)
    assert claims is not None
    return {k: v for k, v in claims.items() if k not in ("iat", "exp", "jti", "gid", "at_hash", "sid", "nonce")}


def test_a_code_exchange_from_the_lane_matches_authlibs(site: Site) -> None:
    """The same members, headers and claims (ID and access token) whichever path answers."""
    flask = site.exchange(False, site.code())
    assert site.passed == []
    lane = site.exchange(True, site.code())
    assert site.passed == []  # the lane answered
    assert lane[0] == flask[0] == 200
    _same_headers(lane[1], flask[1])
    assert lane[1]["Cache-Control"] == "no-store" and lane[1]["Pragma"] == "no-cache"
    assert set(lane[2]) == set(flask[2]) >= {"access_token", "id_token", "refresh_token", "expires_in", "scope", "token_type"}
    assert {k: lane[2][k] for k in ("expires_in", "scope", "token_type")} == {k: flask[2][k] for k in ("expires_in", "scope", "token_type")}
    assert _claims(site, lane[2]["access_token"], "at+jwt") == _claims(site, flask[2]["access_token"], "at+jwt")
    lane_id, flask_id = _claims(site, lane[2]["id_token"], "jwt"), _claims(site, flask[2]["id_token"], "jwt")
    assert lane_id == flask_id and lane_id["email"] == "ada@example.org" and lane_id["name"] == "Ada L"


def test_a_refresh_from_the_lane_matches_authlibs_and_rotates(site: Site) -> None:
    body = "grant_type=refresh_token&refresh_token={}"
    flask = site.call(False, body.format(site.refresh_token()))
    rt = site.refresh_token()
    site.passed.clear()
    lane = site.call(True, body.format(rt))
    assert site.passed == []
    assert lane[0] == flask[0] == 200
    _same_headers(lane[1], flask[1])
    assert set(lane[2]) == set(flask[2])
    assert _claims(site, lane[2]["access_token"], "at+jwt") == _claims(site, flask[2]["access_token"], "at+jwt")
    assert lane[2]["refresh_token"] != rt and lane[2]["refresh_token"].split(".")[2] == "2"  # the next generation
    again = site.call(True, body.format(lane[2]["refresh_token"]))  # the new one works through the lane too
    assert again[0] == 200


def _both(site: Site, play: Callable[[bool], tuple[int, dict[str, str], dict[str, Any]]]) -> tuple[Any, Any]:
    flask = play(False)
    passed = len(site.passed)
    lane = play(True)
    site.lane_answered = len(site.passed) == passed
    assert lane[0] == flask[0], (lane, flask)
    assert lane[2] == flask[2]
    _same_headers(lane[1], flask[1])
    return flask, lane


@pytest.mark.parametrize(
    "case,status,error",
    [
        ("missing code_verifier", 400, "invalid_request"),
        ("wrong code_verifier", 400, "invalid_grant"),
        ("malformed code_verifier", 400, "invalid_request"),
        ("wrong redirect_uri", 400, "invalid_grant"),
        ("expired code", 400, "invalid_grant"),
        ("unknown code", 400, "invalid_grant"),
        ("code of another client", 400, "invalid_grant"),
        ("verifier without a challenge", 400, "invalid_request"),
        ("missing code", 400, "invalid_request"),
        ("wrong client secret", 401, "invalid_client"),
    ],
)
def test_code_exchange_errors_match_authlibs(site: Site, case: str, status: int, error: str) -> None:
    """R-60, R-61, R-62: the same status, error and description from the lane as from Authlib."""
    plays: dict[str, Callable[[bool], Any]] = {
        "missing code_verifier": lambda lane: site.exchange(lane, site.code(), verifier=None),
        "wrong code_verifier": lambda lane: site.exchange(lane, site.code(), verifier=VERIFIER[::-1]),
        "malformed code_verifier": lambda lane: site.exchange(lane, site.code(), verifier="short"),
        "wrong redirect_uri": lambda lane: site.exchange(lane, site.code(), redirect_uri="https://rp.example.com/other"),
        "expired code": lambda lane: site.exchange(lane, site.code(expires_in=-1)),
        "unknown code": lambda lane: site.exchange(lane, "not-a-code"),
        "code of another client": lambda lane: site.exchange(lane, site.code(client_id="other")),
        "verifier without a challenge": lambda lane: site.exchange(lane, site.code(challenge=False)),
        "missing code": lambda lane: site.call(lane, f"grant_type=authorization_code&redirect_uri={REDIRECT}"),
        "wrong client secret": lambda lane: site.exchange(lane, site.code(), secret="not-the-secret"),
    }
    flask, _lane = _both(site, plays[case])
    assert flask[0] == status and flask[2]["error"] == error, flask
    assert site.lane_answered == (case != "wrong client secret")  # a client the lane cannot authenticate goes to Authlib


def test_a_reused_code_is_refused_and_revokes_its_grant_on_both_paths(site: Site) -> None:
    """R-62: the second redemption is invalid_grant and the tokens of the first stop working, whichever path."""
    for first_lane, second_lane in ((True, True), (False, True), (True, False)):
        code = site.code()
        first = site.exchange(first_lane, code)
        assert first[0] == 200
        second = site.exchange(second_lane, code)
        assert second[0] == 400 and second[2] == {"error": "invalid_grant", "error_description": "The authorization code has already been used."}
        refused = site.call(True, f"grant_type=refresh_token&refresh_token={first[2]['refresh_token']}")
        assert refused[0] == 400 and refused[2]["error"] == "invalid_grant"
        assert site.services.tokens.verify_access_token(site.tenant, first[2]["access_token"]) is None


@pytest.mark.parametrize("case", ["reused token", "another client's token", "wrong client secret", "forged token", "broader scope"])
def test_refresh_errors_match_authlibs(site: Site, case: str) -> None:
    """R-63: the same answers from the lane as from Authlib; a reuse revokes the family on both paths."""
    body = "grant_type=refresh_token&refresh_token={}"

    def play(lane: bool) -> Any:
        rt = site.refresh_token()
        if case == "reused token":
            assert site.call(lane, body.format(rt))[0] == 200
            answer = site.call(lane, body.format(rt))
            return answer
        if case == "another client's token":
            return site.call(lane, body.format(rt), client_id="other")
        if case == "wrong client secret":
            return site.call(lane, body.format(rt), secret="nope")
        if case == "forged token":
            return site.call(lane, body.format(rt[:-2] + "xx"))
        return site.call(lane, body.format(rt) + "&scope=openid+admin")

    flask, _lane = _both(site, play)
    assert flask[0] in (400, 401) and flask[2]["error"] in ("invalid_grant", "invalid_client", "invalid_scope"), flask


def test_a_reused_refresh_token_revokes_the_family_through_the_lane(site: Site) -> None:
    rt = site.refresh_token()
    site.passed.clear()
    ok = site.call(True, f"grant_type=refresh_token&refresh_token={rt}")
    assert ok[0] == 200
    reuse = site.call(True, f"grant_type=refresh_token&refresh_token={rt}")
    assert reuse[0] == 400 and reuse[2]["error"] == "invalid_grant"
    assert site.passed == []
    newest = site.call(True, f"grant_type=refresh_token&refresh_token={ok[2]['refresh_token']}")
    assert newest[0] == 400 and newest[2]["error"] == "invalid_grant"  # the family is revoked
    assert site.services.tokens.verify_access_token(site.tenant, ok[2]["access_token"]) is None


def test_a_disabled_user_gets_no_tokens_from_the_lane(site: Site) -> None:
    code = site.code()
    other = site.code()
    with site.services.db.session() as s:
        from idp.storage.models import User

        s.get(User, site.user.id).status = "disabled"  # type: ignore[union-attr]
    _both(site, lambda lane: site.exchange(lane, code if lane else other))
    assert site.exchange(True, site.code())[2]["error"] == "invalid_grant"


def test_a_store_outage_during_an_exchange_is_the_same_503(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """R-95: the lane answers an outage met while spending a code as the outage handler does."""
    from idp.store import StoreUnavailable

    tokens = site.services.tokens

    def down(*_a: Any, **_k: Any) -> Any:
        raise StoreUnavailable("down")

    monkeypatch.setattr(tokens, "redeem_code", down)
    _both(site, lambda lane: site.exchange(lane, site.code()))
    assert site.exchange(True, site.code())[0] == 503


def _userinfo(site: Site, lane: bool, token: str) -> Any:
    return site.call(lane, "", endpoint="userinfo", bearer=token)


def _introspect(site: Site, lane: bool, token: str, **kw: Any) -> Any:
    return site.call(lane, f"token={token}", endpoint="token/introspect", **kw)


def test_userinfo_and_introspection_from_the_lane_match_authlibs(site: Site) -> None:
    token = site.exchange(True, site.code())[2]["access_token"]
    for play, lane_answers in ((lambda lane: _userinfo(site, lane, token), True), (lambda lane: _introspect(site, lane, token), True)):
        flask, lane = _both(site, play)
        assert site.lane_answered is lane_answers
        assert flask[0] == 200 and lane[2] == flask[2]
    assert _userinfo(site, True, token)[2]["email"] == "ada@example.org"
    assert _introspect(site, True, token)[2]["active"] is True


@pytest.mark.parametrize("case", ["revoked grant", "disabled user", "garbage token", "refresh token", "client_credentials token",
                                  "wrong client secret", "token type hint"])
def test_userinfo_and_introspection_errors_are_authlibs(site: Site, case: str) -> None:
    """Every answer but the plain valid one comes from Flask and Authlib, unchanged (RFC 6750 §3.1, RFC 7662 §2.2)."""
    token = site.exchange(True, site.code())[2]
    access = token["access_token"]
    kw: dict[str, Any] = {}
    if case == "revoked grant":
        claims = site.services.tokens.decode_jwt(site.tenant, access)
        site.services.tokens.revoke_grant(site.tenant, claims["gid"])
    elif case == "disabled user":
        from idp.storage.models import User

        with site.services.db.session() as s:
            s.get(User, site.user.id).status = "disabled"  # type: ignore[union-attr]
    elif case == "garbage token":
        access = "not.a.token"
    elif case == "refresh token":
        access = token["refresh_token"]
    elif case == "client_credentials token":
        _, secret = site.services.clients.create(site.tenant, "svc", [], grant_types=["client_credentials"], scope="openid profile")
        site.secrets["svc"] = secret
        access = site.call(False, "grant_type=client_credentials&scope=profile", client_id="svc")[2]["access_token"]
    elif case == "wrong client secret":
        kw = {"secret": "nope"}
    for endpoint in ("userinfo", "introspection"):
        if endpoint == "userinfo" and case in ("wrong client secret", "token type hint"):
            continue
        if endpoint == "userinfo":
            flask, _ = _both(site, lambda lane: _userinfo(site, lane, access))
        elif case == "token type hint":
            flask, _ = _both(site, lambda lane: site.call(lane, f"token={access}&token_type_hint=access_token", endpoint="token/introspect"))
        else:
            flask, _ = _both(site, lambda lane: _introspect(site, lane, access, **kw))
        valid_introspection = endpoint == "introspection" and case in ("disabled user", "client_credentials token")
        assert site.lane_answered is valid_introspection, (case, endpoint)
        if endpoint == "userinfo":
            assert (flask[0], flask[2]["error"]) in ((401, "invalid_token"), (403, "insufficient_scope")), (case, flask)
        elif case == "wrong client secret":
            assert flask[0] == 401 and flask[2]["error"] == "invalid_client"
        elif not valid_introspection:
            assert flask[0] == 200 and (flask[2]["active"] is False or case in ("refresh token", "token type hint")), (case, flask)


# -- the admin revision checked in the grant's own store operation (issue 17) ---------------------------------------


def _another_worker(site: Site) -> Any:
    """The services of another worker: the same database and store, caches of its own."""
    return create_app(site.services.settings).extensions["idp"]


def test_a_secret_rotated_elsewhere_is_refused_and_the_code_stays_unspent(site: Site) -> None:
    """R-44, R-62: the revision moved since the lane's caches were read: the redemption script refuses before it spends
    the code, Flask answers with fresh caches (the old secret is invalid_client) and the code still works once."""
    code = site.code()
    other = _another_worker(site)
    try:
        new_secret = other.clients.rotate_secret(other.tenants.require(site.tenant.slug), "web")
    finally:
        other.close()
    refused = site.exchange(True, code)
    assert refused[0] == 401 and refused[2]["error"] == "invalid_client"
    ok = site.exchange(True, code, secret=new_secret)
    assert ok[0] == 200 and "id_token" in ok[2]
    site.secrets["web"] = new_secret
    site.passed.clear()
    assert site.exchange(True, site.code())[0] == 200
    assert site.passed == []  # the lane answers again, from the reloaded caches


def test_an_admin_write_elsewhere_sends_a_refresh_and_userinfo_to_flask_which_answers_them(site: Site) -> None:
    """A moved revision found by the grant's read (refresh) or the token's read (UserInfo, introspection): nothing is
    spent, Flask answers the same request with reloaded caches, the refresh token is rotated exactly once."""
    first = site.exchange(True, site.code())[2]
    for step in ("refresh", "userinfo", "introspection"):
        other = _another_worker(site)
        try:
            other.clients.rotate_secret(other.tenants.require(site.tenant.slug), "other")  # any admin write moves it
        finally:
            other.close()
        site.passed.clear()
        if step == "refresh":
            answer = site.call(True, f"grant_type=refresh_token&refresh_token={first['refresh_token']}")
            assert answer[0] == 200 and answer[2]["refresh_token"].split(".")[2] == "2", answer
        elif step == "userinfo":
            answer = _userinfo(site, True, first["access_token"])
            assert answer[0] == 200 and answer[2]["email"] == "ada@example.org"
        else:
            answer = _introspect(site, True, first["access_token"])
            assert answer[0] == 200 and answer[2]["active"] is True
        assert len(site.passed) == 1, step  # handed to Flask once
    again = site.call(True, f"grant_type=refresh_token&refresh_token={first['refresh_token']}")
    assert again[0] == 400 and again[2]["error"] == "invalid_grant"  # the generation was spent once, by Flask


def test_an_error_decided_before_the_redemption_reads_the_revision_first(site: Site) -> None:
    """A request the grant refuses before any store operation (no code) still sees a client removed elsewhere:
    invalid_client from Flask, as a fresh worker would answer, not the lane's invalid_request."""
    other = _another_worker(site)
    try:
        other.clients.delete(other.tenants.require(site.tenant.slug), "web")
    finally:
        other.close()
    answer = site.call(True, f"grant_type=authorization_code&redirect_uri={REDIRECT}")
    assert answer[0] == 401 and answer[2]["error"] == "invalid_client"
