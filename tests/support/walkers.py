"""The one browser walker of the tests: a ``requests.Session`` (no JavaScript) walking the hosted pages.

- :func:`submit`: post a form of a page (its own fields, e.g. ``csrf_token`` and ``step``, plus the
  test's), the primitive every walk is made of;
- :class:`Walker`: one browser on one tenant's pages: the sign-in (password, then TOTP or SMS) and
  the self-recovery walk, remembering the last page;
- :func:`start_authorization` / :func:`finish_authorization`: the relying party's ends of a code flow
  walked through the hosted pages (authorization endpoint to sign-in page; redirects back to the RP,
  code redeemed, ID token verified).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from authlib.common.security import generate_token

from support.builders import REDIRECT_URI
from support.forms import find_form


def query(location: str) -> dict[str, str]:
    """The query parameters of a redirect ``Location``."""
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def browser(lang: str | None = None) -> requests.Session:
    """A new browser (cookie jar) that speaks ``lang``."""
    session = requests.Session()
    if lang:
        session.headers["Accept-Language"] = lang
    return session


def submit(
    session: requests.Session,
    page: requests.Response,
    which: int | str = 0,
    *,
    to: Callable[[str], str] | None = None,
    headers: dict[str, str] | None = None,
    allow_redirects: bool = False,
    timeout: float = 30,
    **fields: str,
) -> requests.Response:
    """Post the form ``which`` of ``page`` (see :func:`support.forms.find_form`): its own fields with ``fields`` over them.

    ``to`` rewrites the target address (e.g. to send it to another node). Redirects are not followed
    unless ``allow_redirects``. Fails the test when the page has no such form.
    """
    form = find_form(page.text, which)
    assert form is not None, f"no form {which!r} on {page.url} ({page.status_code}): {page.text[:2000]}"
    url = urljoin(page.url, form.action or page.url)
    if to is not None:
        url = to(url)
    return session.post(url, data={**form.fields, **fields}, headers=headers, allow_redirects=allow_redirects, timeout=timeout)


def follow(
    session: requests.Session, response: requests.Response, stop_at: str = REDIRECT_URI, hops: int = 5, to: Callable[[str], str] | None = None
) -> requests.Response:
    """Follow 302/303 redirects from ``response`` until an answer that is not one, or one to ``stop_at`` (the RP)."""
    for _ in range(hops):
        if response.status_code not in (302, 303) or response.headers["Location"].startswith(stop_at):
            return response
        url = urljoin(response.url, response.headers["Location"])
        response = session.get(to(url) if to else url, allow_redirects=False, timeout=30)
    assert response.status_code not in (302, 303) or response.headers["Location"].startswith(stop_at), "redirect loop"
    return response


def fresh_totp(totp: Any, margin: float = 2.0) -> str:
    """A code of ``totp`` that will not cross a 30 s step boundary during the request."""
    if 30 - time.time() % 30 < margin:
        time.sleep(30 - time.time() % 30 + 0.1)
    return str(totp.now())


@dataclass
class Walker:
    """One browser walking the hosted pages of a tenant on a live server; ``page`` is the last page reached."""

    server: Any
    tenant: Any
    browser: requests.Session = field(default_factory=requests.Session)
    page: requests.Response | None = None

    def url(self, path: str = "") -> str:
        return f"{self.server.url}/realms/{self.tenant.slug}{path}"

    def get(self, url: str, **kw: Any) -> requests.Response:
        """GET ``url`` (redirects followed); it becomes :attr:`page`."""
        self.page = self.browser.get(url, timeout=30, **kw)
        return self.page

    def post(self, headers: dict[str, str] | None = None, which: int | str = 0, **fields: str) -> requests.Response:
        """Submit the form ``which`` of :attr:`page` with ``fields`` (redirects followed); the answer becomes :attr:`page`."""
        assert self.page is not None, "no page to post from"
        self.page = submit(self.browser, self.page, which, headers=headers, allow_redirects=True, **fields)
        return self.page

    # -- sign-in ---------------------------------------------------------------------------------------------

    def open_login(self, **params: str) -> requests.Response:
        """GET the tenant's sign-in page (following the 303 to the flow page); it must answer 200."""
        response = self.browser.get(self.url("/login"), params=params or None, timeout=10)
        assert response.status_code == 200, response.text
        self.page = response
        return response

    def post_login(self, page: requests.Response | None, username: str, password: str) -> requests.Response:
        """Post the sign-in form of ``page`` (default: :attr:`page`) with ``username`` and ``password``; redirects not followed."""
        page = page if page is not None else self.page
        assert page is not None, "no sign-in page"
        self.page = submit(self.browser, page, username=username, password=password)
        return self.page

    def post_code(self, code: str, page: requests.Response | None = None) -> requests.Response:
        """Post ``code`` in the second-factor form (TOTP or SMS) of ``page`` (default: :attr:`page`); redirects not followed."""
        page = page if page is not None else self.page
        assert page is not None, "no second-factor page"
        self.page = submit(self.browser, page, "code", code=code)
        return self.page

    def sign_in(self, username: str, password: str, totp: Any = None, sms_code: Callable[[], str] | None = None) -> requests.Response:
        """The whole sign-in: the sign-in page, the password, then a TOTP code of ``totp`` or the SMS code ``sms_code()``
        reads (from the outbox, say) when the flow asks for one. Returns the last answer (redirects not followed)."""
        answer = self.post_login(self.open_login(), username, password)
        if answer.status_code == 200 and find_form(answer.text, "code") is not None:
            if totp is not None:
                answer = self.post_code(fresh_totp(totp), answer)
            elif sms_code is not None:
                answer = self.post_code(sms_code(), answer)
        return answer

    # -- self-recovery ---------------------------------------------------------------------------------------

    def request_link(self, login: str, **headers: str) -> requests.Response:
        """Ask for a recovery link for ``login`` on the self-recovery page; the mail is sent before it returns."""
        from flows.self_recovery import requests as recovery_requests

        self.get(self.url("/flow/self-recovery"), headers=headers or None)
        response = self.post(headers=headers or None, login=login)
        recovery_requests.drain()
        return response


# -- the relying party's ends of a code flow through the hosted pages -----------------------------------------------


def start_authorization(realm: Any, session: requests.Session, client_id: str = "web", **params: str) -> tuple[Any, str, requests.Response]:
    """The RP sends the browser to the authorization endpoint; returns (rp, verifier, sign-in page)."""
    rp = realm.rp(client_id)
    response, verifier, _ = realm.authorize(session, rp, nonce=generate_token(16), **params)
    assert response.status_code in (302, 303), response.text
    page = session.get(urljoin(response.url, response.headers["Location"]), timeout=30)
    assert page.status_code == 200 and 'name="password"' in page.text, page.text
    return rp, verifier, page


def finish_authorization(realm: Any, session: requests.Session, rp: Any, verifier: str, last: requests.Response) -> dict[str, Any]:
    """Follow the redirects after the last step to the RP, redeem the code, and return the verified ID token claims."""
    response = last
    hops = 0
    while response.status_code in (302, 303) and not response.headers["Location"].startswith("https://rp.example.com"):
        response = session.get(urljoin(response.url, response.headers["Location"]), allow_redirects=False, timeout=30)
        hops += 1
        assert hops < 5
    assert response.status_code in (302, 303), response.text
    location = response.headers["Location"]
    assert "code" in query(location), location
    token = rp.fetch_token(realm.endpoint("token"), authorization_response=location, code_verifier=verifier)
    return realm.verify(token["id_token"])
