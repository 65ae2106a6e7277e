"""Process-wide settings, read once from ``IDP_*`` environment variables.

Every setting is documented here with its default; the README's configuration
table mirrors this file. Per-tenant behaviour lives in the tenant configuration
(:mod:`idp.tenants.config`), not here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


class SettingsError(ValueError):
    """A setting is missing or has a value the server refuses to start with."""


def _default_instance_path() -> str:
    return str(Path(os.environ.get("IDP_INSTANCE_PATH", Path.cwd() / "instance")).resolve())


@dataclass(frozen=True)
class Settings:
    """Settings of one IdP process (all workers of a deployment share them)."""

    #: ``development`` or ``production``. Production refuses unsafe settings.
    env: str = "development"
    #: Folder for the embedded SQLite files and the dev outbox.
    instance_path: str = field(default_factory=_default_instance_path)
    #: SQLAlchemy URL of the persistent database. Default: ``sqlite:///{instance}/idp.db``.
    database_url: str = ""
    #: Redis URL for ephemeral state. Unset: an embedded SQLite store shared by the host's workers.
    redis_url: str = ""
    #: Secret for cookies, CSRF and the key that encrypts private keys and TOTP seeds at rest.
    secret_key: str = ""
    #: Public base URL; issuers are ``{public_url}/realms/{tenant}``.
    public_url: str = "http://127.0.0.1:8080"
    #: ``ses`` (AWS SES v2) or ``outbox`` (files in the instance folder; development only).
    mail_backend: str = "outbox"
    #: ``sns`` (AWS SNS) or ``outbox`` (development only).
    sms_backend: str = "outbox"
    #: Default sender address; tenants may override it.
    mail_from: str = "no-reply@idp.localhost"
    #: Log level of the ``idp`` loggers.
    log_level: str = "INFO"
    #: Trust ``X-Forwarded-For`` from this many proxies in front of the workers.
    proxy_count: int = 0
    #: Seconds an authentication stays fresh enough for a change of credentials in the account console
    #: (password, second factors, recovery codes); older, the user signs in again first (R-38, R-54).
    account_reauth_max_age: int = 300

    ENV_PREFIX = "IDP_"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Build settings from ``IDP_*`` variables, then apply ``overrides``."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(cls.ENV_PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = int(raw) if f.type in ("int", int) else raw
        values.update(overrides)
        return cls(**values).resolved()

    def resolved(self) -> "Settings":
        """Fill derived defaults (database URL from the instance path)."""
        changes: dict[str, Any] = {}
        if not self.database_url:
            changes["database_url"] = f"sqlite:///{Path(self.instance_path) / 'idp.db'}"
        if self.public_url.endswith("/"):
            changes["public_url"] = self.public_url.rstrip("/")
        return replace(self, **changes) if changes else self

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def effective_secret_key(self) -> str:
        """The secret key; in development a fixed, clearly-marked one when unset."""
        return self.secret_key or "development-only-secret-key-do-not-use-in-production"

    @property
    def outbox_path(self) -> Path:
        return Path(self.instance_path) / "outbox"

    @property
    def store_path(self) -> Path:
        return Path(self.instance_path) / "ephemeral.db"

    def validate(self) -> None:
        """Refuse settings a server must not start with; each message names the setting."""
        if self.env not in ("development", "production"):
            raise SettingsError(f"IDP_ENV must be 'development' or 'production', not {self.env!r}")
        if self.mail_backend not in ("ses", "outbox"):
            raise SettingsError(f"IDP_MAIL_BACKEND must be 'ses' or 'outbox', not {self.mail_backend!r}")
        if self.sms_backend not in ("sns", "outbox"):
            raise SettingsError(f"IDP_SMS_BACKEND must be 'sns' or 'outbox', not {self.sms_backend!r}")
        if not 0 < self.account_reauth_max_age <= 3600:
            raise SettingsError("IDP_ACCOUNT_REAUTH_MAX_AGE must be between 1 and 3600 seconds")
        if not self.public_url.startswith(("http://", "https://")):
            raise SettingsError("IDP_PUBLIC_URL must be an absolute http(s) URL")
        if self.is_production:
            if len(self.secret_key) < 32:
                raise SettingsError("IDP_SECRET_KEY must be set (32 characters or more) when IDP_ENV=production")
            if not self.public_url.startswith("https://"):
                raise SettingsError("IDP_PUBLIC_URL must be https when IDP_ENV=production")
            if self.mail_backend == "outbox" or self.sms_backend == "outbox":
                raise SettingsError(
                    "the dev outbox is refused when IDP_ENV=production: set IDP_MAIL_BACKEND=ses and IDP_SMS_BACKEND=sns"
                )
