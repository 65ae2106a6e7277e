"""The self-recovery flow's own messages, shipped in ``messages/<locale>/`` beside this module.

The emailed link (seed: « Réinitialiser vos moyens de connexion »), and the notices sent by email and
SMS when a recovery ends (R-15), each with the support contact and the "not you?" lock link. They
extend the core's message layout; the core neither lists nor sends them.
"""

from __future__ import annotations

from pathlib import Path

from idp.flowengine.contract import TemplateSpec, message_templates

MESSAGES = message_templates(
    Path(__file__).resolve().parent / "messages",
    {
        "recovery_link": TemplateSpec(("email",), ("link", "expires_minutes")),
        "factor_reset_notice": TemplateSpec(("email", "sms"), ("when", "lock_link")),
        "password_reset_notice": TemplateSpec(("email", "sms"), ("when", "lock_link")),
    },
)
