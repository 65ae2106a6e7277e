"""Admin writes reach every worker of every node at once (issue 11, item 5), with real ``idp serve`` processes.

Node A (one worker) takes the admin calls; node B (two granian workers, each with its own caches)
answers the token requests. Each request is a new connection, which the kernel spreads over B's
workers; before each admin write, B has just answered a burst with warm caches (through the fast
lane). Right after the admin call returns, no worker of B may accept the old secret, the removed
client or the old configuration.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from conftest import free_port, random_slug

from production.conftest import RedisServer
from production.nodes import Deployment, Node, shared_database_url

BURST = 12


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    folder = tmp_path_factory.mktemp("admin-consistency")
    redis_server = RedisServer(free_port())
    redis_server.start()
    port_a = free_port()
    d = Deployment(folder, shared_database_url(folder), redis_server.url, f"http://127.0.0.1:{port_a}", folder / "instance")
    try:
        init = d.run_cli("init")
        assert init.returncode == 0, init.stderr.decode()
        d.start_node("a", port_a)
        d.start_node("b", workers=2)
        yield d
    finally:
        d.close()
        redis_server.stop()


def _token(node: Node, slug: str, client: str, secret: str, scope: str = "") -> requests.Response:
    data = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    return requests.post(f"{node.realm(slug)}/protocol/openid-connect/token", data=data, auth=(client, secret), timeout=10)


def _burst(node: Node, slug: str, client: str, secret: str) -> list[int]:
    return [_token(node, slug, client, secret).status_code for _ in range(BURST)]


def test_a_revoked_secret_stops_working_on_every_worker_at_once(deployment: Deployment) -> None:
    a, b = deployment.nodes
    services = deployment.test_services()
    master = services.tenants.require("master")
    admin_client = random_slug("platform")
    _, admin_secret = services.clients.create(master, admin_client, [], grant_types=["client_credentials"], scope="admin")
    assert admin_secret is not None
    r = _token(a, "master", admin_client, admin_secret, scope="admin")
    assert r.status_code == 200, r.text
    admin = {"Authorization": f"Bearer {r.json()['access_token']}"}

    slug = random_slug("cons")
    assert requests.post(f"{a.url}/admin/realms", json={"slug": slug}, headers=admin, timeout=20).status_code == 201
    r = requests.post(f"{a.url}/admin/realms/{slug}/clients", json={"client_id": "billing", "grant_types": ["client_credentials"]}, headers=admin, timeout=20)
    assert r.status_code == 201, r.text
    old_secret = r.json()["client_secret"]
    assert _burst(b, slug, "billing", old_secret) == [200] * BURST

    r = requests.post(f"{a.url}/admin/realms/{slug}/clients/billing/secret", headers=admin, timeout=20)
    assert r.status_code == 200
    new_secret = r.json()["client_secret"]
    assert _burst(b, slug, "billing", old_secret) == [401] * BURST  # no worker of B still knows the old secret
    assert _burst(b, slug, "billing", new_secret) == [200] * BURST

    r = requests.patch(f"{a.url}/admin/realms/{slug}/config", json={"tokens": {"access_token_ttl": 77}}, headers=admin, timeout=20)
    assert r.status_code == 200
    assert {_token(b, slug, "billing", new_secret).json()["expires_in"] for _ in range(BURST)} == {77}

    assert requests.delete(f"{a.url}/admin/realms/{slug}/clients/billing", headers=admin, timeout=20).status_code == 204
    assert _burst(b, slug, "billing", new_secret) == [401] * BURST
