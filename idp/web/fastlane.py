"""A thin WSGI lane in front of Flask for the hottest protocol requests (issues 7 and 17).

The two static protocol documents, a ``client_credentials`` token request that succeeds, the code
exchange and refresh of an authenticated client, and UserInfo and introspection of a live access token.

``GET /realms/<t>/.well-known/openid-configuration`` and ``GET /realms/<t>/protocol/openid-connect/certs``
are the same bytes for every request until the tenant or its key set changes. Through Flask each cost
a request context, routing, three after-request hooks and a response object: several times the work of
answering. This lane answers them from the same per-process caches the Flask views use, with the
same response, byte for byte:

- the body, ``Content-Type``, ``Content-Length``, the strong ``ETag`` and ``Cache-Control`` of
  :func:`idp.web.oidc_endpoints._cacheable`;
- the security headers of :mod:`idp.web.security_headers` (the policy without a nonce), in the same order;
- ``X-Request-ID`` (:mod:`idp.observability.request_id`), one latency observation and one response
  count labelled by the Flask endpoint, and one access-log line (:func:`idp.observability.log_access`).

It answers only when everything comes from a fresh cache: a plain ``GET`` without a query string or
``If-None-Match``, of a tenant and keys this process holds (the same :data:`~idp.tenants.service.CACHE_TTL`
and :data:`~idp.oidc.keys.CACHE_TTL` as the views, so the same invalidation). Anything else (a cache
miss, an unknown tenant, ``HEAD``, a conditional request, every error) goes to Flask unchanged.

Like every Flask request, each answer here is checked against the admin revision (:mod:`idp.tenants.revision`),
so an admin write made on any worker (a secret rotated, a client removed, a key rotated) is seen before it
answers; a store outage goes to Flask, which answers 503. The documents and ``client_credentials`` read it first
(one round trip). A code exchange, a refresh, UserInfo and introspection, which read or spend a record anyway,
check it in that record's round trip instead (:class:`~idp.store.Guard`: the redemption script, the grant's or
the token's ``MGET``), which refuses, spending nothing, when it moved; the request then goes to Flask, which
reloads the caches. An OAuth error decided before that operation reads the revision before it is answered.

``POST /realms/<t>/protocol/openid-connect/token`` with ``grant_type=client_credentials`` (RFC 6749
§4.4), the request of every service-to-service call, costs through Flask and Authlib three times the
work of minting its JWT. The lane answers it only when it is the plain, valid case: a form body with
``grant_type`` and at most ``scope``, each once; HTTP Basic credentials (parsed by Authlib's own
:func:`~authlib.oauth2.rfc6749.util.extract_basic_authorization`) of a cached client that may use
``client_secret_basic`` and the grant, whose secret matches. The token comes from the same
:class:`~idp.oidc.server.AccessTokenGenerator` Authlib's grant calls, and the response carries
Authlib's headers, ``Cache-Control: no-store`` and ``Pragma: no-cache`` included, and its body's
members. It never queries the database: the tenant, the client and the signing keys must all be fresh in
this process's caches. Anything else, a wrong secret, a malformed ``Authorization`` header or a failure
of any kind included, goes to Flask with the body intact, and Authlib answers it (with the error of
RFC 6749 §5.2, or the outage handler's 503): the lane never writes an error itself.

A code exchange (``authorization_code``: ``code``, ``redirect_uri``, ``code_verifier``) or a refresh
(``refresh_token``, ``scope``) with the same plain form and the same HTTP Basic client, authenticated from the
caches in the same way, is run through the tenant server's *own* grant
(:meth:`~authlib.oauth2.rfc6749.AuthorizationServer.get_token_grant`, then the grant's
``validate_token_request`` and ``create_token_response``), so every check is Authlib's and ours: PKCE
(:class:`~idp.oidc.grants.S256CodeChallenge`), the redirect URI, single use and replay revocation (R-62), the
user's status, rotation and reuse detection revoking the family (R-63), the scope. Only Flask's request
and Authlib's request dispatch are skipped. Once the grant runs a code or a refresh generation may be spent,
so from there the lane answers itself, errors included, with the grant's own OAuth error rendered as Authlib
renders it; an outage met there is handed to the Flask token view to raise (:data:`OUTAGE_KEY`), which answers
it as any outage. ``tests/oidc/test_fastlane_grants.py`` plays every case through both paths and compares.

UserInfo (``GET`` with a bearer token in the header) and introspection (``POST token=...`` by a confidential
client with HTTP Basic, cached, whose secret matches) change nothing, so the lane answers only the plain valid
case (a live access token: signed by the tenant, unexpired, not revoked, its grant live; for UserInfo the
``openid`` scope, an active user and a client without signed UserInfo) with the same document Authlib's
endpoint makes, and hands everything else to Flask: every error, ``{"active": false}`` and refresh tokens
included, comes from Authlib.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from authlib.consts import default_json_headers as TOKEN_RESPONSE_HEADER
from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from werkzeug.http import HTTP_STATUS_CODES

from idp.observability import log_access
from idp.observability.logs import redact
from idp.observability.request_id import HEADER, request_id_from
from idp.oidc.grants import user_claims
from idp.oidc.keys import JWKS_MAX_AGE
from idp.oidc.rfc7662 import IntrospectionEndpoint
from idp.oidc.server import DISCOVERY_MAX_AGE, AccessTokenGenerator, LaneTokenRequest
from idp.oidc.tokens import REFRESH_PREFIX
from idp.store import Guard, GuardMoved, StoreUnavailable
from idp.web.faults import OUTAGES
from idp.web.security_headers import CSP_WITHOUT_NONCE, FIXED_HEADERS, HSTS

if TYPE_CHECKING:  # pragma: no cover
    from flask import Flask

_REALMS = "/realms/"
_DISCOVERY = ".well-known/openid-configuration"
_CERTS = "protocol/openid-connect/certs"
#: Flask endpoint and rule of each document (the labels and log fields of the Flask views).
_ROUTES = {
    _DISCOVERY: ("oidc.discovery", "/realms/<tenant>/.well-known/openid-configuration"),
    _CERTS: ("oidc.certs", "/realms/<tenant>/protocol/openid-connect/certs"),
}
_TOKEN = "protocol/openid-connect/token"
_TOKEN_ROUTE = ("oidc.token", "/realms/<tenant>/protocol/openid-connect/token")
_USERINFO = "protocol/openid-connect/userinfo"
_USERINFO_ROUTE = ("oidc.userinfo", "/realms/<tenant>/protocol/openid-connect/userinfo")
_INTROSPECT = "protocol/openid-connect/token/introspect"
_INTROSPECT_ROUTE = ("oidc.introspect", "/realms/<tenant>/protocol/openid-connect/token/introspect")
#: Where the lane leaves an outage it met while running a grant, for the Flask token view to raise (and answer).
OUTAGE_KEY = "idp.fastlane.outage"
#: A client_credentials body is a few dozen bytes; a larger one (or a chunked one) goes to Flask.
_MAX_TOKEN_BODY = 2048
#: An introspection body is one token (a JWT of a few hundred bytes to a few KB).
_MAX_INTROSPECTION_BODY = 9000
#: The grants the lane takes, and the only parameters it accepts in their body, each at most once.
_GRANT_PARAMS = {
    "client_credentials": frozenset({"grant_type", "scope"}),
    "authorization_code": frozenset({"grant_type", "code", "redirect_uri", "code_verifier"}),
    "refresh_token": frozenset({"grant_type", "refresh_token", "scope"}),
}
#: Status lines as werkzeug writes them.
_STATUS_LINES = {code: f"{code} {HTTP_STATUS_CODES[code].upper()}" for code in (200, 400, 401)}

StartResponse = Callable[..., Any]


class ProtocolFastLane:
    """WSGI middleware: the discovery document and the JWKS from the caches, else the wrapped app."""

    def __init__(self, app: "Flask", wsgi_app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]) -> None:
        self.next = wsgi_app
        self.services = app.extensions["idp"]
        self.provider = app.extensions["idp.oidc"]
        self.timer = app.extensions["idp.observability"]["timer"]
        security = [("Content-Security-Policy", CSP_WITHOUT_NONCE), *FIXED_HEADERS]
        if self.services.settings.public_url.startswith("https://"):
            security.append(("Strict-Transport-Security", HSTS))
        self.security = security
        self.cache_control = {_DISCOVERY: f"public, max-age={DISCOVERY_MAX_AGE}", _CERTS: f"public, max-age={JWKS_MAX_AGE}"}

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        path = environ.get("PATH_INFO", "")
        if path.startswith(_REALMS) and not environ.get("QUERY_STRING") and not _dpop(environ):
            method = environ.get("REQUEST_METHOD")
            slug, _, rest = path[len(_REALMS) :].partition("/")
            if method == "GET" and rest in _ROUTES and "HTTP_IF_NONE_MATCH" not in environ:
                body = self._document(slug, rest)
                if body is not None:
                    return self._answer(environ, start_response, started, path, slug, rest, *body)
            elif method == "POST" and rest == _TOKEN:
                return self._token(environ, start_response, started, path, slug)
            elif method == "GET" and rest == _USERINFO:
                return self._userinfo(environ, start_response, started, path, slug)
            elif method == "POST" and rest == _INTROSPECT:
                return self._introspection(environ, start_response, started, path, slug)
        return self.next(environ, start_response)

    def _document(self, slug: str, document: str) -> tuple[bytes, str] | None:
        try:
            self.services.revision.sync()
        except StoreUnavailable:
            return None  # Flask answers the outage (503)
        tenant = self.services.tenants.cached(slug)
        if tenant is None:
            return None
        if document == _DISCOVERY:
            return self.provider.discovery_document(tenant)  # type: ignore[no-any-return]
        return self.services.keys.cached_jwks_document(tenant)  # type: ignore[no-any-return]

    def _answer(
        self, environ: dict[str, Any], start_response: StartResponse, started: float, path: str, slug: str, document: str, body: bytes, etag: str
    ) -> list[bytes]:
        head = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("ETag", etag), ("Cache-Control", self.cache_control[document])]
        return self._respond(environ, start_response, started, path, slug, "GET", _ROUTES[document], head, body)

    def _respond(
        self,
        environ: dict[str, Any],
        start_response: StartResponse,
        started: float,
        path: str,
        slug: str,
        method: str,
        endpoint_route: tuple[str, str],
        head: list[tuple[str, str]],
        body: bytes,
        status: int = 200,
    ) -> list[bytes]:
        """A response with the Flask views' headers after ``head``, their metric observation and their access line."""
        request_id = request_id_from(environ.get("HTTP_X_REQUEST_ID"))
        endpoint, route = endpoint_route
        elapsed = time.perf_counter() - started
        self.timer.observe(endpoint, method, status, elapsed)
        log_access(request_id, method, redact(path), route, endpoint, slug, status, elapsed, environ.get("REMOTE_ADDR"), len(body))
        start_response(_STATUS_LINES.get(status) or f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}", [*head, *self.security, (HEADER, request_id)])
        return [body]

    # -- the token endpoint -----------------------------------------------------------------------

    def _token(self, environ: dict[str, Any], start_response: StartResponse, started: float, path: str, slug: str) -> Iterable[bytes]:
        """Answer a token request the lane takes (see the module docstring); hand anything else to Flask, body intact."""
        content_type = environ.get("CONTENT_TYPE", "")
        try:
            length = int(environ.get("CONTENT_LENGTH") or -1)
        except ValueError:
            length = -1
        if not 0 < length <= _MAX_TOKEN_BODY or content_type.partition(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            return self.next(environ, start_response)
        raw = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(raw)  # Flask reads the same bytes if the lane passes
        try:
            taken = self._authenticated(environ, slug, raw)
        except Exception:
            # whatever went wrong (a malformed header a parser refused, a dependency down), Flask and Authlib
            # answer it with their error, their outage handling (503, R-95) and their log line
            taken = None
        if taken is None:
            return self.next(environ, start_response)
        tenant, client, params, guard = taken
        if params["grant_type"] == "client_credentials":
            try:
                token = AccessTokenGenerator(self.provider.server(tenant))(
                    "client_credentials", client, scope=params.get("scope"), include_refresh_token=False
                )
            except Exception:
                return self.next(environ, start_response)  # nothing was spent: Authlib answers (a 503 on an outage)
            status, payload, headers = 200, token, TOKEN_RESPONSE_HEADER
        else:
            # from here on a code or a refresh generation may be spent: the lane answers, errors included, as
            # Authlib's grant does (an outage propagates to the outage handler below, as it does through Flask)
            try:
                answer = self._grant(tenant, client, params, environ, guard)
                if answer is None:
                    return self.next(environ, start_response)  # the revision moved before anything was spent: Flask syncs and answers
                status, payload, headers = answer
            except tuple(OUTAGES) as exc:
                # a code or a generation may be spent: Flask must not run the grant again, only answer the outage
                # as it would have (its handlers, hooks and log line; 503, R-95)
                environ[OUTAGE_KEY] = exc
                return self.next(environ, start_response)
        body = json.dumps(payload).encode()  # as Authlib's Flask integration encodes it
        head = [headers[0], ("Content-Length", str(len(body))), *headers[1:]]
        return self._respond(environ, start_response, started, path, slug, "POST", _TOKEN_ROUTE, head, body, status)

    def _authenticated(self, environ: dict[str, Any], slug: str, raw: bytes) -> tuple[Any, Any, dict[str, str], Guard | None] | None:
        """``(tenant, client, params, guard)`` of a plain request of a grant the lane takes, its client authenticated by
        HTTP Basic from the caches (the checks of Authlib's client authentication); else None. Spends nothing.

        ``client_credentials`` reads the admin revision first (one round trip: it has no other); a code exchange or a
        refresh carries it as ``guard`` to the grant's first store operation, which checks it in its own round trip."""
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            return None
        params = dict(pairs)
        allowed = _GRANT_PARAMS.get(params.get("grant_type", ""))
        if allowed is None or len(params) != len(pairs) or not params.keys() <= allowed:
            return None
        client_id, secret = extract_basic_authorization({"Authorization": environ.get("HTTP_AUTHORIZATION", "")})
        if not client_id or not secret:
            return None
        guard = None
        if params["grant_type"] == "client_credentials":
            self.services.revision.sync()  # one store read: an admin write on any worker empties the caches first
        else:
            guard = self.services.revision.guard()
        tenant = self.services.tenants.cached(slug)
        if tenant is None or not self.services.keys.holds_fresh_keys(tenant):
            return None  # a cache miss: Flask loads what is missing (and answers an outage with a 503)
        client = self.services.clients.cached(tenant, client_id)
        if (
            client is None
            or not client.check_endpoint_auth_method("client_secret_basic", "token")
            or not client.check_grant_type(params["grant_type"])
            or not client.check_client_secret(secret)
            or client.dpop_bound_access_tokens  # its requests need a DPoP proof: Flask refuses one without
        ):
            return None
        return tenant, client, params, guard

    def _grant(
        self, tenant: Any, client: Any, params: dict[str, str], environ: dict[str, Any], guard: Guard | None
    ) -> tuple[int, dict[str, Any], list[tuple[str, str]]] | None:
        """Run the tenant server's own grant (Authlib's checks and extensions: PKCE, the ID token, rotation) on an
        authenticated request, without Flask or Authlib's request dispatch; its answer or its OAuth error.

        None when the admin revision moved since the caches were read (:class:`~idp.store.GuardMoved` from the grant's
        first store operation, which then spent nothing; or, for an error met before that operation, a read of the
        revision now): Flask answers with fresh caches."""
        server = self.provider.server(tenant)
        headers_in = {"Authorization": environ.get("HTTP_AUTHORIZATION", "")}
        request = LaneTokenRequest(tenant.public_url, environ.get("PATH_INFO", ""), headers_in, params, revision_guard=guard)
        request.client = client
        request.auth_method = "client_secret_basic"
        try:
            grant = server.get_token_grant(request)
            grant.validate_token_request()
            status, payload, headers = grant.create_token_response()
        except GuardMoved:
            return None
        except OAuth2Error as error:
            # an error met before the guarded operation (a missing code, say) was decided from the caches alone
            if not self.services.revision.confirm(guard):
                return None
            status, payload, headers = error(server.get_error_uri(request, error))
        return status, payload, headers


    # -- UserInfo and introspection (read-only: anything but the plain valid case goes to Flask) ------------------

    def _fresh_tenant(self, slug: str) -> tuple[Any, Guard | None]:
        """The cached tenant (None on a miss) and the admin revision its caches were read at, to check with the token's
        records in their one round trip (:meth:`_live_token`): an answer is given only once that read confirmed it."""
        guard = self.services.revision.guard()
        tenant = self.services.tenants.cached(slug)
        if tenant is None or not self.services.keys.holds_fresh_keys(tenant):
            return None, guard
        return tenant, guard

    def _live_token(self, tenant: Any, token: str, guard: Guard | None) -> Any:
        """The access token's record when it is live (the checks of Authlib's bearer validator), else None.

        Its revocation marker and grant are read with ``guard`` (:class:`~idp.store.GuardMoved` when the admin revision
        moved: the caller hands the request to Flask)."""
        if not token or token.startswith(REFRESH_PREFIX + "."):
            return None
        record = self.provider.tokens.verify_access_token(tenant, token, guard)
        if record is None or record.is_expired() or record.is_revoked() or (guard is not None and not guard.confirmed):
            return None
        return record

    def _userinfo(self, environ: dict[str, Any], start_response: StartResponse, started: float, path: str, slug: str) -> Iterable[bytes]:
        """UserInfo (OIDC Core §5.3) of a live bearer token in the header, as an unsigned JSON document."""
        try:
            claims = self._claims(environ, slug)
        except Exception:
            claims = None  # nothing was changed: Flask answers, its outage handling included
        if claims is None:
            return self.next(environ, start_response)
        body = json.dumps(claims).encode()
        head = [TOKEN_RESPONSE_HEADER[0], ("Content-Length", str(len(body))), *TOKEN_RESPONSE_HEADER[1:]]
        return self._respond(environ, start_response, started, path, slug, "GET", _USERINFO_ROUTE, head, body)

    def _claims(self, environ: dict[str, Any], slug: str) -> dict[str, Any] | None:
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer" or environ.get("CONTENT_LENGTH") not in (None, "", "0"):
            return None
        tenant, guard = self._fresh_tenant(slug)
        if tenant is None:
            return None
        record = self._live_token(tenant, token.strip(), guard)
        if record is None or record.user is None or "cnf" in record.claims or "openid" not in record.scope.split():
            return None
        if record.client.client_metadata.get("userinfo_signed_response_alg"):
            return None  # a signed answer: Authlib's endpoint makes it
        profile = self.services.users.profile(tenant, record.user.user_id)
        if profile is None or profile.status != "active":
            return None
        return dict(user_claims(profile, record.scope))

    def _introspection(self, environ: dict[str, Any], start_response: StartResponse, started: float, path: str, slug: str) -> Iterable[bytes]:
        """Introspection (RFC 7662) of a live access token by a confidential client authenticated by HTTP Basic."""
        content_type = environ.get("CONTENT_TYPE", "")
        try:
            length = int(environ.get("CONTENT_LENGTH") or -1)
        except ValueError:
            length = -1
        if not 0 < length <= _MAX_INTROSPECTION_BODY or content_type.partition(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            return self.next(environ, start_response)
        raw = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(raw)
        try:
            payload = self._introspect(environ, slug, raw)
        except Exception:
            payload = None
        if payload is None:
            return self.next(environ, start_response)
        body = json.dumps(payload).encode()
        head = [TOKEN_RESPONSE_HEADER[0], ("Content-Length", str(len(body))), *TOKEN_RESPONSE_HEADER[1:]]
        return self._respond(environ, start_response, started, path, slug, "POST", _INTROSPECT_ROUTE, head, body)

    def _introspect(self, environ: dict[str, Any], slug: str, raw: bytes) -> dict[str, Any] | None:
        try:
            pairs = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (UnicodeDecodeError, ValueError):
            return None
        if len(pairs) != 1 or pairs[0][0] != "token":
            return None
        client_id, secret = extract_basic_authorization({"Authorization": environ.get("HTTP_AUTHORIZATION", "")})
        if not client_id or not secret:
            return None
        tenant, guard = self._fresh_tenant(slug)
        if tenant is None:
            return None
        client = self.services.clients.cached(tenant, client_id)
        if client is None or not client.check_endpoint_auth_method("client_secret_basic", "introspection") or not client.check_client_secret(secret):
            return None
        record = self._live_token(tenant, pairs[0][1], guard)
        if record is None:
            return None  # unknown, expired or revoked: {"active": false} from Authlib
        endpoint = IntrospectionEndpoint(self.provider.server(tenant))
        if not endpoint.check_permission(record, client, None):  # type: ignore[arg-type]
            return None
        return endpoint.introspect_token(record)


def _dpop(environ: dict[str, Any]) -> bool:
    """A request with a DPoP proof or the DPoP scheme (RFC 9449): always Flask's (proofs are checked there)."""
    return "HTTP_DPOP" in environ or environ.get("HTTP_AUTHORIZATION", "")[:5].lower() == "dpop "


def init_app(app: "Flask") -> None:
    """Put the lane in front of ``app``'s WSGI callable (inside any proxy middleware added later)."""
    app.wsgi_app = ProtocolFastLane(app, app.wsgi_app)  # type: ignore[method-assign]
