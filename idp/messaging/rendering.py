"""Messages as Jinja templates, one set of files per language, with the tenant's branding.

``templates/<locale>/<name>.subject``, ``.txt`` and ``.html`` make an email; ``<name>.sms`` an
SMS. HTML is autoescaped; text, subjects and SMS are not (they are never read as HTML). A
template's context is checked against its :class:`TemplateSpec` before rendering, and undefined
names are errors, so a caller that forgets a value fails in its tests, not in a user's inbox.

The core's messages (:data:`TEMPLATES`, rendered by :func:`render` and :func:`render_sms`) are the
ones the core sends. A flow package ships its own beside its code and renders them through
:func:`message_templates` (its folder first, then the core's, whose ``<locale>/_base.html`` and
``shared/`` layouts every message extends), e.g. the self-recovery link and notices.

Example::

    brand = Brand.of(tenant)
    msg = render("totp_replay_notice", "fr", brand=brand, when=now)
    services.mailer.send(Email(to=user.email, subject=msg.subject, text=msg.text, html=msg.html,
                               from_address=tenant.config.mail.from_address,
                               configuration_set=tenant.config.mail.configuration_set))
    services.texter.send(Sms(number, render_sms("sms_code", "fr", brand=brand, code=code,
                                                expires_minutes=5), tenant.config.sms.sender_id))

    # in a flow package: its templates in messages/<locale>/, beside its code
    MESSAGES = message_templates(Path(__file__).parent / "messages",
                                 {"recovery_link": TemplateSpec(("email",), ("link", "expires_minutes"))})
    msg = MESSAGES.render("recovery_link", "fr", brand=brand, link=url, expires_minutes=5)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel.dates import format_datetime
from jinja2 import (
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    pass_context,
    select_autoescape,
)
from jinja2.runtime import Context

TEMPLATE_DIR = Path(__file__).parent / "templates"
LOCALES = ("en", "fr")
DEFAULT_COLOR = "#1f4fd1"
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_WHEN_FORMAT = {"en": "MMMM d, y 'at' HH:mm 'UTC'", "fr": "d MMMM y 'à' HH:mm 'UTC'"}


@dataclass(frozen=True)
class TemplateSpec:
    """What a message template needs: its channels and the context names it reads (``brand`` always)."""

    channels: tuple[str, ...]
    required: tuple[str, ...]
    optional: Mapping[str, Any] = field(default_factory=dict)


#: The core's message templates: channels (``email``: .subject/.txt/.html, ``sms``: .sms) and context.
#: ``when`` is an aware datetime (shown in UTC), ``*_link`` absolute URLs, ``expires_minutes`` an int.
TEMPLATES: Mapping[str, TemplateSpec] = {
    "sms_code": TemplateSpec(("sms",), ("code", "expires_minutes")),
    "failed_second_factor_notice": TemplateSpec(
        ("email",), ("when", "browser"), {"location": ""}
    ),
    "totp_replay_notice": TemplateSpec(("email",), ("when",), {"browser": ""}),
    # to the OLD address when the account's email changes
    "email_changed_notice": TemplateSpec(("email",), ("when", "lock_link")),
    # to the account's address when its phone number changes
    "phone_changed_notice": TemplateSpec(("email",), ("when", "lock_link")),
    # to the account's address when its holder changes credentials in the account console:
    # change is "password", "factor_added", "factor_removed" or "recovery_codes"
    "account_change_notice": TemplateSpec(("email",), ("when", "lock_link", "change"), {"browser": ""}),
}


@dataclass(frozen=True)
class Brand:
    """The tenant as its messages show it (display name, logo, primary colour, support URL)."""

    name: str
    logo_url: str = ""
    primary_color: str = DEFAULT_COLOR
    support_url: str = ""

    def __post_init__(self) -> None:
        # Values land in style and src attributes: only what the tenant config would accept.
        if not _COLOR.match(self.primary_color):
            object.__setattr__(self, "primary_color", DEFAULT_COLOR)
        if self.logo_url and not self.logo_url.startswith("https://"):
            object.__setattr__(self, "logo_url", "")
        if self.support_url and not self.support_url.startswith(
            ("https://", "http://", "mailto:")
        ):
            object.__setattr__(self, "support_url", "")

    @classmethod
    def of(cls, tenant: Any) -> Brand:
        """The brand of a tenant (an :class:`idp.tenants.service.TenantView`)."""
        b = tenant.config.branding
        return cls(
            name=tenant.brand_name,
            logo_url=b.logo_url,
            primary_color=b.primary_color,
            support_url=b.support_url,
        )


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


def normalize_locale(locale: str) -> str:
    """``fr-FR``, ``fr_CA`` → ``fr``; anything not supported → ``en``."""
    lang = (locale or "").replace("_", "-").split("-")[0].lower()
    return lang if lang in LOCALES else "en"


def _safe_url(value: str) -> str:
    """Only absolute http(s) and mailto URLs make it into a message's links."""
    return value if str(value).startswith(("https://", "http://", "mailto:")) else "#"


@pass_context
def _when(ctx: Context, value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("message times must be timezone-aware datetimes")
    locale = ctx["locale"]
    return str(format_datetime(value, _WHEN_FORMAT[locale], tzinfo=UTC, locale=locale))


def _environment(folders: Sequence[Path]) -> Environment:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(str(f)) for f in folders]),
        autoescape=select_autoescape(
            enabled_extensions=("html",), default_for_string=False, default=False
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    env.filters["safe_url"] = _safe_url
    env.filters["when"] = _when
    return env


class MessageTemplates:
    """Message templates found in ``folders`` (searched in order), each checked against its spec."""

    def __init__(self, folders: Sequence[Path], specs: Mapping[str, TemplateSpec]) -> None:
        self.folders = tuple(folders)
        self.specs: Mapping[str, TemplateSpec] = dict(specs)
        self._env = _environment(self.folders)

    def extend(self, folder: Path, specs: Mapping[str, TemplateSpec]) -> "MessageTemplates":
        """These templates plus the ones in ``folder`` (searched first), under new names only."""
        clash = sorted(set(specs) & set(self.specs))
        if clash:
            raise ValueError(f"message templates {', '.join(clash)} already exist")
        return MessageTemplates((folder, *self.folders), {**self.specs, **specs})

    def _context(self, name: str, channel: str, locale: str, context: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        spec = self.specs.get(name)
        if spec is None:
            raise KeyError(f"no message template {name!r}; known: {', '.join(sorted(self.specs))}")
        if channel not in spec.channels:
            raise ValueError(f"message template {name!r} has no {channel} variant")
        if not isinstance(context.get("brand"), Brand):
            raise TypeError(f"message template {name!r} needs brand=Brand(...)")
        missing = [k for k in spec.required if k not in context]
        if missing:
            raise TypeError(f"message template {name!r} needs {', '.join(missing)}")
        values = {**spec.optional, **context}
        lang = normalize_locale(locale)
        values["locale"] = lang
        return lang, values

    def render(self, name: str, locale: str, **context: Any) -> RenderedMessage:
        """Subject, text and HTML of the email template ``name`` in ``locale`` (``en`` or ``fr``)."""
        lang, values = self._context(name, "email", locale, context)
        subject = self._env.get_template(f"{lang}/{name}.subject").render(values).strip()
        text = self._env.get_template(f"{lang}/{name}.txt").render(values).strip() + "\n"
        html = self._env.get_template(f"{lang}/{name}.html").render({**values, "subject": subject})
        return RenderedMessage(subject=subject, text=text, html=html)

    def render_sms(self, name: str, locale: str, **context: Any) -> str:
        """The text of the SMS template ``name`` in ``locale``, on one line."""
        lang, values = self._context(name, "sms", locale, context)
        text = self._env.get_template(f"{lang}/{name}.sms").render(values)
        return " ".join(text.split())

    def render_page(self, template: str, **context: Any) -> str:
        """An HTML page from these folders (the dev outbox page)."""
        return self._env.get_template(template).render(context)


#: The core's messages.
CORE_MESSAGES = MessageTemplates((TEMPLATE_DIR,), TEMPLATES)


def message_templates(folder: Path, specs: Mapping[str, TemplateSpec]) -> MessageTemplates:
    """A flow package's own messages (in ``folder``, laid out as the core's) on top of the core's."""
    return CORE_MESSAGES.extend(folder, specs)


def render(name: str, locale: str, **context: Any) -> RenderedMessage:
    """Subject, text and HTML of the core's email template ``name`` in ``locale`` (``en`` or ``fr``)."""
    return CORE_MESSAGES.render(name, locale, **context)


def render_sms(name: str, locale: str, **context: Any) -> str:
    """The text of the core's SMS template ``name`` in ``locale``, on one line."""
    return CORE_MESSAGES.render_sms(name, locale, **context)


def render_page(template: str, **context: Any) -> str:
    """An HTML page from the core's message folder (the dev outbox page)."""
    return CORE_MESSAGES.render_page(template, **context)
