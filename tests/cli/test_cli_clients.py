"""``idp client create|list|show``."""

from __future__ import annotations

import pytest

from cli.support import Idp, secret_works


def test_confidential_client_secret_printed_once(acme: Idp) -> None:
    created = acme.json(
        "client", "create", "acme", "web",
        "--redirect-uri", "https://app.example.com/callback",
        "--redirect-uri", "http://127.0.0.1:5000/callback",
        "--post-logout-redirect-uri", "https://app.example.com/",
        "--name", "Web app",
    )
    assert created["client_id"] == "web"
    assert created["tenant"] == "acme"
    assert created["public"] is False
    assert created["token_endpoint_auth_method"] == "client_secret_basic"
    assert created["redirect_uris"] == ["https://app.example.com/callback", "http://127.0.0.1:5000/callback"]
    assert created["post_logout_redirect_uris"] == ["https://app.example.com/"]
    assert created["grant_types"] == ["authorization_code", "refresh_token"]
    assert created["require_pkce"] is True
    assert created["name"] == "Web app"
    secret = created["client_secret"]
    assert isinstance(secret, str) and len(secret) >= 32
    assert secret_works(acme, "acme", "web", secret)
    assert not secret_works(acme, "acme", "web", secret + "x")
    shown = acme.json("client", "show", "acme", "web")
    assert "client_secret" not in shown and secret not in str(shown)
    assert "secret" not in acme.ok("client", "show", "acme", "web").stdout.replace("client_secret_basic", "")


def test_public_client_has_no_secret(acme: Idp) -> None:
    created = acme.json("client", "create", "acme", "spa", "--public", "--redirect-uri", "https://spa.example.com/cb")
    assert created["client_secret"] is None
    assert created["public"] is True
    assert created["token_endpoint_auth_method"] == "none"
    assert created["require_pkce"] is True


def test_grants_auth_method_and_pkce_options(acme: Idp) -> None:
    machine = acme.json("client", "create", "acme", "batch", "--grant", "client_credentials", "--auth-method", "client_secret_post")
    assert machine["grant_types"] == ["client_credentials"]
    assert machine["redirect_uris"] == []
    assert machine["token_endpoint_auth_method"] == "client_secret_post"
    legacy = acme.json("client", "create", "acme", "old", "--redirect-uri", "https://old.example.com/cb", "--no-pkce")
    assert legacy["require_pkce"] is False


def test_client_create_text_output(acme: Idp) -> None:
    result = acme.ok("client", "create", "acme", "web", "--redirect-uri", "https://app.example.com/cb")
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines())
    assert lines["client_id"].strip() == "web"
    assert len(lines["client_secret"].strip()) >= 32
    assert "shown this once" in result.stderr


def test_client_list_and_show(acme: Idp) -> None:
    acme.ok("client", "create", "acme", "web", "--redirect-uri", "https://app.example.com/cb")
    acme.ok("client", "create", "acme", "spa", "--public", "--redirect-uri", "https://spa.example.com/cb")
    listed = acme.json("client", "list", "acme")
    assert [c["client_id"] for c in listed] == ["spa", "web"]
    assert all("client_secret" not in c for c in listed)
    assert acme.json("client", "show", "acme", "spa")["public"] is True
    table = acme.ok("client", "list", "acme").stdout.splitlines()
    assert table[0].split() == ["CLIENT_ID", "NAME", "PUBLIC", "REDIRECT_URIS"]
    assert len(table) == 3
    acme.ok("tenant", "create", "beta")
    assert acme.json("client", "list", "beta") == []
    assert acme.ok("client", "list", "beta").stdout.strip() == "(none)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("client", "create", "nope", "web", "--redirect-uri", "https://a.example.com/cb"), "error: unknown tenant 'nope'"),
        (("client", "create", "acme", "taken", "--redirect-uri", "https://a.example.com/cb"), "error: client 'taken' already exists in tenant 'acme'"),
        (("client", "create", "acme", "web", "--redirect-uri", "not a uri"), "error: invalid redirect URI 'not a uri'"),
        (("client", "create", "acme", "web", "--redirect-uri", "/callback"), "error: redirect URI '/callback' must be absolute"),
        (("client", "create", "acme", "web", "--redirect-uri", "https://a.example.com/cb#top"), "error: redirect URI 'https://a.example.com/cb#top' must not contain a fragment"),
        (("client", "create", "acme", "web", "--redirect-uri", "https://*.example.com/cb"), "error: redirect URI 'https://*.example.com/cb' must not contain a wildcard '*': register each address exactly"),
        (("client", "create", "acme", "web", "--redirect-uri", "http://app.example.com/cb"), "error: redirect URI 'http://app.example.com/cb' must use https (http only on a loopback address)"),
        (("client", "create", "acme", "web", "--redirect-uri", "https://a.example.com/cb", "--post-logout-redirect-uri", "ftp://a.example.com/"), "error: redirect URI 'ftp://a.example.com/' must use https (http only on a loopback address)"),
        (("client", "create", "acme", "web"), "error: the authorization_code grant needs at least one redirect URI"),
        (("client", "create", "acme", "web", "--redirect-uri", "https://a.example.com/cb", "--grant", "password"), "error: unsupported grant type 'password': use authorization_code, refresh_token, client_credentials"),
        (("client", "create", "acme", "spa", "--public", "--grant", "client_credentials"), "error: a public client cannot use the client_credentials grant"),
        (("client", "create", "acme", "bad id!", "--redirect-uri", "https://a.example.com/cb"), "error: invalid client id 'bad id!': use 1 to 128 letters, digits, '.', '_', '~' or '-'"),
        (("client", "show", "acme", "ghost"), "error: unknown client 'ghost' in tenant 'acme'"),
        (("client", "list", "nope"), "error: unknown tenant 'nope'"),
    ],
)
def test_bad_input_is_refused_in_one_line_and_writes_nothing(acme: Idp, unchanged, args, message) -> None:  # type: ignore[no-untyped-def]
    acme.ok("client", "create", "acme", "taken", "--redirect-uri", "https://taken.example.com/cb")
    assert unchanged(*args) == message


def test_unknown_auth_method_is_usage_error(unchanged) -> None:  # type: ignore[no-untyped-def]
    line = unchanged("client", "create", "acme", "web", "--redirect-uri", "https://a.example.com/cb", "--auth-method", "private_key_jwt", code=2)
    assert "--auth-method" in line
