"""A browser (requests) walking the hosted pages, with each request sent to a node of the test's choosing.

Cookies for 127.0.0.1 go to every port, so the flow cookie and the SSO cookie travel between nodes the
way they travel between replicas behind one load balancer host name.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import cycle
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
from authlib.common.security import generate_token
from support import walkers
from support.builders import REDIRECT_URI
from support.walkers import query


def on(node_url: str, url: str) -> str:
    """``url`` with the scheme and host:port of ``node_url`` (the load balancer picked that node)."""
    node = urlsplit(node_url)
    parts = urlsplit(url)
    return urlunsplit((node.scheme, node.netloc, parts.path, parts.query, parts.fragment))


def browser(lang: str = "en") -> requests.Session:
    return walkers.browser(lang)


def submit(session: requests.Session, page: requests.Response, node_url: str, timeout: float = 30, **fields: str) -> requests.Response:
    """Post the first form of ``page`` (its hidden fields plus ``fields``) to ``node_url``; redirects not followed."""
    return walkers.submit(session, page, to=lambda url: on(node_url, url), timeout=timeout, **fields)


def nodes_cycle(*urls: str) -> Iterator[str]:
    return cycle(urls)


def mfa_login(
    realm: Any, session: requests.Session, hops: Iterator[str], username: str, password: str, totp: Any, client_id: str = "web"
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An authorization code flow with password then TOTP, each request to ``next(hops)``.

    Returns (token response, verified ID token claims). Raises AssertionError with the page on any
    unexpected answer.
    """
    rp = realm.rp(client_id)
    verifier = generate_token(48)
    url, state = rp.create_authorization_url(on(next(hops), realm.endpoint("auth")), code_verifier=verifier, nonce=generate_token(16))
    r = session.get(url, allow_redirects=False, timeout=30)
    assert r.status_code in (302, 303), (r.status_code, r.text[:1000])
    page = session.get(on(next(hops), urljoin(r.url, r.headers["Location"])), timeout=30)
    assert page.status_code == 200 and 'name="password"' in page.text, (page.status_code, page.text[:1000])
    page = submit(session, page, next(hops), username=username, password=password)
    assert page.status_code == 200 and 'name="code"' in page.text, (page.status_code, page.text[:1000])
    r = submit(session, page, next(hops), code=walkers.fresh_totp(totp))
    hops_left = 5
    while r.status_code in (302, 303) and not r.headers["Location"].startswith(REDIRECT_URI):
        r = session.get(on(next(hops), urljoin(r.url, r.headers["Location"])), allow_redirects=False, timeout=30)
        hops_left -= 1
        assert hops_left, "redirect loop"
    assert r.status_code in (302, 303), (r.status_code, r.text[:1000])
    params = query(r.headers["Location"])
    assert params.get("state") == state and "code" in params, r.headers["Location"]
    token = rp.fetch_token(on(next(hops), realm.endpoint("token")), authorization_response=r.headers["Location"], code_verifier=verifier)
    return dict(token), realm.verify(token["id_token"])
