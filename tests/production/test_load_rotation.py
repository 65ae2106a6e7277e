"""A short load with key rotation (issue 6, item 7): no errors, and every token validates afterwards.

Bounded in count (and by a deadline), loopback only. A live server (werkzeug, threaded) on a Redis
of the test's own takes concurrent MFA logins (password + TOTP through the hosted pages, then the
token endpoint) and ``client_credentials`` token requests, while the test rotates the tenant's
signing key three times with ``publish_delay=0``. Rotations follow the load's progress, not the
clock (one every ``PHASE`` client tokens, and the load goes on for one phase after the last), so
every key signs tokens however fast or slow the machine is. The server shares the test's service layer, so a
rotation takes effect at once (a worker of another process re-reads keys within
``idp.oidc.keys.CACHE_TTL``). Every answer must be a success; every token issued (ID tokens and JWT
access tokens) must verify against the JWKS fetched after the run, which still publishes the keys
that signed them; access tokens signed by a retired key still work at userinfo.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pyotp
import requests
from conftest import LiveServer, random_slug
from joserfc import jwt
from joserfc.jwk import KeySet
from support.builders import PASSWORD, make_realm

from production.conftest import RedisServer
from production.walkers import LoginUser, Outcome, UserPool, login

ROTATIONS = 3
PHASE = 100  # client_credentials tokens under each key
MAX_LOGINS = 80
MIN_LOGINS = 20
DEADLINE = 60.0  # seconds; a machine too slow for this fails with the counts reached


def _kid(token: str) -> str:
    import base64
    import json

    header = token.split(".")[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


def test_logins_and_token_requests_while_keys_rotate(make_live_server: Callable[..., LiveServer], redis_server: RedisServer) -> None:
    server = make_live_server(redis_url=redis_server.url)
    realm = make_realm(server, random_slug("load"), {"mfa": {"policy": "required"}})
    services, tenant = server.services, realm.tenant
    users = []
    for i in range(40):
        user = services.users.create(tenant, f"load{i}", PASSWORD)
        _, uri = services.factors.add_totp(tenant, user)
        users.append(LoginUser(user.username, pyotp.parse_uri(uri)))
    pool = UserPool(users)

    outcomes: list[Outcome] = []
    client_tokens: list[str] = []
    failures: list[str] = []
    lock = threading.Lock()
    rotated: list[Any] = []
    start = time.monotonic()
    end = start + DEADLINE

    def finished() -> bool:
        """The load ends one phase after the last rotation, once enough logins are done."""
        with lock:
            rotations_done = len(rotated) == ROTATIONS and len(client_tokens) >= (ROTATIONS + 1) * PHASE
            return (rotations_done and len(outcomes) >= MIN_LOGINS) or time.monotonic() >= end

    def logins() -> None:
        while not finished():
            with lock:
                if len(outcomes) >= MAX_LOGINS:
                    return
            user = pool.borrow(min(end, time.monotonic() + 2))
            if user is None:
                continue
            try:
                outcome = login(realm, user, PASSWORD)
            finally:
                pool.give_back(user)
            with lock:
                outcomes.append(outcome)

    def client_credentials() -> None:
        session = requests.Session()
        while not finished() and not failures:
            r = session.post(realm.endpoint("token"), data={"grant_type": "client_credentials"}, auth=("service", realm.secrets["service"]), timeout=30)
            with lock:
                if r.status_code == 200:
                    client_tokens.append(r.json()["access_token"])
                else:
                    failures.append(f"{r.status_code} {r.text[:200]}")

    def rotator() -> None:
        for phase in range(1, ROTATIONS + 1):
            while time.monotonic() < end and not failures:
                with lock:
                    if len(client_tokens) >= phase * PHASE:
                        break
                time.sleep(0.02)
            else:
                return
            key = services.keys.rotate(tenant, publish_delay=0)
            with lock:
                rotated.append(key)

    threads = [threading.Thread(target=logins) for _ in range(3)]
    threads += [threading.Thread(target=client_credentials) for _ in range(2)]
    threads.append(threading.Thread(target=rotator))
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE + 60)
    elapsed = time.monotonic() - start

    bad = [o for o in outcomes if o.kind != "ok"]
    print(f"\n{len(outcomes)} logins, {len(client_tokens)} client_credentials tokens in {elapsed:.1f}s; {len(rotated)} rotations")
    assert not bad and not failures, (bad[:3], failures[:3])
    assert len(rotated) == ROTATIONS, (len(rotated), len(client_tokens))
    assert len(outcomes) >= MIN_LOGINS and len(client_tokens) >= (ROTATIONS + 1) * PHASE, (len(outcomes), len(client_tokens))

    jwks = KeySet.import_key_set(requests.get(realm.endpoint("certs"), timeout=10).json())
    published = {k.kid for k in jwks.keys}
    signed: list[tuple[str, str]] = [(o.token["id_token"], "id") for o in outcomes if o.token] + [(o.token["access_token"], "access") for o in outcomes if o.token]
    signed += [(t, "access") for t in client_tokens]
    kids = set()
    for token, kind in signed:
        kid = _kid(token)
        kids.add(kid)
        assert kid in published, (kind, kid, published)
        claims = jwt.decode(token, jwks, algorithms=["RS256", "ES256"]).claims
        assert claims["iss"] == realm.issuer
    assert len(kids) >= ROTATIONS + 1, kids  # every key, the first and each rotated one, signed tokens
    # the oldest-key access token of a login still works at the IdP itself
    by_kid = sorted((o for o in outcomes if o.token), key=lambda o: o.at)
    assert realm.userinfo(by_kid[0].token["access_token"]).status_code == 200
