"""The console over plain HTTP: a signed-in console session for a tenant's admin, and its forms.

``console_session(world, realm)`` gets the admin an access token through the code flow (as
:meth:`AdminWorld.user_token` does for the API), keeps it server-side exactly as the console's
callback does (ephemeral store, random cookie), and returns a ``requests`` session speaking
``lang`` that posts forms with this browser's CSRF token. The sign-in pages themselves are
exercised in Chromium by ``test_console_browser.py``; these tests are about what the pages do.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

import requests

from admin.support import AdminWorld, Realm
from idp.admin.console import COOKIE, _session_key
from idp.security.secrets import random_token

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Console:
    world: AdminWorld
    realm: Realm
    http: requests.Session

    def at(self, realm: Realm) -> "Console":
        """The same browser, on the console of another tenant (a platform administrator's)."""
        return Console(self.world, realm, self.http)

    def url(self, path: str) -> str:
        return f"{self.world.server.url}/admin/console/realms/{self.realm.slug}/{path.lstrip('/')}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(self.url(path), timeout=20, allow_redirects=False, **kwargs)

    def csrf(self) -> str:
        page = self.get("users")
        assert page.status_code == 200, page.status_code
        found = _CSRF.search(page.text)
        assert found, "no csrf_token in the page"
        return html.unescape(found.group(1))

    def post(self, path: str, data: dict[str, Any] | None = None, files: Any = None, csrf: bool = True) -> requests.Response:
        form = dict(data or {})
        if csrf:
            form["csrf_token"] = self.csrf()
        return self.http.post(self.url(path), data=form, files=files, timeout=20, allow_redirects=False)


def console_session(world: AdminWorld, realm: Realm, lang: str = "en", username: str = "admin") -> Console:
    """A browser (``requests``) signed in to the console of ``realm`` as ``username``, speaking ``lang``."""
    token = world.user_token(realm, username)
    sid = random_token(32)
    with world.server.app.app_context():
        key = _session_key(sid)
    world.services.store.upsert(key, {"access_token": token, "tenant": realm.slug}, 300)
    http = requests.Session()
    http.headers["Accept-Language"] = lang
    http.cookies.set(COOKIE, sid, path="/admin/console/")
    return Console(world, realm, http)


def text(response: requests.Response) -> str:
    """The page's HTML with entities decoded."""
    return html.unescape(response.text)


def field_error(response: requests.Response, input_id: str) -> str:
    """The error shown next to the input ``input_id`` (empty when none), checked to be tied to it."""
    body = response.text
    found = re.search(rf'<p class="alert field-error" id="{re.escape(input_id)}-error">([^<]*)</p>', body)
    if not found:
        return ""
    tag = re.search(rf'<(?:input|select|textarea)[^>]* id="{re.escape(input_id)}"[^>]*>', body)
    assert tag and f"{input_id}-error" in tag.group(0) and 'aria-invalid="true"' in tag.group(0), "the error is not tied to its input"
    return html.unescape(found.group(1))
