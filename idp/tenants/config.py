"""Tenant configuration: one frozen, typed object, validated when it is loaded.

Every field has a documented default. Loading rejects unknown keys and bad
values with a :class:`ConfigError` that names the field (``flows.self-recovery.link_ttl``),
so the admin API can answer 422 and the CLI one plain line.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, get_args, get_origin, get_type_hints


class ConfigError(ValueError):
    """A tenant configuration value is invalid; ``path`` names the field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")

#: One day, thirty days and a year, in seconds (bounds of lifetimes).
HOUR = 3600
DAY = 86400
MONTH = 30 * DAY
YEAR = 365 * DAY


def bounded(default: int, low: int, high: int, unit: str = "") -> Any:
    """A whole-number setting with its inclusive bounds, checked on every load (a ``ConfigError`` naming the field)
    and published as ``minimum``/``maximum`` in the admin API's schema. ``unit`` words the error (``seconds``)."""
    return field(default=default, metadata={"bounds": (low, high), "unit": unit})


def bounds_of(f: dataclasses.Field[Any]) -> tuple[int, int] | None:
    """The inclusive ``(low, high)`` of a field declared with :func:`bounded`, else None."""
    return f.metadata.get("bounds")  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Branding:
    """What the hosted pages and messages show of the tenant."""

    #: Name shown on pages, in messages and as the TOTP issuer. Empty: the tenant's display name.
    display_name: str = ""
    #: Absolute https URL of the logo, or empty.
    logo_url: str = ""
    #: SHA-256 (hex) of a logo uploaded through the console and served by this server; wins over ``logo_url``. Empty: none.
    uploaded_logo: str = ""
    #: Primary colour of buttons and links (``#RRGGBB``).
    primary_color: str = "#1f4fd1"
    #: Where "Contact support" points (https URL or ``mailto:``). Empty hides the link.
    support_url: str = ""

    def check(self, path: str) -> None:
        if not _COLOR.match(self.primary_color):
            raise ConfigError(f"{path}.primary_color", "must be a colour like #1f4fd1")
        if self.logo_url and not self.logo_url.startswith("https://"):
            raise ConfigError(f"{path}.logo_url", "must be an https URL")
        if self.uploaded_logo and not re.fullmatch(r"[0-9a-f]{64}", self.uploaded_logo):
            raise ConfigError(f"{path}.uploaded_logo", "must be the SHA-256 of an uploaded logo")
        if self.support_url and not self.support_url.startswith(("https://", "http://", "mailto:")):
            raise ConfigError(f"{path}.support_url", "must be an http(s) or mailto: URL")


@dataclass(frozen=True)
class Tokens:
    """Token lifetimes and signing."""

    #: ``RS256`` (default) or ``ES256``.
    signing_alg: str = "RS256"
    #: Authorization code lifetime in seconds (R-62: at most 60 for L3).
    code_ttl: int = bounded(60, 1, 600, "seconds")
    #: Access token lifetime in seconds (at most a day).
    access_token_ttl: int = bounded(300, 1, DAY, "seconds")
    #: ID token lifetime in seconds (at most a day).
    id_token_ttl: int = bounded(300, 1, DAY, "seconds")
    #: Absolute refresh-token lifetime in seconds (rotation keeps the family's start; at most a year).
    refresh_token_ttl: int = bounded(86400, 1, YEAR, "seconds")
    #: SSO session: idle timeout and absolute timeout, seconds (R-21: at most an hour without use and a
    #: day in all, NIST SP 800-63B-4 at AAL2; the defaults, 30 min and 12 h, also meet rev 3's limits).
    sso_idle_ttl: int = bounded(1800, 1, HOUR, "seconds")
    sso_max_ttl: int = bounded(43200, 1, DAY, "seconds")
    #: DPoP proofs must carry a nonce this server issued (RFC 9449 §8, §9): the token, PAR and UserInfo endpoints
    #: answer ``use_dpop_nonce`` with a ``DPoP-Nonce`` header to a proof without a fresh one.
    dpop_nonce_required: bool = False
    #: Seconds a pushed authorization request's ``request_uri`` stays usable (RFC 9126 §2.2, ``expires_in``).
    par_ttl: int = bounded(60, 1, 600, "seconds")

    def check(self, path: str) -> None:
        if self.signing_alg not in ("RS256", "ES256"):
            raise ConfigError(f"{path}.signing_alg", "must be RS256 or ES256")
        if self.sso_idle_ttl > self.sso_max_ttl:
            raise ConfigError(f"{path}.sso_idle_ttl", "must not exceed tokens.sso_max_ttl")


@dataclass(frozen=True)
class Passwords:
    """Password policy (R-01 to R-04)."""

    #: Minimum length in characters (never below 8).
    min_length: int = bounded(12, 8, 1024, "characters")
    #: Maximum length in characters (at least ``min_length``).
    max_length: int = bounded(128, 8, 1024, "characters")

    def check(self, path: str) -> None:
        if self.max_length < self.min_length:
            raise ConfigError(f"{path}.max_length", "must be between min_length and 1024")


@dataclass(frozen=True)
class Sms:
    """SMS sending and its anti-pumping guards."""

    #: Whether SMS codes may be used as a second factor (always as an alternative to TOTP, R-30).
    allowed_as_second_factor: bool = True
    #: Sender ID shown on phones where the country allows it.
    sender_id: str = ""
    #: Country calling codes numbers may belong to (``33``, ``1`` ...). Empty: any.
    allowed_country_codes: tuple[str, ...] = ()
    #: Codes sent to one number per day (anti-pumping).
    per_number_daily_cap: int = bounded(10, 1, 100)
    #: Codes sent for one account per day.
    per_account_daily_cap: int = bounded(10, 1, 100)
    #: Codes sent for the whole tenant per day.
    per_tenant_daily_cap: int = bounded(1000, 1, 1000000)
    #: Seconds before a code may be sent again (0: no cool-down).
    resend_cooldown: int = bounded(30, 0, 3600, "seconds")
    #: Code lifetime in seconds (R-11).
    code_ttl: int = bounded(300, 1, 600, "seconds")
    #: Wrong codes before a code is void.
    max_attempts: int = bounded(5, 1, 10)

    def check(self, path: str) -> None:
        for cc in self.allowed_country_codes:
            if not cc.isdigit() or len(cc) > 3:
                raise ConfigError(f"{path}.allowed_country_codes", f"{cc!r} is not a country calling code")
        if self.sender_id and not re.fullmatch(r"[A-Za-z0-9]{1,11}", self.sender_id):
            raise ConfigError(f"{path}.sender_id", "must be 1 to 11 letters or digits")


@dataclass(frozen=True)
class Mail:
    """Per-tenant mail settings (the process defaults apply when empty)."""

    #: Sender address; empty: ``IDP_MAIL_FROM``.
    from_address: str = ""
    #: SES configuration set for event publishing, or empty.
    configuration_set: str = ""

    def check(self, path: str) -> None:
        if self.from_address and "@" not in self.from_address:
            raise ConfigError(f"{path}.from_address", "must be an email address")


@dataclass(frozen=True)
class FlowBinding:
    """A flow as the tenant sets it: on or off, from when, its settings and, optionally, its own bindings."""

    enabled: bool = False
    #: Activation date agreed with the customer (UTC ISO 8601); the flow is live from then on.
    enabled_from: str = ""
    #: Settings of the flow, checked by the flow plugin's own ``Config``.
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: The tenant's own bindings of the flow (JSON list; :mod:`idp.flowengine.bindings`), replacing the
    #: plugin's defaults; empty: the defaults. Checked by the flow planner on every change.
    bindings: list[Any] = field(default_factory=list)

    def is_live(self, now: datetime) -> bool:
        if not self.enabled:
            return False
        if not self.enabled_from:
            return True
        return datetime.fromisoformat(self.enabled_from) <= now

    def check(self, path: str) -> None:
        if self.enabled_from:
            try:
                when = datetime.fromisoformat(self.enabled_from)
            except ValueError:
                raise ConfigError(f"{path}.enabled_from", "must be an ISO 8601 date and time") from None
            if when.tzinfo is None:
                raise ConfigError(f"{path}.enabled_from", "must carry a time zone (e.g. 2026-12-01T08:00:00+00:00)")


@dataclass(frozen=True)
class Mfa:
    """Second-factor policy of sign-in (issue 3): ``off``, ``optional`` or ``required``.

    - ``off``: no second factor is asked, unless the relying party asks for one (``acr_values``).
    - ``optional``: users who have a second factor prove it; users without one sign in with the password.
    - ``required``: every user proves a second factor; a user without one enrols an authenticator first.
    """

    policy: str = "optional"

    def __post_init__(self) -> None:
        self.check("mfa")

    def check(self, path: str) -> None:
        if self.policy not in ("off", "optional", "required"):
            raise ConfigError(f"{path}.policy", "must be 'off', 'optional' or 'required'")


@dataclass(frozen=True)
class TenantConfig:
    """The whole configuration of one tenant."""

    #: Language of pages and messages when nothing else decides (``en`` or ``fr``).
    default_locale: str = "en"
    branding: Branding = field(default_factory=Branding)
    tokens: Tokens = field(default_factory=Tokens)
    passwords: Passwords = field(default_factory=Passwords)
    sms: Sms = field(default_factory=Sms)
    mail: Mail = field(default_factory=Mail)
    #: Second-factor policy of sign-in.
    mfa: Mfa = field(default_factory=Mfa)
    #: Whether users of this tenant keep local passwords (false for tenants federating every login).
    local_passwords: bool = True
    #: Flows by registered name. ``browser-login`` is on unless turned off.
    flows: Mapping[str, FlowBinding] = field(
        default_factory=lambda: {"browser-login": FlowBinding(enabled=True)}
    )

    def check(self) -> None:
        if self.default_locale not in ("en", "fr"):
            raise ConfigError("default_locale", "must be 'en' or 'fr'")
        for name in ("branding", "tokens", "passwords", "sms", "mail"):
            getattr(self, name).check(name)
        for flow_name, binding in self.flows.items():
            binding.check(f"flows.{flow_name}")

    def flow(self, name: str) -> FlowBinding:
        return self.flows.get(name, FlowBinding())

    # -- loading and dumping ------------------------------------------------

    @classmethod
    def load(cls, data: Mapping[str, Any] | None, stored: bool = False) -> "TenantConfig":
        """Build and validate a configuration from plain data (JSON); unknown keys are errors.

        ``stored``: data read back from the database, saved by an earlier release, whose values may lie
        outside bounds added since; it loads as it is (the tenant keeps working unchanged), and the next
        change to it must bring every value within bounds (:meth:`patched` checks them all).
        """
        data = dict(data or {})
        flows = data.get("flows")
        if isinstance(flows, Mapping) and "browser-login" not in flows:
            data["flows"] = {"browser-login": {"enabled": True}, **flows}  # on unless turned off
        config = _build(cls, data, "", check_bounds=not stored)
        config.check()
        return config

    def dump(self) -> dict[str, Any]:
        """Plain data (JSON-ready) that :meth:`load` reads back to an equal object."""
        return _dump(self)

    def merged(self, patch: Mapping[str, Any]) -> "TenantConfig":
        """A new, validated configuration with ``patch`` deep-merged over this one."""
        return TenantConfig.load(_deep_merge(self.dump(), patch))

    @classmethod
    def patched(cls, data: Mapping[str, Any] | None, patch: Mapping[str, Any]) -> "TenantConfig":
        """``patch`` deep-merged over stored plain data, then validated: a patch may repair stored data
        that no longer loads (e.g. a value outside bounds introduced since it was saved)."""
        return cls.load(_deep_merge(dict(data or {}), patch))


def _deep_merge(base: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _build(cls: type, data: Any, path: str, check_bounds: bool = True) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(path or "(root)", "must be an object")
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in data:
        if key not in known:
            raise ConfigError(f"{path}{key}", "is not a known setting")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        values[f.name] = _coerce(hints[f.name], data[f.name], f"{path}{f.name}", check_bounds)
        if check_bounds:
            _check_bounds(f, values[f.name], f"{path}{f.name}")
    return cls(**values)


def _check_bounds(f: dataclasses.Field[Any], value: Any, path: str) -> None:
    """Refuse a value of a :func:`bounded` field outside its bounds, naming the field."""
    bounds = bounds_of(f)
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        unit = f" {f.metadata['unit']}" if f.metadata.get("unit") else ""
        raise ConfigError(path, f"must be between {bounds[0]} and {bounds[1]}{unit}")


def _coerce(hint: Any, value: Any, path: str, check_bounds: bool = True) -> Any:
    origin = get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, path + ".", check_bounds)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(path, "must be true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, "must be a whole number")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(path, "must be a string")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise ConfigError(path, "must be a list of strings")
        return tuple(value)
    if origin in (Mapping, dict, collections.abc.Mapping):
        args = get_args(hint)
        if not isinstance(value, Mapping):
            raise ConfigError(path, "must be an object")
        if args and dataclasses.is_dataclass(args[1]):
            return {k: _build(args[1], v, f"{path}.{k}.", check_bounds) for k, v in value.items()}
        return dict(value)
    return value


def _dump(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _dump(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {k: _dump(v) for k, v in obj.items()}
    if isinstance(obj, tuple):
        return [_dump(v) for v in obj]
    return obj
