"""Authorization endpoint errors: redirected only to a known-good redirect URI, else an error page (RFC 6749 §4.1.2.1)."""

from __future__ import annotations

import random
from urllib.parse import quote, urljoin, urlsplit

import pytest
import requests
from support.builders import REDIRECT_URI, Realm
from support.walkers import query

CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def _auth(realm: Realm, signed_in: bool = True, **params: str | None) -> requests.Response:
    """A browser (signed in unless told) at the authorization endpoint; a valid S256 challenge unless overridden."""
    base: dict[str, str | None] = {"response_type": "code", "client_id": "web", "redirect_uri": REDIRECT_URI, "scope": "openid", "state": "s1"}
    base.update(code_challenge=CHALLENGE, code_challenge_method="S256")
    base.update(params)
    browser = realm.browser() if signed_in else requests.Session()
    return browser.get(realm.endpoint("auth"), params={k: v for k, v in base.items() if v is not None}, allow_redirects=False)


def test_unregistered_redirect_uri_shows_a_page_and_never_redirects(realm: Realm) -> None:
    """R-58: a bad client_id/redirect_uri pair gives an error page, not a redirect."""
    for uri in ("https://evil.example.com/callback", REDIRECT_URI + "?x=1", REDIRECT_URI + "/", "https://rp.example.com/callback#f"):
        r = _auth(realm, redirect_uri=uri)
        assert r.status_code == 400 and "Location" not in r.headers
        assert "address it has not registered" in r.text


def test_unknown_client_and_missing_client_show_a_page(realm: Realm) -> None:
    """RFC 6749 §4.1.2.1: an invalid client_id is never redirected."""
    for client_id in ("nobody", None):
        r = _auth(realm, client_id=client_id)
        assert r.status_code == 400 and "Location" not in r.headers
        assert "not known" in r.text


def test_unknown_tenant_is_404(realm: Realm) -> None:
    """Unknown tenant: 404 on every endpoint (JSON for APIs, a page for the browser)."""
    base = f"{realm.server.url}/realms/no-such-tenant"
    assert requests.get(f"{base}/.well-known/openid-configuration", timeout=10).status_code == 404
    assert requests.get(f"{base}/protocol/openid-connect/certs", timeout=10).status_code == 404
    token = requests.post(f"{base}/protocol/openid-connect/token", data={"grant_type": "client_credentials"}, timeout=10)
    assert token.status_code == 404 and token.json()["error"] == "not_found"
    page = requests.get(f"{base}/protocol/openid-connect/auth", params={"client_id": "web"}, timeout=10)
    assert page.status_code == 404 and "text/html" in page.headers["Content-Type"]


def test_prompt_none_without_a_session_is_login_required(realm: Realm) -> None:
    """R-71: prompt=none without a session redirects with login_required, state and iss, and shows no UI."""
    r = _auth(realm, signed_in=False, prompt="none")
    assert r.status_code == 302
    assert query(r.headers["Location"]) == {"error": "login_required", "state": "s1", "iss": realm.issuer}


def test_redirected_errors_carry_state_and_iss(realm: Realm) -> None:
    """RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6, RFC 9207: error, state and iss on the registered URI."""
    cases = [
        ({"response_type": "token"}, "unsupported_response_type"),  # no implicit grant
        ({"response_type": None}, "unsupported_response_type"),
        ({"scope": "profile"}, "invalid_scope"),  # openid is required
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"request_uri": "https://rp.example.com/req"}, "request_uri_not_supported"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"prompt": "none login"}, "invalid_request"),
    ]
    for params, error in cases:
        r = _auth(realm, **params)  # type: ignore[arg-type]
        assert r.status_code == 302, (params, r.text)
        got = query(r.headers["Location"])
        assert r.headers["Location"].startswith(REDIRECT_URI + "?")
        assert got["error"] == error and got["state"] == "s1" and got["iss"] == realm.issuer, params


def test_unknown_scopes_and_parameters_are_ignored(realm: Realm) -> None:
    """R-70, OIDC Core §3.1.2.1: unknown scopes and parameters are ignored; display, login_hint, claims_locales accepted."""
    r = _auth(realm, scope="openid address made-up", extra="foobar", display="popup", login_hint="alice", claims_locales="fr", nonce="n")
    assert r.status_code == 302 and "code" in query(r.headers["Location"])


def test_pkce_is_required_for_public_clients_and_s256_only(realm: Realm) -> None:
    """R-60: a public client without code_challenge, or with plain, gets invalid_request."""
    native = {"client_id": "native", "redirect_uri": "http://127.0.0.1:7777/native/callback"}
    r = _auth(realm, code_challenge=None, code_challenge_method=None, **native)
    assert query(r.headers["Location"])["error"] == "invalid_request"
    challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    r = _auth(realm, code_challenge=challenge, code_challenge_method="plain", **native)
    assert query(r.headers["Location"])["error"] == "invalid_request"
    r = _auth(realm, code_challenge=challenge, code_challenge_method=None, **native)  # method missing means plain (RFC 7636 §4.3)
    assert query(r.headers["Location"])["error"] == "invalid_request"
    r = _auth(realm, code_challenge=challenge, code_challenge_method="S256", **native)
    assert "code" in query(r.headers["Location"])


def test_loopback_redirect_port_may_vary_for_native_clients(realm: Realm) -> None:
    """R-58 / RFC 8252 §7.3: only the port of a loopback IP redirect URI may differ."""
    ok = _auth(realm, client_id="native", redirect_uri="http://127.0.0.1:50123/native/callback")
    assert ok.status_code == 302 and ok.headers["Location"].startswith("http://127.0.0.1:50123/native/callback?code=")
    bad = _auth(realm, client_id="native", redirect_uri="http://127.0.0.1:50123/other")
    assert bad.status_code == 400 and "Location" not in bad.headers


def test_post_to_the_authorization_endpoint_works(realm: Realm) -> None:
    """OIDC Core §3.1.2.1: the authorization endpoint accepts POST."""
    data = {"response_type": "code", "client_id": "web", "redirect_uri": REDIRECT_URI, "scope": "openid", "state": "p"}
    data.update(code_challenge=CHALLENGE, code_challenge_method="S256")
    r = realm.browser().post(realm.endpoint("auth"), data=data, allow_redirects=False)
    assert r.status_code == 302 and query(r.headers["Location"])["state"] == "p"


# -- crafted values: never a 500 (issue 12, item 5) ------------------------------------------------------

#: Every parameter the authorization endpoint reads.
AUTH_PARAMETERS = (
    "response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
    "code_challenge_method", "prompt", "max_age", "response_mode", "acr_values", "id_token_hint",
    "login_hint", "ui_locales", "claims_locales", "display", "request", "request_uri",
)
#: Values that broke, or could break, the building of an error: quotes, backslashes, control and non-ASCII
#: characters, percent-encoding garbage, invalid UTF-8 and very long values.
CRAFTED_VALUES: tuple[str | bytes, ...] = (
    '"', "\\", 'a"b\\c', "'", "<script>", "\x00", "\x01\x1f\x7f", "\t\r\n", "é", "\u2028", "\U0001f600", "\ufeff",
    "%", "%zz", "%C3%28", "%%41", b"\xff\xfe", b"\xc3", "a" * 4000, " ", "", "code id_token", "openid \x0b",
)
#: Characters the seeded random values are drawn from.
FUZZ_ALPHABET = '"\\\'%<>&;=#?/ \x00\x01\x7f\t\néÿ\u2028\u202e\U0001f600abcXYZ019:._-~'


def _crafted_values(seed: int, count: int) -> list[str | bytes]:
    """The fixed crafted values, then ``count`` random ones from a seeded generator (the run is repeatable)."""
    rng = random.Random(seed)
    drawn = ["".join(rng.choices(FUZZ_ALPHABET, k=rng.randint(1, 40))) for _ in range(count)]
    return [*CRAFTED_VALUES, *drawn]


def _assert_handled(realm: Realm, r: requests.Response, what: object) -> None:
    """The answer a user may see: a code or error redirect to the registered URI, the sign-in flow, or the 400 page."""
    assert r.status_code < 500, (what, r.status_code, r.text[:300])
    if r.status_code == 400:
        assert "Location" not in r.headers and r.headers["Content-Type"].startswith("text/html"), what
        return
    assert r.status_code in (302, 303), (what, r.status_code)
    location = r.headers["Location"]
    if location.startswith(REDIRECT_URI + "?"):
        got = query(location)
        assert ("error" in got or "code" in got) and got["iss"] == realm.issuer, (what, location)
    else:  # not signed in (or prompt=login, max_age): the sign-in flow of this tenant, on this server
        assert urlsplit(urljoin(realm.base + "/", location)).path.startswith(f"/realms/{realm.tenant.slug}/"), (what, location)


@pytest.mark.parametrize("signed_in", [True, False], ids=["signed-in", "signed-out"])
def test_crafted_parameter_values_never_give_a_server_error(realm: Realm, signed_in: bool) -> None:
    """R-45 (fail closed, generic error pages), R-58: any value of any authorization parameter, by GET or POST, gets
    the 400 error page or a redirect to the registered URI (an error or a code), never a 500."""
    browser = realm.browser() if signed_in else requests.Session()
    base: dict[str, str | bytes] = {"response_type": "code", "client_id": "web", "redirect_uri": REDIRECT_URI, "scope": "openid", "state": "s1"}
    base.update(code_challenge=CHALLENGE, code_challenge_method="S256")
    for i, name in enumerate(AUTH_PARAMETERS):
        for n, value in enumerate(_crafted_values(seed=1200 + i, count=6)):
            params = {**base, name: value}
            if n % 4 == 3:  # now and then by POST (OIDC Core §3.1.2.1)
                r = browser.post(realm.endpoint("auth"), data=params, allow_redirects=False, timeout=10)
            else:
                r = browser.get(realm.endpoint("auth"), params=params, allow_redirects=False, timeout=10)
            _assert_handled(realm, r, (name, value))


def test_repeated_and_garbled_parameters_never_give_a_server_error(realm: Realm) -> None:
    """R-45, R-58: repeated parameters (RFC 6749 §3.1: MUST NOT be repeated) and a raw query that is not valid
    percent-encoding get the 400 page or an error redirect, never a 500."""
    browser = realm.browser()
    good = {"response_type": "code", "client_id": "web", "redirect_uri": REDIRECT_URI, "scope": "openid", "state": "s1"}
    good.update(code_challenge=CHALLENGE, code_challenge_method="S256")
    for name in AUTH_PARAMETERS:
        base = "&".join(f"{k}={quote(v, safe='')}" for k, v in good.items() if k != name)
        for extra in (f"{name}=%22&{name}=x", f"{name}=%&{name}=%E2%80", f"{name}", f"{name}=%ZZ%5C%22%C0%AF&{name}=%5C"):
            r = browser.get(f"{realm.endpoint('auth')}?{base}&{extra}", allow_redirects=False, timeout=10)
            _assert_handled(realm, r, extra)
