"""``idp demo``: safe to re-run, prints credentials that work."""

from __future__ import annotations

from cli.support import Idp, secret_works, verify
from idp.cli.demo import PASSWORD


def test_demo_creates_tenant_user_and_client(idp: Idp) -> None:
    out = idp.json("demo")
    assert out["tenant"] == "demo"
    assert out["issuer"] == "http://127.0.0.1:8080/realms/demo"
    assert out["discovery_url"] == "http://127.0.0.1:8080/realms/demo/.well-known/openid-configuration"
    assert out["username"] == "demo" and out["password"] == PASSWORD
    assert out["client_id"] == "demo-app"
    assert out["redirect_uris"] == ["http://127.0.0.1:5000/callback", "http://localhost:5000/callback"]
    assert verify(idp, "demo", "demo", PASSWORD)
    assert secret_works(idp, "demo", "demo-app", out["client_secret"])
    # `idp demo` initialises on its own when `idp init` has not run.
    assert [t["slug"] for t in idp.json("tenant", "list")] == ["demo", "master"]
    # the flagship flow is live on the demo tenant, with a phone on file and the dev outbox to read codes from
    assert out["self_recovery"] is True and out["outbox"] == "http://127.0.0.1:8080/dev/outbox"
    assert idp.json("user", "show", "demo", "demo")["phone"] == "+33612345678"


def test_demo_rerun_refreshes_secret_and_password(idp: Idp) -> None:
    first = idp.json("demo")
    idp.ok("user", "set-password", "demo", "demo", "--password", "someone-changed-it")
    second = idp.json("demo")
    assert second["client_secret"] != first["client_secret"]
    assert secret_works(idp, "demo", "demo-app", second["client_secret"])
    assert not secret_works(idp, "demo", "demo-app", first["client_secret"])
    assert verify(idp, "demo", "demo", PASSWORD)
    assert [u["username"] for u in idp.json("user", "list", "demo")["users"]] == ["demo", "demo-admin"]
    assert len(idp.json("client", "list", "demo")) == 1


def test_demo_redirect_uri_option(idp: Idp) -> None:
    out = idp.json("demo", "--redirect-uri", "http://127.0.0.1:3000/auth/callback")
    assert out["redirect_uris"] == ["http://127.0.0.1:3000/auth/callback"]
    again = idp.json("demo", "--redirect-uri", "https://rp.example.com/cb")
    assert again["redirect_uris"] == ["https://rp.example.com/cb"]


def test_demo_text_output(idp: Idp) -> None:
    out = idp.ok("demo").stdout
    for key in ("discovery_url:", "username:", "password:", "client_id:", "client_secret:"):
        assert key in out
    assert PASSWORD in out


def test_demo_bad_redirect_uri_writes_nothing(idp: Idp) -> None:
    idp.refused("demo", "--redirect-uri", "http://rp.example.com/cb")
    assert not (idp.instance / "idp.db").exists() or idp.snapshot().get("tenants", []) == []


def test_demo_is_refused_in_production(initialised: Idp) -> None:
    """Its administrator's password is printed in the README: a production deployment never gets it (R-44)."""
    idp = initialised
    idp.env.update(
        {"IDP_ENV": "production", "IDP_PUBLIC_URL": "https://idp.example.com", "IDP_MAIL_BACKEND": "ses", "IDP_SMS_BACKEND": "sns", "AWS_REGION": "eu-west-1"}
    )
    line = idp.refused("demo")
    assert line.startswith("error: idp demo is for development only")
    assert "demo" not in [t["slug"] for t in idp.json("tenant", "list")]  # nothing was created
