"""Messaging: mail through AWS SES, SMS through AWS SNS, or the dev outbox (issue 3, item 5).

Callers use ``services.mailer.send(Email(...))`` and ``services.texter.send(Sms(...))`` with
text from :func:`render` / :func:`render_sms`; failures are :class:`DeliveryRefused` (permanent,
not retried) or :class:`DeliveryFailed` (transient, after bounded retries). Recipients are
masked in logs and bodies never logged (R-46).
"""

from __future__ import annotations

from idp.messaging.contract import (
    REFUSAL_REASONS,
    DeliveryError,
    DeliveryFailed,
    DeliveryRefused,
    Email,
    Mailer,
    Sms,
    Texter,
)
from idp.messaging.masking import mask_email, mask_phone
from idp.messaging.outbox import OutboxMailer, OutboxMessage, OutboxTexter, read_outbox
from idp.messaging.rendering import (
    LOCALES,
    TEMPLATES,
    Brand,
    MessageTemplates,
    RenderedMessage,
    TemplateSpec,
    message_templates,
    render,
    render_sms,
)
from idp.settings import Settings, SettingsError

__all__ = [
    "LOCALES",
    "REFUSAL_REASONS",
    "TEMPLATES",
    "Brand",
    "DeliveryError",
    "DeliveryFailed",
    "DeliveryRefused",
    "Email",
    "Mailer",
    "MessageTemplates",
    "OutboxMailer",
    "OutboxMessage",
    "OutboxTexter",
    "RenderedMessage",
    "Sms",
    "TemplateSpec",
    "Texter",
    "make_mailer",
    "make_texter",
    "mask_email",
    "mask_phone",
    "message_templates",
    "read_outbox",
    "render",
    "render_sms",
]

_OUTBOX_REFUSED = "the dev outbox is refused when IDP_ENV=production: set IDP_MAIL_BACKEND=ses and IDP_SMS_BACKEND=sns"


def make_mailer(settings: Settings) -> Mailer:
    """The mailer ``IDP_MAIL_BACKEND`` names: ``ses`` or ``outbox`` (refused in production)."""
    if settings.mail_backend == "ses":
        from idp.messaging.ses import SesMailer

        return SesMailer(settings.mail_from)
    if settings.mail_backend == "outbox":
        if settings.is_production:
            raise SettingsError(_OUTBOX_REFUSED)
        return OutboxMailer(settings.outbox_path, settings.mail_from)
    raise SettingsError(
        f"IDP_MAIL_BACKEND must be 'ses' or 'outbox', not {settings.mail_backend!r}"
    )


def make_texter(settings: Settings) -> Texter:
    """The texter ``IDP_SMS_BACKEND`` names: ``sns`` or ``outbox`` (refused in production)."""
    if settings.sms_backend == "sns":
        from idp.messaging.sns import SnsTexter

        return SnsTexter()
    if settings.sms_backend == "outbox":
        if settings.is_production:
            raise SettingsError(_OUTBOX_REFUSED)
        return OutboxTexter(settings.outbox_path)
    raise SettingsError(
        f"IDP_SMS_BACKEND must be 'sns' or 'outbox', not {settings.sms_backend!r}"
    )
