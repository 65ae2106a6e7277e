"""Signing keys (rotation, ES256, JWKS lifetime) and client registration rules; hot paths answer from caches."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from sqlalchemy import event
from support.builders import Realm

from idp.oidc.clients import ClientError, redirect_uri_matches


def _kids(realm: Realm) -> list[str]:
    return [k["kid"] for k in requests.get(realm.endpoint("certs"), timeout=10).json()["keys"]]


def _cc_token(realm: Realm) -> str:
    r = requests.post(realm.endpoint("token"), data={"grant_type": "client_credentials"}, auth=("service", realm.secrets["service"]), timeout=10)
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


def _kid_of(token: str) -> str:
    import base64
    import json

    head = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"])


def test_rotation_publishes_the_new_key_before_it_signs(realm: Realm) -> None:
    """R-72: a rotated key is in the JWKS at once but signs only after the publication delay."""
    old = _kids(realm)
    _, before = realm.code_flow()
    new = realm.services.keys.rotate(realm.tenant, publish_delay=60)
    assert _kids(realm) == old + [new.kid]
    token = _cc_token(realm)
    assert _kid_of(token) == old[0]
    assert [k.status() for k in realm.services.keys.list(realm.tenant)] == ["pending", "active"]
    assert realm.userinfo(before["access_token"]).status_code == 200


def test_old_tokens_still_validate_after_the_new_key_takes_over(realm: Realm) -> None:
    """R-72: after take-over new tokens carry the new kid, and tokens signed by the old key still verify."""
    old = _kids(realm)
    _, before = realm.code_flow()
    new = realm.services.keys.rotate(realm.tenant, publish_delay=0)
    _, after = realm.code_flow()
    assert _kid_of(after["id_token"]) == new.kid and _kid_of(after["access_token"]) == new.kid
    assert set(_kids(realm)) == {old[0], new.kid}
    realm.verify(before["id_token"])
    assert realm.userinfo(before["access_token"]).status_code == 200
    assert [k.status() for k in realm.services.keys.list(realm.tenant)] == ["active", "retired"]


def test_retired_key_leaves_the_jwks_once_its_tokens_expired(realm_factory: Any) -> None:
    """R-72: a retired key stays published for the longest token lifetime, then leaves."""
    realm = realm_factory(config={"tokens": {"access_token_ttl": 1, "id_token_ttl": 1}})
    old = _kids(realm)
    new = realm.services.keys.rotate(realm.tenant, publish_delay=0)
    assert set(_kids(realm)) == {old[0], new.kid}
    time.sleep(1.3)
    assert _kids(realm) == [new.kid]
    assert [k.status() for k in realm.services.keys.list(realm.tenant)] == ["active", "expired"]


def test_es256_tenant_signs_with_es256(realm_factory: Any) -> None:
    """Per-tenant algorithm: tokens.signing_alg=ES256."""
    realm = realm_factory(config={"tokens": {"signing_alg": "ES256"}})
    keys = requests.get(realm.endpoint("certs"), timeout=10).json()["keys"]
    assert [(k["kty"], k["crv"], k["alg"]) for k in keys] == [("EC", "P-256", "ES256")]
    _, token = realm.code_flow()
    realm.verify(token["id_token"])
    meta = requests.get(realm.endpoint("discovery"), timeout=10).json()
    assert meta["id_token_signing_alg_values_supported"] == ["ES256"]


def test_private_keys_are_encrypted_at_rest(realm: Realm) -> None:
    """Issue 2 item 5: the private half is stored encrypted under a key derived from IDP_SECRET_KEY."""
    from sqlalchemy import select

    from idp.storage.models import SigningKey

    with realm.services.db.session() as s:
        row = s.scalar(select(SigningKey).where(SigningKey.tenant_id == realm.tenant.id))
        assert row is not None
        assert row.private_key_encrypted.startswith("v1.") and "PRIVATE KEY" not in row.private_key_encrypted


def test_hot_paths_make_no_database_query(realm: Realm) -> None:
    """Performance: client_credentials and refresh answer from the client and key caches (no SQL)."""
    _, token = realm.code_flow()
    _cc_token(realm)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = realm.services.db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(3):
            _cc_token(realm)
        refresh = token["refresh_token"]
        for _ in range(3):
            r = requests.post(
                realm.endpoint("token"), data={"grant_type": "refresh_token", "refresh_token": refresh}, auth=("web", realm.secrets["web"]), timeout=10
            )
            assert r.status_code == 200
            refresh = r.json()["refresh_token"]
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert statements == []


def test_keys_are_decoded_once_per_process_yet_reread_after_every_admin_write(realm: Realm, monkeypatch: pytest.MonkeyPatch) -> None:
    """R-72: after an admin write (which clears every worker's key cache) the rows are read again, so a rotated key
    signs in the same way, but a key whose sealed bytes were already decoded is not decoded again (an RSA-2048 import
    costs ~35 ms), and threads that meet a stale cache together decode a new key once."""
    import threading

    from idp.oidc import keys as keys_module

    decoded: list[str] = []
    real = keys_module._import_private

    def counting(pem: bytes, alg: str) -> Any:
        decoded.append(alg)
        return real(pem, alg)

    monkeypatch.setattr(keys_module, "_import_private", counting)
    service, tenant = realm.services.keys, realm.tenant
    first = service.signing_key(tenant).kid
    decoded.clear()
    service.clear()  # what an admin write anywhere does in every worker
    assert service.signing_key(tenant).kid == first and decoded == []

    new = service.rotate(tenant, publish_delay=0)
    decoded.clear()
    service._decoded.clear()  # a fresh process
    service.clear()
    threads = [threading.Thread(target=service.signing_key, args=(tenant,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert service.signing_key(tenant).kid == new.kid
    assert len(decoded) == len(service.list(tenant)) == 2  # each key of the tenant once, not once per thread
    assert _kid_of(_cc_token(realm)) == new.kid


@pytest.mark.parametrize(
    "uri, message",
    [
        ("http://rp.example.com/cb", "must use https (http only on a loopback address)"),
        ("https://rp.example.com/cb#frag", "must not contain a fragment"),
        ("/relative/cb", "must be absolute"),
        ("custom.scheme:/cb", "must be absolute"),
        ("https://user:pw@rp.example.com/cb", "must not carry credentials"),
        ("https://*.example.com/cb", "must not contain a wildcard '*'"),  # exact match only
        ("https://rp.example.com/*", "must not contain a wildcard '*'"),
        ("http://127.0.0.1:*/cb", "must not contain a wildcard '*'"),
    ],
)
def test_redirect_uris_are_checked_at_registration(realm: Realm, uri: str, message: str) -> None:
    """R-59: absolute, no fragment, https or http on loopback only; one plain line naming the field."""
    with pytest.raises(ClientError) as err:
        realm.services.clients.create(realm.tenant, "bad", [uri])
    assert message in str(err.value) and err.value.field == "redirect_uris" and "\n" not in str(err.value)
    assert realm.services.clients.get(realm.tenant, "bad") is None


def test_client_registration_rules(realm: Realm) -> None:
    """Public clients use none and PKCE and no client_credentials; ids are unique; secrets are stored as digests."""
    clients = realm.services.clients
    with pytest.raises(ClientError) as dup:
        clients.create(realm.tenant, "web", ["https://rp.example.com/cb"])
    assert dup.value.status == 409
    with pytest.raises(ClientError):
        clients.create(realm.tenant, "pub", ["https://a.example/cb"], public=True, grant_types=["client_credentials"])
    with pytest.raises(ClientError):
        clients.create(realm.tenant, "pub", ["https://a.example/cb"], public=True, auth_method="client_secret_basic")
    with pytest.raises(ClientError):
        clients.create(realm.tenant, "has space", ["https://a.example/cb"])
    view, secret = clients.create(realm.tenant, "loop", ["http://localhost:8080/cb", "http://[::1]/cb"], public=True, require_pkce=False)
    assert secret is None and view.require_pkce is True and view.token_endpoint_auth_method == "none"
    from sqlalchemy import select

    from idp.storage.models import Client

    with realm.services.db.session() as s:
        row = s.scalar(select(Client).where(Client.tenant_id == realm.tenant.id, Client.client_id == "web"))
        assert row is not None and len(row.secret_hash) == 64 and realm.secrets["web"] not in row.secret_hash
    new_secret = clients.rotate_secret(realm.tenant, "web")
    assert clients.get(realm.tenant, "web").check_client_secret(new_secret)  # type: ignore[union-attr]
    assert not clients.get(realm.tenant, "web").check_client_secret(realm.secrets["web"])  # type: ignore[union-attr]
    clients.update(realm.tenant, "web", redirect_uris=["https://new.example.com/cb"])
    assert clients.get(realm.tenant, "web").redirect_uris == ("https://new.example.com/cb",)  # type: ignore[union-attr]
    clients.delete(realm.tenant, "web")
    assert clients.get(realm.tenant, "web") is None
    assert [c.client_id for c in clients.list(realm.tenant)] == ["loop", "native", "service", "web-post"]


def test_redirect_uri_matching_is_exact_except_loopback_ports() -> None:
    """R-58: exact string comparison; only the port of an http loopback IP URI may vary (RFC 8252 §7.3)."""
    assert redirect_uri_matches("https://a.example/cb", "https://a.example/cb")
    assert not redirect_uri_matches("https://a.example/cb", "https://a.example/cb/")
    assert not redirect_uri_matches("https://a.example/cb", "https://A.example/cb")
    assert not redirect_uri_matches("https://a.example:443/cb", "https://a.example:8443/cb")
    assert redirect_uri_matches("http://127.0.0.1/cb", "http://127.0.0.1:53111/cb")
    assert redirect_uri_matches("http://[::1]:80/cb", "http://[::1]:1234/cb")
    assert not redirect_uri_matches("http://127.0.0.1/cb", "http://127.0.0.1:53111/cb?x=1")
    assert not redirect_uri_matches("http://127.0.0.1/cb", "http://127.0.0.2:53111/cb")


def test_a_wildcard_redirect_uri_is_refused_on_update_too(realm: Realm) -> None:
    """R-58: a client update cannot register a '*' either; the client keeps its redirect URIs."""
    before = realm.services.clients.get(realm.tenant, "web").redirect_uris
    for field in ("redirect_uris", "post_logout_redirect_uris"):
        with pytest.raises(ClientError) as err:
            realm.services.clients.update(realm.tenant, "web", **{field: ["https://*.example.com/cb"]})
        assert "must not contain a wildcard '*'" in str(err.value) and err.value.field == field
    assert realm.services.clients.get(realm.tenant, "web").redirect_uris == before
