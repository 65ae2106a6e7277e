"""Admin writes reach every worker at once (issue 11, item 5): two workers, one database, one ephemeral store.

Worker A is the module's server (the admin API is called there); worker B is a second app with the
same settings, as a second worker process or node would be: its own caches of tenants, clients and
keys. Before each admin write, B's caches are warm (B has just answered with them, through the fast
lane where it can); right after the admin call returns, B must answer with the new state.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import requests
from conftest import LiveServer, free_port, random_slug
from werkzeug.serving import make_server

from admin.support import AdminWorld
from idp import create_app


@pytest.fixture(scope="module")
def worker_b(module_server: LiveServer) -> Iterator[LiveServer]:
    """A second worker on the module server's database, store, secret and public URL."""
    port = free_port()
    app = create_app(module_server.services.settings)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield LiveServer(url=f"http://127.0.0.1:{port}", app=app, services=app.extensions["idp"])
    server.shutdown()
    thread.join(5)
    app.extensions["idp"].close()


def _token(worker: LiveServer, slug: str, client: str, secret: str) -> requests.Response:
    return requests.post(
        f"{worker.url}/realms/{slug}/protocol/openid-connect/token", data={"grant_type": "client_credentials"}, auth=(client, secret), timeout=10
    )


def test_a_rotated_secret_and_a_deleted_client_stop_working_on_the_other_worker_at_once(world: AdminWorld, worker_b: LiveServer) -> None:
    realm = world.tenant()
    token = world.service_token(realm)
    _, old_secret = world.services.clients.create(realm.tenant, "billing", [], grant_types=["client_credentials"])
    assert old_secret is not None
    for _ in range(2):  # the first loads B's caches through Flask, the second is the fast lane's
        assert _token(worker_b, realm.slug, "billing", old_secret).status_code == 200
    assert worker_b.services.clients.cached(worker_b.services.tenants.require(realm.slug), "billing") is not None

    r = world.call("POST", f"/admin/realms/{realm.slug}/clients/billing/secret", token)
    assert r.status_code == 200
    new_secret = r.json()["client_secret"]
    refused = _token(worker_b, realm.slug, "billing", old_secret)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    assert _token(worker_b, realm.slug, "billing", new_secret).status_code == 200
    assert _token(worker_b, realm.slug, "billing", new_secret).status_code == 200  # warm again

    assert world.call("DELETE", f"/admin/realms/{realm.slug}/clients/billing", token).status_code == 204
    gone = _token(worker_b, realm.slug, "billing", new_secret)
    assert gone.status_code == 401 and gone.json()["error"] == "invalid_client"


def test_a_configuration_change_applies_on_the_other_worker_at_once(world: AdminWorld, worker_b: LiveServer) -> None:
    realm = world.tenant()
    token = world.service_token(realm)
    secret = realm.secrets["rp-service"]
    for _ in range(2):
        r = _token(worker_b, realm.slug, "rp-service", secret)
        assert r.status_code == 200 and r.json()["expires_in"] == 300
    r = world.call("PATCH", f"/admin/realms/{realm.slug}/config", token, json={"tokens": {"access_token_ttl": 123}})
    assert r.status_code == 200
    assert _token(worker_b, realm.slug, "rp-service", secret).json()["expires_in"] == 123


def test_a_new_tenant_and_a_rotated_key_show_on_the_other_worker_at_once(world: AdminWorld, worker_b: LiveServer) -> None:
    platform = world.service_token(world.master)
    slug = random_slug("new")
    discovery = f"{worker_b.url}/realms/{slug}/.well-known/openid-configuration"
    assert requests.get(discovery, timeout=10).status_code == 404  # B now remembers "no such tenant"
    assert world.call("POST", "/admin/realms", platform, json={"slug": slug}).status_code == 201
    assert requests.get(discovery, timeout=10).status_code == 200

    certs = f"{worker_b.url}/realms/{slug}/protocol/openid-connect/certs"
    before = {k["kid"] for k in requests.get(certs, timeout=10).json()["keys"]}
    r = world.call("POST", f"/admin/realms/{slug}/keys/rotate", platform, json={"publish_delay": 0})
    assert r.status_code == 201
    after = {k["kid"] for k in requests.get(certs, timeout=10).json()["keys"]}
    assert r.json()["kid"] in after and before < after


def test_a_change_made_in_one_transaction_across_services_is_seen_after_its_commit(world: AdminWorld, worker_b: LiveServer) -> None:
    """`idp tenant config set/apply` and `idp tenant import` join every service's unit of work in one transaction:
    a worker that reloads between the services' own "after" bump and the real commit must still see the change
    once the transaction has committed (the revision moves once more then)."""
    realm = world.tenant()
    cli = world.services
    b = worker_b.services
    b.revision.sync()
    assert b.tenants.require(realm.slug).config.mfa.policy != "required"
    with cli.db.transaction():
        cli.tenants.update_config(realm.slug, {"mfa": {"policy": "required"}})
        b.revision.sync()  # a request on B, between the services' bump and the commit: it reloads the old row
        assert b.tenants.require(realm.slug).config.mfa.policy != "required"
    b.revision.sync()  # the next request on B
    assert b.tenants.require(realm.slug).config.mfa.policy == "required"
