"""Front-channel logout (OpenID Connect Front-Channel Logout 1.0 §2-§4): the RPs' logout pages, framed by ours.

The end_session page renders one ``<iframe>`` per RP of the ended session that registered a
``frontchannel_logout_uri``; when the RP asked for ``frontchannel_logout_session_required``, the
frame's URL carries ``iss`` and ``sid`` (§2), added to the URI's own query. The page's CSP allows
framing exactly those origins (:func:`frame_origins`), nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

if TYPE_CHECKING:  # pragma: no cover
    from idp.oidc.clients import ClientView


def frontchannel_logout_url(client: "ClientView", issuer: str, sid: str) -> str:
    """The URL to frame for ``client`` (§2: ``iss`` and ``sid`` when it asked for them)."""
    uri = client.frontchannel_logout_uri
    if not client.frontchannel_logout_session_required:
        return uri
    extra = urlencode({"iss": issuer, "sid": sid})
    return f"{uri}{'&' if urlsplit(uri).query else '?'}{extra}"


def frame_origins(urls: Iterable[str]) -> list[str]:
    """The distinct origins (``scheme://host[:port]``) of ``urls``, for the page's ``frame-src``."""
    origins: list[str] = []
    for url in urls:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"
        if origin not in origins:
            origins.append(origin)
    return origins
