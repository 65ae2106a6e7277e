"""Response modes of the authorization endpoint: ``query`` and OAuth 2.0 Form Post Response Mode.

- ``query`` (the default of ``response_type=code``, OAuth 2.0 Multiple Response Type Encoding
  Practices §2.1): the response parameters go in the query of a 302 to the redirect URI.
- ``form_post`` (https://openid.net/specs/oauth-v2-form-post-response-mode-1_0.html §2): the same
  parameters go to the same redirect URI as the fields of an HTML form the browser posts
  (``application/x-www-form-urlencoded``). The page itself is the web layer's
  (``templates/form_post.html``); this module says which parameters it carries.

Any other ``response_mode`` (``fragment`` included: the code flow has no use for it, R-64) is
refused with ``invalid_request`` by :meth:`idp.oidc.grants.AuthorizationCodeGrant.validate_authorization_request`.

A form post carries exactly what the query mode sends, ``iss`` included (RFC 9207, R-69): the web
layer lets Authlib build the query-mode redirect, then :func:`response_parameters` reads the
parameters back from its ``Location``. Nothing of the response is built twice.

No I/O and no Flask here.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qsl, urlsplit

#: ``response_mode`` of the query mode, the default for ``response_type=code``.
QUERY = "query"
#: ``response_mode`` of OAuth 2.0 Form Post Response Mode.
FORM_POST = "form_post"
#: ``response_mode`` values accepted, as advertised in discovery (``response_modes_supported``).
RESPONSE_MODES = (QUERY, FORM_POST)


def wants_form_post(params: Mapping[str, str]) -> bool:
    """Whether the authorization request asked for ``response_mode=form_post``."""
    return params.get("response_mode") == FORM_POST


def response_parameters(location: str, redirect_uri: str) -> list[tuple[str, str]]:
    """The authorization response parameters (``code``, ``state``, ``iss``; or ``error``, ``error_description``,
    ``state``, ``iss``) that the query mode added to ``redirect_uri`` to make ``location``, in their order.

    Authlib appends the parameters to the redirect URI's own query (``authlib.common.urls.add_params_to_uri``),
    so the redirect URI's own pairs come first; they stay in the form's ``action``, and only the pairs after
    them are the response. A ``location`` that is not ``redirect_uri`` with pairs appended raises ``ValueError``
    (never a form aimed at some other address).
    """
    target, sent = urlsplit(redirect_uri), urlsplit(location)
    if (sent.scheme, sent.netloc, sent.path) != (target.scheme, target.netloc, target.path) or sent.fragment:
        raise ValueError("the authorization response is not addressed to the redirect URI")
    own = parse_qsl(target.query, keep_blank_values=True)
    pairs = parse_qsl(sent.query, keep_blank_values=True)
    if pairs[: len(own)] != own:
        raise ValueError("the authorization response does not extend the redirect URI's query")
    return pairs[len(own) :]
