"""OAuth 2.0 clients (relying parties): registration rules, hashed secrets, and a short per-process cache.

Rules enforced here, once, for the CLI, the admin API and the protocol:

- redirect URIs are absolute, carry no fragment, and are ``https`` or ``http``
  on a loopback host only (RFC 9700 §2.6, R-59); matching is exact, except that
  the port of a loopback IP redirect URI may vary (RFC 8252 §7.3, R-58);
- public clients authenticate with ``none``, always use PKCE, and may not use
  ``client_credentials`` (RFC 6749 §4.4);
- secrets are 32 random bytes, shown once, stored as a keyed SHA-256
  (:meth:`SecretBox.digest`): a slow hash buys nothing for random secrets and
  the token endpoint is a hot path.

The token endpoint must not query the database for the client: :meth:`ClientService.get`
answers from a per-process cache for :data:`CACHE_TTL` seconds; a change made
through this service bumps the admin revision (:mod:`idp.tenants.revision`), so every
worker of every node drops its cached clients before its next request.
"""

from __future__ import annotations

import ipaddress
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.util import scope_to_list
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from idp.oidc.form_post import QUERY, RESPONSE_MODES
from idp.security.secrets import random_token
from idp.storage.models import Client, Consent

if TYPE_CHECKING:  # pragma: no cover
    from idp.security.secrets import SecretBox
    from idp.storage.database import Database
    from idp.tenants.revision import AdminRevision
    from idp.tenants.service import TenantView

#: Seconds a worker trusts its cached copy of a client.
CACHE_TTL = 5.0
#: Scopes the provider knows (OIDC Core §5.4 plus ``offline_access``).
SUPPORTED_SCOPES = ("openid", "profile", "email", "address", "phone", "offline_access")
#: The admin API's scope (idp/admin/auth.py); a client gets it only when registered with it explicitly.
ADMIN_SCOPE = "admin"
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "none")
#: Purpose of the keyed digest of client secrets.
SECRET_PURPOSE = "client-secret"

_CLIENT_ID = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
_LOOPBACK_NAMES = ("localhost",)


class ClientError(ValueError):
    """A client operation was refused: one plain line, an HTTP status and the field at fault."""

    def __init__(self, message: str, status: int = 400, field: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.field = field


def _is_loopback_ip(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_redirect_uri(uri: str, field_name: str = "redirect_uris", what: str = "redirect URI") -> str:
    """``uri`` if it may be registered as a redirect URI (R-59), else :class:`ClientError`.

    ``what`` names the URI in the messages (``frontchannel_logout_uri`` follows the same rules).
    """
    if not isinstance(uri, str) or not uri or len(uri) > 2000 or any(c.isspace() for c in uri):
        raise ClientError(f"invalid {what} {uri!r}", field=field_name)
    if "*" in uri:  # matching is exact: a '*' would never match anything but itself, so refuse it plainly
        raise ClientError(f"{what} {uri!r} must not contain a wildcard '*': register each address exactly", field=field_name)
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ClientError(f"invalid {what} {uri!r}", field=field_name) from None
    if not parts.scheme or not parts.hostname:
        raise ClientError(f"{what} {uri!r} must be absolute", field=field_name)
    if parts.fragment or "#" in uri:
        raise ClientError(f"{what} {uri!r} must not contain a fragment", field=field_name)
    if parts.username or parts.password:
        raise ClientError(f"{what} {uri!r} must not carry credentials", field=field_name)
    if parts.scheme == "https":
        return uri
    if parts.scheme == "http" and (parts.hostname in _LOOPBACK_NAMES or _is_loopback_ip(parts.hostname)):
        return uri
    raise ClientError(f"{what} {uri!r} must use https (http only on a loopback address)", field=field_name)


def check_logout_uri(uri: Any, field_name: str) -> str:
    """A ``frontchannel_logout_uri`` or ``backchannel_logout_uri``: empty (none), or absolute ``https`` (``http``
    on a loopback address only), without a fragment (Front-Channel Logout 1.0 §2, Back-Channel Logout 1.0 §2.2)."""
    if uri is None or uri == "":
        return ""
    if not isinstance(uri, str):
        raise ClientError(f"{field_name} must be a string", field=field_name)
    return check_redirect_uri(uri, field_name, what=field_name)


def redirect_uri_matches(registered: str, candidate: str) -> bool:
    """Exact string match; for an ``http`` loopback IP registration the port may differ (RFC 8252 §7.3)."""
    if candidate == registered:
        return True
    try:
        reg, cand = urlsplit(registered), urlsplit(candidate)
        if reg.scheme != "http" or cand.scheme != "http" or not reg.hostname or not _is_loopback_ip(reg.hostname):
            return False
        cand.port  # noqa: B018
    except ValueError:
        return False
    return (
        reg.hostname == cand.hostname
        and reg.path == cand.path
        and reg.query == cand.query
        and not cand.fragment
        and not cand.username
        and not cand.password
    )


#: The logout registration of a client: two URIs, each with its ``*_session_required`` flag.
LOGOUT_FIELDS = (
    "frontchannel_logout_uri",
    "frontchannel_logout_session_required",
    "backchannel_logout_uri",
    "backchannel_logout_session_required",
)
#: Sender-constraining flags of a client (RFC 7591 metadata names): PAR only (RFC 9126 §6), DPoP required (RFC 9449 §5.2).
SECURITY_FLAGS = ("require_pushed_authorization_requests", "dpop_bound_access_tokens")


def _checked_logout(values: dict[str, Any]) -> dict[str, Any]:
    """The given :data:`LOGOUT_FIELDS` and :data:`SECURITY_FLAGS`, checked (:class:`ClientError` naming the field)."""
    unknown = sorted(set(values) - set(LOGOUT_FIELDS) - set(SECURITY_FLAGS))
    if unknown:
        raise ClientError(f"unknown client field {unknown[0]!r}", field=unknown[0])
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name.endswith("_uri"):
            out[name] = check_logout_uri(value, name)
        elif isinstance(value, bool):
            out[name] = value
        else:
            raise ClientError(f"{name} must be true or false", field=name)
    return out


def _checked_response_modes(value: Any) -> list[str]:
    """The authorization response modes a client may ask for: a non-empty list of :data:`RESPONSE_MODES` (R-64)."""
    if not isinstance(value, (list, tuple)) or not all(isinstance(m, str) for m in value):
        raise ClientError("response_modes must be a list of response modes", field="response_modes")
    return _known(value, RESPONSE_MODES, "response_modes", "response mode")


def _known(values: Any, known: tuple[str, ...], field: str, noun: str) -> list[str]:
    """``values`` without repeats, each one of ``known``, at least one (:class:`ClientError` naming ``field``)."""
    chosen = list(dict.fromkeys(values))
    for value in chosen:
        if value not in known:
            raise ClientError(f"unsupported {noun} {value!r}: use {', '.join(known)}", field=field)
    if not chosen:
        raise ClientError(f"a client needs at least one {noun}", field=field)
    return chosen


def _checked_flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ClientError(f"{name} must be true or false", field=name)
    return value


def _checked_scope(scope: Any) -> str:
    """The scopes a client may be granted: known ones only; ``admin`` only when asked for by name."""
    if not isinstance(scope, str):
        raise ClientError("scope must be a space-separated string", field="scope")
    names = list(dict.fromkeys(scope.split()))
    for name in names:
        if name not in SUPPORTED_SCOPES + (ADMIN_SCOPE,):
            raise ClientError(f"unsupported scope {name!r}: use {', '.join(SUPPORTED_SCOPES + (ADMIN_SCOPE,))}", field="scope")
    return " ".join(names)


@dataclass(frozen=True)
class ClientView(ClientMixin):  # type: ignore[misc]
    """An immutable snapshot of a registered client, safe to cache; Authlib's :class:`ClientMixin`."""

    tenant_id: int
    tenant_slug: str
    client_id: str
    name: str
    secret_hash: str = field(repr=False)
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    grant_types: tuple[str, ...]
    scope: str
    token_endpoint_auth_method: str
    require_pkce: bool
    created_at: datetime | None
    frontchannel_logout_uri: str = ""
    frontchannel_logout_session_required: bool = False
    backchannel_logout_uri: str = ""
    backchannel_logout_session_required: bool = False
    #: A third-party client: the user approves its scopes on the consent page (:mod:`idp.oidc.consent`).
    consent_required: bool = False
    require_pushed_authorization_requests: bool = False
    dpop_bound_access_tokens: bool = False
    #: The ``response_mode`` values it may ask for at the authorization endpoint (R-64).
    response_modes: tuple[str, ...] = RESPONSE_MODES
    #: The :class:`SecretBox` that checks secrets (not part of equality or repr).
    _secrets: Any = field(default=None, repr=False, compare=False)

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    @property
    def client_metadata(self) -> dict[str, Any]:
        """RFC 7591 metadata (Authlib reads ``post_logout_redirect_uris`` and signing preferences here)."""
        return {
            "client_name": self.name,
            "redirect_uris": list(self.redirect_uris),
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "grant_types": list(self.grant_types),
            "response_types": ["code"] if "authorization_code" in self.grant_types else [],
            "scope": self.scope,
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "response_modes": list(self.response_modes),
            **self.logout_metadata(),
            **self.security_flags(),
        }

    def logout_metadata(self) -> dict[str, Any]:
        """The front- and back-channel logout registration (Front-Channel Logout 1.0 §2, Back-Channel Logout 1.0 §2.2)."""
        return {
            "frontchannel_logout_uri": self.frontchannel_logout_uri,
            "frontchannel_logout_session_required": self.frontchannel_logout_session_required,
            "backchannel_logout_uri": self.backchannel_logout_uri,
            "backchannel_logout_session_required": self.backchannel_logout_session_required,
        }

    def security_flags(self) -> dict[str, bool]:
        """PAR required (RFC 9126 §6) and DPoP required (RFC 9449 §5.2), under their RFC 7591 metadata names."""
        return {name: bool(getattr(self, name)) for name in SECURITY_FLAGS}

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the CLI (``--json``) and the admin API; never the secret or its hash."""
        return {
            "client_id": self.client_id,
            "name": self.name,
            "public": self.is_public,
            "redirect_uris": list(self.redirect_uris),
            "post_logout_redirect_uris": list(self.post_logout_redirect_uris),
            "grant_types": list(self.grant_types),
            "scope": self.scope,
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "require_pkce": self.require_pkce,
            "consent_required": self.consent_required,
            "response_modes": list(self.response_modes),
            **self.logout_metadata(),
            **self.security_flags(),
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }

    # -- authlib.oauth2.rfc6749.ClientMixin ----------------------------------------------

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        """The only registered URI; with several, the request must name one (OIDC Core §3.1.2.1)."""
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        """The requested scopes this client may have, in request order; unknown ones are ignored (OIDC Core §3.1.2.1)."""
        if not scope:
            return ""
        allowed = set(scope_to_list(self.scope))
        seen: list[str] = []
        for s in scope_to_list(scope):
            if s in allowed and s not in seen:
                seen.append(s)
        return " ".join(seen)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return any(redirect_uri_matches(r, redirect_uri) for r in self.redirect_uris)

    def check_client_secret(self, client_secret: str) -> bool:
        return not self.is_public and self._secrets.matches(client_secret, self.secret_hash, SECRET_PURPOSE)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """Public clients use ``none``; confidential clients send their secret by Basic or in the body.

        The introspection endpoint answers authenticated (confidential) clients only (RFC 7662 §2.1).
        """
        if self.is_public:
            return method == "none" and endpoint != "introspection"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_mode(self, response_mode: str) -> bool:
        """Whether the client may ask for ``response_mode`` (none named: ``query``, the code flow's default)."""
        return (response_mode or QUERY) in self.response_modes

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


class ClientService:
    """Register, read, change and remove the clients of a tenant."""

    def __init__(self, db: "Database", secrets: "SecretBox", revision: "AdminRevision") -> None:
        self.db = db
        self.secrets = secrets
        self.revision = revision
        self._cache: dict[tuple[int, str], tuple[float, ClientView | None]] = {}
        self._lock = threading.Lock()
        revision.watch(self.clear)

    # -- reading ------------------------------------------------------------------------

    def _view(self, tenant: "TenantView", row: Client) -> ClientView:
        return ClientView(
            tenant_id=tenant.id,
            tenant_slug=tenant.slug,
            client_id=row.client_id,
            name=row.name or "",
            secret_hash=row.secret_hash or "",
            redirect_uris=tuple(row.redirect_uris or ()),
            post_logout_redirect_uris=tuple(row.post_logout_redirect_uris or ()),
            grant_types=tuple(row.grant_types or ()),
            scope=row.scope or " ".join(SUPPORTED_SCOPES),
            token_endpoint_auth_method=row.token_endpoint_auth_method,
            require_pkce=bool(row.require_pkce),
            created_at=row.created_at,
            frontchannel_logout_uri=row.frontchannel_logout_uri or "",
            frontchannel_logout_session_required=bool(row.frontchannel_logout_session_required),
            backchannel_logout_uri=row.backchannel_logout_uri or "",
            backchannel_logout_session_required=bool(row.backchannel_logout_session_required),
            consent_required=bool(row.consent_required),
            require_pushed_authorization_requests=bool(row.require_pushed_authorization_requests),
            dpop_bound_access_tokens=bool(row.dpop_bound_access_tokens),
            response_modes=tuple(row.response_modes) if row.response_modes is not None else RESPONSE_MODES,
            _secrets=self.secrets,
        )

    def get(self, tenant: "TenantView", client_id: str) -> ClientView | None:
        """The client ``client_id`` of ``tenant`` (cached for :data:`CACHE_TTL` seconds), or None."""
        key = (tenant.id, client_id)
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
            return None
        generation = self.revision.generation
        with self.db.session() as s:
            row = s.scalar(select(Client).where(Client.tenant_id == tenant.id, Client.client_id == client_id))
            view = self._view(tenant, row) if row is not None else None
        with self._lock:
            if len(self._cache) > 10000:
                self._cache.clear()
            if generation == self.revision.generation:  # else an admin write may have come in between
                self._cache[key] = (now + CACHE_TTL, view)
        return view

    def cached(self, tenant: "TenantView", client_id: str) -> ClientView | None:
        """The client if this process holds a fresh copy (the same :data:`CACHE_TTL` as :meth:`get`), else None.

        Never queries: the protocol fast lane (:mod:`idp.web.fastlane`) hands a miss to Flask, whose
        token endpoint loads it through :meth:`get`.
        """
        hit = self._cache.get((tenant.id, client_id))
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return None

    def require(self, tenant: "TenantView", client_id: str) -> ClientView:
        view = self.get(tenant, client_id)
        if view is None:
            raise ClientError(f"unknown client {client_id!r} in tenant {tenant.slug!r}", status=404, field="client_id")
        return view

    def list(self, tenant: "TenantView") -> list[ClientView]:
        with self.db.session() as s:
            rows = s.scalars(select(Client).where(Client.tenant_id == tenant.id).order_by(Client.client_id)).all()
            return [self._view(tenant, r) for r in rows]

    def invalidate(self, tenant: "TenantView", client_id: str) -> None:
        with self._lock:
            self._cache.pop((tenant.id, client_id), None)

    def clear(self) -> None:
        """Forget every cached client (:class:`~idp.tenants.revision.AdminRevision` calls it when the revision moves)."""
        with self._lock:
            self._cache.clear()

    # -- changing -------------------------------------------------------------------------

    def create(
        self,
        tenant: "TenantView",
        client_id: str,
        redirect_uris: Iterable[str],
        post_logout_redirect_uris: Iterable[str] = (),
        public: bool = False,
        grant_types: Iterable[str] | None = None,
        auth_method: str | None = None,
        require_pkce: bool = True,
        name: str = "",
        scope: str | None = None,
        consent_required: bool = False,
        response_modes: Any = None,
        **logout: Any,
    ) -> tuple[ClientView, str | None]:
        """Register a client; returns it with its secret (None for a public client). Nothing is written on error.

        ``consent_required`` makes it a third-party client (users approve its scopes on the consent page).
        ``response_modes``: the authorization response modes it may ask for (default: every supported one).
        ``logout`` takes the :data:`LOGOUT_FIELDS` (front- and back-channel logout URIs and their
        ``*_session_required`` flags) and the :data:`SECURITY_FLAGS`."""
        if not isinstance(client_id, str) or not _CLIENT_ID.match(client_id):
            raise ClientError(
                f"invalid client id {client_id!r}: use 1 to 128 letters, digits, '.', '_', '~' or '-'", field="client_id"
            )
        fields = self._checked(
            public=public,
            redirect_uris=list(redirect_uris),
            post_logout_redirect_uris=list(post_logout_redirect_uris),
            grant_types=list(grant_types) if grant_types is not None else ["authorization_code", "refresh_token"],
            auth_method=auth_method,
            require_pkce=require_pkce,
            name=name,
        )
        fields.update(_checked_logout(logout))
        fields["consent_required"] = _checked_flag(consent_required, "consent_required")
        fields["response_modes"] = _checked_response_modes(response_modes if response_modes is not None else list(RESPONSE_MODES))
        allowed_scope = _checked_scope(scope) if scope is not None else " ".join(SUPPORTED_SCOPES)
        secret = None if public else random_token(32)
        self.revision.bump()
        with self.db.session() as s:
            if s.scalar(select(Client.id).where(Client.tenant_id == tenant.id, Client.client_id == client_id)) is not None:
                raise ClientError(f"client {client_id!r} already exists in tenant {tenant.slug!r}", status=409, field="client_id")
            row = Client(
                tenant_id=tenant.id,
                client_id=client_id,
                secret_hash=self.secrets.digest(secret, SECRET_PURPOSE) if secret else "",
                scope=allowed_scope,
                **fields,
            )
            s.add(row)
            try:
                s.flush()
            except IntegrityError:
                raise ClientError(f"client {client_id!r} already exists in tenant {tenant.slug!r}", status=409, field="client_id") from None
            view = self._view(tenant, row)
        self._changed(tenant, client_id)
        return view, secret

    def update(self, tenant: "TenantView", client_id: str, **changes: Any) -> ClientView:
        """Change ``redirect_uris``, ``post_logout_redirect_uris``, ``grant_types``, ``auth_method``,
        ``require_pkce``, ``name``, ``scope``, ``consent_required``, ``response_modes``, the :data:`LOGOUT_FIELDS` or the
        :data:`SECURITY_FLAGS`; the whole result is checked before anything is written."""
        allowed = {
            "redirect_uris", "post_logout_redirect_uris", "grant_types", "auth_method", "require_pkce", "name", "scope", "consent_required",
            "response_modes", *LOGOUT_FIELDS, *SECURITY_FLAGS,
        }
        unknown = sorted(set(changes) - allowed)
        if unknown:
            raise ClientError(f"unknown client field {unknown[0]!r}", field=unknown[0])
        self.revision.bump()
        with self.db.session() as s:
            row = s.scalar(select(Client).where(Client.tenant_id == tenant.id, Client.client_id == client_id).with_for_update())
            if row is None:
                raise ClientError(f"unknown client {client_id!r} in tenant {tenant.slug!r}", status=404, field="client_id")
            public = row.token_endpoint_auth_method == "none"
            merged = {
                "redirect_uris": list(changes.get("redirect_uris", row.redirect_uris or [])),
                "post_logout_redirect_uris": list(changes.get("post_logout_redirect_uris", row.post_logout_redirect_uris or [])),
                "grant_types": list(changes.get("grant_types", row.grant_types or [])),
                "auth_method": changes.get("auth_method", row.token_endpoint_auth_method),
                "require_pkce": changes.get("require_pkce", row.require_pkce),
                "name": changes.get("name", row.name),
            }
            if (merged["auth_method"] == "none") != public:
                raise ClientError("a client cannot switch between public and confidential; register a new one", field="auth_method")
            fields = self._checked(public=public, **merged)
            if "scope" in changes:
                fields["scope"] = _checked_scope(changes["scope"])
            fields.update(_checked_logout({k: v for k, v in changes.items() if k in LOGOUT_FIELDS or k in SECURITY_FLAGS}))
            if "consent_required" in changes:
                fields["consent_required"] = _checked_flag(changes["consent_required"], "consent_required")
            if "response_modes" in changes:
                fields["response_modes"] = _checked_response_modes(changes["response_modes"])
            for k, v in fields.items():
                setattr(row, k, v)
            view = self._view(tenant, row)
        self._changed(tenant, client_id)
        return view

    def rotate_secret(self, tenant: "TenantView", client_id: str) -> str:
        """A new secret for a confidential client (the old one stops working); shown once."""
        secret = random_token(32)
        self.revision.bump()
        with self.db.session() as s:
            row = s.scalar(select(Client).where(Client.tenant_id == tenant.id, Client.client_id == client_id).with_for_update())
            if row is None:
                raise ClientError(f"unknown client {client_id!r} in tenant {tenant.slug!r}", status=404, field="client_id")
            if row.token_endpoint_auth_method == "none":
                raise ClientError(f"client {client_id!r} is public and has no secret", field="client_id")
            row.secret_hash = self.secrets.digest(secret, SECRET_PURPOSE)
        self._changed(tenant, client_id)
        return secret

    def delete(self, tenant: "TenantView", client_id: str) -> None:
        """Remove a client (it stops working at the token endpoint at once, on every worker)."""
        self.revision.bump()
        with self.db.session() as s:
            row = s.scalar(select(Client).where(Client.tenant_id == tenant.id, Client.client_id == client_id))
            if row is None:
                raise ClientError(f"unknown client {client_id!r} in tenant {tenant.slug!r}", status=404, field="client_id")
            s.delete(row)
            s.execute(delete(Consent).where(Consent.tenant_id == tenant.id, Consent.client_id == client_id))
        self._changed(tenant, client_id)

    def _changed(self, tenant: "TenantView", client_id: str) -> None:
        """After a committed change: drop this process's entry and tell every other worker (the second bump)."""
        self.invalidate(tenant, client_id)
        self.revision.bump()

    # -- rules ----------------------------------------------------------------------------------

    def _checked(
        self,
        public: bool,
        redirect_uris: list[str],
        post_logout_redirect_uris: list[str],
        grant_types: list[str],
        auth_method: str | None,
        require_pkce: bool,
        name: str,
    ) -> dict[str, Any]:
        grant_types = _known(grant_types, GRANT_TYPES, "grant_types", "grant type")
        if "refresh_token" in grant_types and "authorization_code" not in grant_types:
            raise ClientError("grant type 'refresh_token' needs 'authorization_code'", field="grant_types")
        method = auth_method or ("none" if public else "client_secret_basic")
        if method not in AUTH_METHODS:
            raise ClientError(f"unsupported authentication method {method!r}: use {', '.join(AUTH_METHODS)}", field="auth_method")
        if public and method != "none":
            raise ClientError("a public client authenticates with 'none'", field="auth_method")
        if not public and method == "none":
            raise ClientError("a confidential client authenticates with a secret; use --public for a public client", field="auth_method")
        if public and "client_credentials" in grant_types:
            raise ClientError("a public client cannot use the client_credentials grant", field="grant_types")
        redirect_uris = list(dict.fromkeys(check_redirect_uri(u) for u in redirect_uris))
        if "authorization_code" in grant_types and not redirect_uris:
            raise ClientError("the authorization_code grant needs at least one redirect URI", field="redirect_uris")
        post_logout = list(dict.fromkeys(check_redirect_uri(u, "post_logout_redirect_uris") for u in post_logout_redirect_uris))
        if not isinstance(name, str) or len(name) > 200:
            raise ClientError("the client name must be at most 200 characters", field="name")
        return {
            "redirect_uris": redirect_uris,
            "post_logout_redirect_uris": post_logout,
            "grant_types": grant_types,
            "token_endpoint_auth_method": method,
            "require_pkce": True if public else bool(require_pkce),
            "name": name,
        }
