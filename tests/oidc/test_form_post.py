"""OAuth 2.0 Form Post Response Mode (https://openid.net/specs/oauth-v2-form-post-response-mode-1_0.html).

The relying party is Authlib's client (``OAuth2Session``) and a real HTTP receiver on a loopback port, registered
as the client's redirect URI: the browser (``requests``, then Chromium with and without JavaScript) posts the form
of the last page to it, and the RP redeems what arrived. R-58 (only to the registered URI; else the error page),
R-64 (query and form_post only), R-69 (``iss``), R-70 (``state`` unchanged), R-71 (``prompt=none``), R-45 and R-66
(CSP without ``unsafe-inline``, frame-ancestors), R-56 (``no-store``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.discovery import OpenIDProviderMetadata
from support.builders import PASSWORD, REDIRECT_URI, Realm
from support.forms import Form, forms
from support.walkers import query, submit

from idp.oidc.form_post import response_parameters
from oidc.test_authorization_errors import CHALLENGE, CRAFTED_VALUES

CLIENT_ID = "fp-app"


# -- the relying party's end: a real HTTP server on a loopback port ------------------------------------------------------


@dataclass
class Arrival:
    """One request the receiver got: method, path with query, content type and the body's fields in order."""

    method: str
    path: str
    content_type: str
    fields: list[tuple[str, str]]

    @property
    def params(self) -> dict[str, str]:
        return dict(self.fields)


@dataclass
class Receiver:
    """The RP's callback: records every request to ``/callback``, answers 200 « received »."""

    url: str
    arrivals: list[Arrival] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def wait(self, timeout: float = 15) -> Arrival:
        assert self.arrived.wait(timeout), "nothing reached the relying party"
        return self.arrivals[-1]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    got = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/callback")

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if urlsplit(self.path).path != "/callback":  # the browser's own requests (/favicon.ico)
                self.send_error(404)
                return
            got.arrivals.append(Arrival(self.command, self.path, self.headers.get("Content-Type", ""), parse_qsl(body, keep_blank_values=True)))
            got.arrived.set()
            page = b"<!doctype html><title>RP</title><h1>received</h1>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        do_GET = do_POST = _record

        def log_message(self, *args: Any) -> None:
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield got
    server.shutdown()
    server.server_close()
    thread.join(5)


@dataclass
class App:
    """A confidential client of the realm whose redirect URI is the receiver, seen through Authlib's client."""

    realm: Realm
    receiver: Receiver
    secret: str

    def rp(self, **kwargs: Any) -> OAuth2Session:
        return OAuth2Session(
            CLIENT_ID, self.secret, scope="openid profile email", redirect_uri=self.receiver.url, code_challenge_method="S256", **kwargs
        )

    def authorization_url(self, rp: OAuth2Session, **params: str) -> tuple[str, str, str, str]:
        """(url, state, code_verifier, nonce) of a form_post request (unless ``params`` says otherwise)."""
        verifier, nonce = generate_token(48), generate_token(16)
        params.setdefault("response_mode", "form_post")
        url, state = rp.create_authorization_url(self.realm.endpoint("auth"), code_verifier=verifier, nonce=nonce, **params)
        return url, state, verifier, nonce


@pytest.fixture
def app(realm: Realm, receiver: Receiver) -> App:
    _, secret = realm.services.clients.create(realm.tenant, CLIENT_ID, [receiver.url])
    return App(realm, receiver, secret)


def form_post_page(response: requests.Response, action: str) -> Form:
    """The checks every form post page passes; returns its one form."""
    assert response.status_code == 200, response.text[:500]
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.headers["Cache-Control"] == "no-store" and "Location" not in response.headers
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp
    nonce = re.search(r"script-src 'nonce-([^']+)'", csp)
    assert nonce, csp
    body = response.text
    assert body.count("<script") == 1 and f'<script nonce="{nonce.group(1)}">' in body  # the nonce'd auto-submit only
    assert not re.search(r"\son[a-z]+\s*=", body) and "javascript:" not in body  # no inline handler
    assert re.search(r'<button type="submit"[^>]*>', body)  # works without JavaScript
    [only] = forms(body)
    assert only.method == "post" and only.action == action
    assert only.fields == only.hidden  # hidden fields only (the button has no name)
    return only


# -- with a browser that runs no JavaScript (requests) ------------------------------------------------------------------


def test_discovery_lists_form_post(realm: Realm) -> None:
    """R-74: response_modes_supported says what the endpoint accepts."""
    meta = requests.get(realm.endpoint("discovery"), timeout=10).json()
    OpenIDProviderMetadata(meta).validate()
    assert meta["response_modes_supported"] == ["query", "form_post"]


def test_a_form_post_sign_in_ends_with_a_post_to_the_relying_party(app: App) -> None:
    """The whole sign-in (authorize, password page, resume); the last page posts code, state and iss (R-69, R-70)
    to the registered URI; the RP's receiver gets them and Authlib's client redeems the code."""
    realm, browser = app.realm, requests.Session()
    rp = app.rp()
    url, state, verifier, nonce = app.authorization_url(rp)
    start = browser.get(url, allow_redirects=False, timeout=10)
    assert start.status_code == 303, start.text  # no session: to the sign-in page first
    sign_in = browser.get(urljoin(start.url, start.headers["Location"]), timeout=10)
    posted = submit(browser, sign_in, username="alice", password=PASSWORD)
    assert posted.status_code == 303
    resume = urljoin(posted.url, posted.headers["Location"])
    assert urlsplit(resume).path == f"/realms/{realm.tenant.slug}/protocol/openid-connect/auth/resume"
    last = browser.get(resume, allow_redirects=False, timeout=10)

    page = form_post_page(last, app.receiver.url)
    assert list(page.hidden) == ["code", "state", "iss"]  # what the query mode sends, in its order
    assert page.hidden["state"] == state and page.hidden["iss"] == realm.issuer
    assert app.receiver.arrivals == []  # nothing went to the RP by itself

    delivered = browser.post(page.action, data=page.fields, timeout=10)
    assert delivered.status_code == 200 and "received" in delivered.text
    arrival = app.receiver.wait()
    assert (arrival.method, arrival.path) == ("POST", "/callback")
    assert arrival.content_type == "application/x-www-form-urlencoded"
    assert arrival.params == page.hidden and arrival.params["state"] == state

    token = rp.fetch_token(realm.endpoint("token"), grant_type="authorization_code", code=arrival.params["code"], code_verifier=verifier)
    claims = realm.verify(token["id_token"], aud=CLIENT_ID, nonce=nonce, sub=realm.user.sub)
    assert claims["acr"] == "urn:idp:acr:pwd"
    assert rp.get(realm.endpoint("userinfo")).json()["preferred_username"] == "alice"


def test_a_signed_in_browser_gets_the_form_at_once_with_what_the_query_mode_sends(app: App) -> None:
    """With a session the authorization endpoint answers the page itself; its fields are the query mode's parameters."""
    browser = app.realm.browser()
    rp = app.rp()
    url, _, verifier, _ = app.authorization_url(rp)
    page = form_post_page(browser.get(url, allow_redirects=False, timeout=10), app.receiver.url)
    in_query_mode = browser.get(app.authorization_url(app.rp(), response_mode="query")[0], allow_redirects=False, timeout=10)
    assert in_query_mode.status_code == 302
    assert list(page.hidden) == list(query(in_query_mode.headers["Location"])) == ["code", "state", "iss"]
    token = rp.fetch_token(app.realm.endpoint("token"), grant_type="authorization_code", code=page.hidden["code"], code_verifier=verifier)
    assert app.realm.verify(token["id_token"], aud=CLIENT_ID)["sub"] == app.realm.user.sub


def test_prompt_none_without_a_session_posts_login_required(app: App) -> None:
    """R-71: login_required with state and iss, by form post, with no sign-in UI; the page speaks ui_locales."""
    browser = requests.Session()
    url, state, _, _ = app.authorization_url(app.rp(), prompt="none", ui_locales="fr")
    response = browser.get(url, allow_redirects=False, timeout=10)
    page = form_post_page(response, app.receiver.url)
    assert page.hidden == {"error": "login_required", "state": state, "iss": app.realm.issuer}
    assert '<html lang="fr">' in response.text and ">Continuer</button>" in response.text
    assert browser.post(page.action, data=page.fields, timeout=10).status_code == 200
    assert app.receiver.wait().params == page.hidden


@pytest.mark.parametrize(
    "params,error",
    [
        ({"scope": "profile"}, "invalid_scope"),  # openid is required
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"request_uri": "https://rp.example.com/req"}, "request_uri_not_supported"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"prompt": "none login"}, "invalid_request"),  # OIDC Core §3.1.2.1
    ],
)
def test_errors_for_a_known_good_redirect_uri_go_by_form_post_too(app: App, params: dict[str, str], error: str) -> None:
    """Every error that the query mode redirects to the RP is posted instead, with the same parameters."""
    browser = app.realm.browser()
    url, state, _, _ = app.authorization_url(app.rp(), **params)
    page = form_post_page(browser.get(url, allow_redirects=False, timeout=10), app.receiver.url)
    assert page.hidden["error"] == error and page.hidden["state"] == state and page.hidden["iss"] == app.realm.issuer
    in_query_mode = browser.get(url.replace("response_mode=form_post", "response_mode=query"), allow_redirects=False, timeout=10)
    assert in_query_mode.status_code == 302
    assert list(page.hidden.items()) == parse_qsl(urlsplit(in_query_mode.headers["Location"]).query, keep_blank_values=True)


@pytest.mark.parametrize("mode", ["fragment", "FORM_POST", "form_post ", "query.jwt", "web_message", "form_post form_post"])
def test_an_unsupported_response_mode_is_invalid_request_in_query_mode(realm: Realm, mode: str) -> None:
    """R-64: query and form_post only (no fragment for the code flow); the refusal is redirected in query mode."""
    response, _, state = realm.authorize(realm.browser(), realm.rp(), response_mode=mode)
    assert response.status_code == 302, response.text[:300]
    assert response.headers["Location"].startswith(REDIRECT_URI + "?")
    got = query(response.headers["Location"])
    assert got["error"] == "invalid_request" and got["state"] == state and got["iss"] == realm.issuer
    assert "response_mode" in got["error_description"]


@pytest.mark.parametrize("signed_in", [True, False], ids=["signed-in", "signed-out"])
def test_an_unregistered_redirect_uri_gets_the_error_page_not_a_form(app: App, signed_in: bool) -> None:
    """R-58: whatever response_mode says, a bad client_id/redirect_uri pair gets the 400 page: no form, no redirect."""
    browser = app.realm.browser() if signed_in else requests.Session()
    evil = "https://evil.example.com/callback"
    for extra in ({"redirect_uri": evil}, {"redirect_uri": app.receiver.url + "/other"}, {"client_id": "nobody"}):
        params = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": app.receiver.url, "scope": "openid", "state": "s1"}
        params.update(response_mode="form_post", prompt="none", code_challenge=CHALLENGE)
        params.update(code_challenge_method="S256", **extra)
        r = browser.get(app.realm.endpoint("auth"), params=params, allow_redirects=False, timeout=10)
        assert r.status_code == 400 and "Location" not in r.headers, extra
        assert forms(r.text) == [] and "<script" not in r.text and "evil.example.com" not in r.text, extra
        assert "script-src" not in r.headers["Content-Security-Policy"]
    assert app.receiver.arrivals == []


def test_values_are_escaped_and_posted_back_unchanged(app: App) -> None:
    """A state full of markup comes back byte for byte (R-70) and never as markup: Jinja escapes attributes."""
    state = "\"'><script>alert(1)</script>&amp;é \u2028"
    url, _, _, _ = app.authorization_url(app.rp(), state=state, prompt="none")
    response = requests.get(url, allow_redirects=False, timeout=10)
    page = form_post_page(response, app.receiver.url)
    assert page.hidden["state"] == state and "<script>alert" not in response.text


def test_a_redirect_uri_with_its_own_query_keeps_it_in_the_action(realm: Realm, receiver: Receiver) -> None:
    """The registered URI is the form's action exactly, its own query included; the fields are the response only."""
    callback = receiver.url + "?tenant=a%20b&empty="
    _, secret = realm.services.clients.create(realm.tenant, "fp-query", [callback])
    rp = OAuth2Session("fp-query", secret, scope="openid", redirect_uri=callback, code_challenge_method="S256")
    verifier = generate_token(48)
    url, state = rp.create_authorization_url(realm.endpoint("auth"), code_verifier=verifier, response_mode="form_post")
    page = form_post_page(realm.browser().get(url, allow_redirects=False, timeout=10), callback)
    assert list(page.hidden) == ["code", "state", "iss"] and page.hidden["state"] == state
    assert requests.post(page.action, data=page.fields, timeout=10).status_code == 200
    arrival = receiver.wait()
    assert arrival.path == "/callback?tenant=a%20b&empty=" and arrival.params == page.hidden
    token = rp.fetch_token(realm.endpoint("token"), grant_type="authorization_code", code=arrival.params["code"], code_verifier=verifier)
    assert realm.verify(token["id_token"], aud="fp-query")["sub"] == realm.user.sub


@pytest.mark.parametrize("signed_in", [True, False], ids=["signed-in", "signed-out"])
def test_crafted_values_with_form_post_never_give_a_server_error(app: App, signed_in: bool) -> None:
    """R-45, R-58: crafted values of the parameters that reach the page get the form post page (aimed at the
    registered URI), the sign-in flow or the 400 page, never a 500."""
    browser = app.realm.browser() if signed_in else requests.Session()
    base: dict[str, str | bytes] = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": app.receiver.url, "scope": "openid"}
    base.update(state="s1", response_mode="form_post", code_challenge=CHALLENGE, code_challenge_method="S256")
    for name in ("state", "nonce", "scope", "prompt", "max_age", "ui_locales", "redirect_uri", "response_type"):
        for value in CRAFTED_VALUES:
            r = browser.get(app.realm.endpoint("auth"), params={**base, name: value}, allow_redirects=False, timeout=10)
            assert r.status_code in (200, 303, 400), (name, value, r.status_code, r.text[:300])
            if r.status_code == 200:
                assert [f.action for f in forms(r.text)] == [app.receiver.url], (name, value)
            elif r.status_code == 303:
                assert urlsplit(r.headers["Location"]).path.startswith(f"/realms/{app.realm.tenant.slug}/"), (name, value)
            else:
                assert forms(r.text) == [] and "Location" not in r.headers, (name, value)


def test_response_parameters_only_read_a_response_to_the_redirect_uri() -> None:
    """The parameters are those Authlib appended to the redirect URI; anything else is refused, never posted."""
    assert response_parameters("https://rp.example/cb?a=1&code=c&state=s", "https://rp.example/cb?a=1") == [("code", "c"), ("state", "s")]
    for location in ("https://evil.example/cb?code=c", "https://rp.example/cb?code=c", "https://rp.example/cb?a=1&code=c#x"):
        with pytest.raises(ValueError):
            response_parameters(location, "https://rp.example/cb?a=1")


# -- in Chromium -------------------------------------------------------------------------------------------------------


def _sign_in_in_chromium(page: Any, url: str, labels: tuple[str, str, str]) -> Any:
    """Open the authorization URL, sign in as alice; returns the response of the form post page (auth/resume)."""
    page.goto(url)
    user_label, password_label, button = labels
    page.get_by_label(user_label).fill("alice")
    page.get_by_label(password_label).fill(PASSWORD)
    with page.expect_response(lambda r: "/auth/resume" in r.url) as resumed:
        page.get_by_role("button", name=button, exact=True).click()
    return resumed.value


def test_with_javascript_the_page_posts_itself_to_the_relying_party(app: App, new_page: Any) -> None:
    """The nonce'd script submits the form at once: Chromium lands on the RP with a POST, no CSP violation."""
    page = new_page("en-US")
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    rp = app.rp()
    url, state, verifier, nonce = app.authorization_url(rp)
    resumed = _sign_in_in_chromium(page, url, ("Username or email", "Password", "Sign in"))
    csp = resumed.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and re.search(r"script-src 'nonce-[^']+'", csp)
    page.wait_for_url(app.receiver.url)
    assert page.get_by_role("heading", name="received").is_visible()
    arrival = app.receiver.wait()
    assert arrival.method == "POST" and set(arrival.params) == {"code", "state", "iss"} and arrival.params["state"] == state
    assert violations == []
    token = rp.fetch_token(app.realm.endpoint("token"), grant_type="authorization_code", code=arrival.params["code"], code_verifier=verifier)
    assert app.realm.verify(token["id_token"], aud=CLIENT_ID, nonce=nonce)["sub"] == app.realm.user.sub


@pytest.mark.parametrize(
    "locale,labels,button",
    [
        ("en-US", ("Username or email", "Password", "Sign in"), "Continue"),
        ("fr-FR", ("Utilisateur ou e-mail", "Mot de passe", "S'authentifier"), "Continuer"),
    ],
)
def test_without_javascript_the_button_posts_the_form(app: App, chromium: Any, locale: str, labels: tuple[str, str, str], button: str) -> None:
    """JavaScript off: the page stays until the person presses « Continuer » / "Continue", which posts it."""
    context = chromium.new_context(locale=locale, java_script_enabled=False)
    try:
        context.set_default_timeout(15_000)
        page = context.new_page()
        rp = app.rp()
        url, state, verifier, _ = app.authorization_url(rp)
        resumed = _sign_in_in_chromium(page, url, labels)
        assert resumed.status == 200 and "unsafe-inline" not in resumed.headers["content-security-policy"]
        continue_button = page.get_by_role("button", name=button)
        continue_button.wait_for()
        page.wait_for_timeout(500)
        assert app.receiver.arrivals == [] and "/auth/resume" in page.url  # nothing ran
        continue_button.click()
        page.wait_for_url(app.receiver.url)
        arrival = app.receiver.wait()
        assert arrival.method == "POST" and arrival.params["state"] == state and arrival.params["iss"] == app.realm.issuer
        token = rp.fetch_token(app.realm.endpoint("token"), grant_type="authorization_code", code=arrival.params["code"], code_verifier=verifier)
        assert token["id_token"]
    finally:
        context.close()



# -- each client only the response modes it needs (R-64) -------------------------------------------------------------


def test_a_client_limited_to_query_is_refused_form_post_in_query_mode_and_gets_no_code(app: App) -> None:
    """R-64: a client registered with ``response_modes: [query]`` asking for form_post gets invalid_request by a 302 in
    query mode (the mode it may use), never a form; the same request in query mode gets its code."""
    realm = app.realm
    realm.services.clients.update(realm.tenant, CLIENT_ID, response_modes=["query"])
    browser = realm.browser()
    url, state, _, _ = app.authorization_url(app.rp())
    refused = browser.get(url, allow_redirects=False, timeout=10)
    assert refused.status_code == 302 and refused.headers["Location"].startswith(app.receiver.url + "?")
    got = query(refused.headers["Location"])
    assert got["error"] == "invalid_request" and got["state"] == state and got["iss"] == realm.issuer and "code" not in got
    assert "response_mode" in got["error_description"]
    ok = browser.get(url.replace("response_mode=form_post", "response_mode=query"), allow_redirects=False, timeout=10)
    assert ok.status_code == 302 and "code" in query(ok.headers["Location"])


def test_a_client_limited_to_form_post_must_ask_for_it(app: App) -> None:
    """R-64: with ``response_modes: [form_post]`` a request naming no mode (query, the default) is refused, in the
    mode the request used (no code); asking for form_post, the code arrives by form post."""
    realm = app.realm
    realm.services.clients.update(realm.tenant, CLIENT_ID, response_modes=["form_post"])
    browser = realm.browser()
    url, state, _, _ = app.authorization_url(app.rp(), response_mode="query")
    without_mode = url.replace("&response_mode=query", "")
    assert "response_mode" not in without_mode
    refused = browser.get(without_mode, allow_redirects=False, timeout=10)
    assert refused.status_code == 302
    got = query(refused.headers["Location"])
    assert got["error"] == "invalid_request" and got["state"] == state and "code" not in got
    ok = browser.get(app.authorization_url(app.rp())[0], allow_redirects=False, timeout=10)
    assert "code" in form_post_page(ok, app.receiver.url).hidden


def test_response_modes_are_checked_when_a_client_is_registered_or_changed(realm: Realm) -> None:
    """Only supported modes, at least one; a refused change writes nothing (the client keeps both)."""
    from idp.oidc.clients import ClientError

    clients = realm.services.clients
    view, _ = clients.create(realm.tenant, "modes-app", [REDIRECT_URI])
    assert view.response_modes == ("query", "form_post") and view.to_dict()["response_modes"] == ["query", "form_post"]
    for bad, message in ((["fragment"], "unsupported response mode 'fragment'"), ([], "at least one response mode"), ("query", "must be a list")):
        with pytest.raises(ClientError, match=message) as refused:
            clients.update(realm.tenant, "modes-app", response_modes=bad)
        assert refused.value.field == "response_modes"
    assert clients.get(realm.tenant, "modes-app").response_modes == ("query", "form_post")
    with pytest.raises(ClientError, match="unsupported response mode 'web_message'"):
        clients.create(realm.tenant, "other-app", [REDIRECT_URI], response_modes=["query", "web_message"])
    assert clients.get(realm.tenant, "other-app") is None
