"""Message templates in French and English with tenant branding (issue 3 item 5, issue 4 items 3 and 7)."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest

from flows.self_recovery.mail import MESSAGES as RECOVERY_MESSAGES
from idp.messaging import LOCALES, Brand
from idp.messaging import TEMPLATES as CORE_TEMPLATES
from idp.messaging.rendering import normalize_locale

#: Every message: the core's, and the self-recovery flow's own (shipped in its package, on top of the core's).
TEMPLATES = RECOVERY_MESSAGES.specs
render = RECOVERY_MESSAGES.render
render_sms = RECOVERY_MESSAGES.render_sms

BRAND = Brand(
    name="MyTrust iD",
    logo_url="https://cdn.example/logo.png",
    primary_color="#0a7c42",
    support_url="https://support.example/help",
)
WHEN = datetime(2026, 3, 3, 14, 5, tzinfo=UTC)
CONTEXT: dict[str, Any] = {
    "link": "https://idp.example/realms/acme/recover/abc?t=1&u=2",
    "lock_link": "https://idp.example/realms/acme/lock/xyz",
    "expires_minutes": 5,
    "code": "493021",
    "when": WHEN,
    "browser": "Firefox 128 on Linux",
    "change": "password",
}


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def visible_text(html: str) -> str:
    """What a mail client shows of ``html``: text with entities decoded, whitespace collapsed."""
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def context_for(name: str) -> dict[str, Any]:
    return {k: v for k, v in CONTEXT.items() if k in TEMPLATES[name].required}


EMAIL_TEMPLATES = [n for n, s in TEMPLATES.items() if "email" in s.channels]
SMS_TEMPLATES = [n for n, s in TEMPLATES.items() if "sms" in s.channels]


def test_the_catalogue_covers_the_messages_of_issues_3_and_4() -> None:
    """The core sends the second-factor and account notices (the account console's included); the recovery flow ships its link and notices."""
    assert set(CORE_TEMPLATES) == {
        "sms_code",
        "failed_second_factor_notice",
        "totp_replay_notice",
        "email_changed_notice",
        "phone_changed_notice",
        "account_change_notice",  # the account console's (issue 14, item 4)
    }
    assert set(TEMPLATES) - set(CORE_TEMPLATES) == {"recovery_link", "factor_reset_notice", "password_reset_notice"}
    from idp.messaging.rendering import TEMPLATE_DIR

    assert not list(TEMPLATE_DIR.rglob("recovery_link.*")), "the recovery link belongs to the flow's package"
    with pytest.raises(KeyError):
        from idp.messaging import render as core_render

        core_render("recovery_link", "en", brand=BRAND, link=CONTEXT["link"], expires_minutes=5)


def test_a_plugin_cannot_replace_a_core_message() -> None:
    from idp.messaging import message_templates

    with pytest.raises(ValueError, match="sms_code"):
        message_templates(RECOVERY_MESSAGES.folders[0], {"sms_code": CORE_TEMPLATES["sms_code"]})


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", EMAIL_TEMPLATES)
def test_every_email_renders_in_both_languages_with_the_branding(
    name: str, locale: str
) -> None:
    msg = render(name, locale, brand=BRAND, **context_for(name))
    assert msg.subject and "\n" not in msg.subject
    assert "MyTrust iD" in msg.text and "MyTrust iD" in msg.html
    assert 'src="https://cdn.example/logo.png"' in msg.html
    assert "#0a7c42" in msg.html
    assert 'href="https://support.example/help"' in msg.html
    assert "https://support.example/help" in msg.text
    assert f'<html lang="{locale}">' in msg.html
    assert msg.subject in visible_text(msg.html)
    other = render(
        name, "fr" if locale == "en" else "en", brand=BRAND, **context_for(name)
    )
    assert other.subject != msg.subject and other.text != msg.text


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", SMS_TEMPLATES)
def test_every_sms_renders_in_both_languages_on_one_short_line(
    name: str, locale: str
) -> None:
    text = render_sms(name, locale, brand=BRAND, **context_for(name))
    assert "\n" not in text and len(text) <= 160
    assert "MyTrust iD" in text


RECOVERY = {
    "en": {
        "subject": "Reset your sign-in methods",
        "lines": [
            (
                "A reset of your sign-in methods was requested for your MyTrust iD account. "
                "If you made this request, please click the link below to update them."
            ),
            "This link expires in 5 minutes.",
            "Otherwise, please ignore this message; no change will be made to your account.",
        ],
        "button": ">Reset your sign-in methods</a>",
    },
    "fr": {
        "subject": "Réinitialiser vos moyens de connexion",
        "lines": [
            (
                "Une réinitialisation de vos moyens de connexion pour votre compte MyTrust iD. "
                "Si vous êtes à l'origine de cette requête, veuillez cliquer sur le lien ci-dessous pour le mettre à jour."
            ),
            "Ce lien expire dans 5 minutes.",
            "Sinon, veuillez ignorer ce message; aucun changement ne sera effectué sur votre compte.",
        ],
        "button": ">Réinitialiser vos moyens de connexion</a>",
    },
}


@pytest.mark.parametrize("locale", LOCALES)
def test_recovery_link_has_the_wording_of_the_seed(locale: str) -> None:
    """Issue 4 item 3, issue 16 item 3: the seed's subject, body (with the brand), button, expiry and "ignore" line, text and HTML."""
    expected = RECOVERY[locale]
    msg = render("recovery_link", locale, brand=BRAND, **context_for("recovery_link"))
    assert msg.subject == expected["subject"]
    for line in expected["lines"]:
        assert line in msg.text
        assert line in visible_text(msg.html)
    assert expected["button"] in msg.html
    # The link, escaped once in HTML and verbatim in text.
    assert CONTEXT["link"] in msg.text
    assert 'href="https://idp.example/realms/acme/recover/abc?t=1&amp;u=2"' in msg.html


@pytest.mark.parametrize(
    ("locale", "minutes", "expected"),
    [
        ("en", 1, "This link expires in 1 minute."),
        ("en", 0, "This link expires in 0 minutes."),
        ("en", 10, "This link expires in 10 minutes."),
        ("fr", 1, "Ce lien expire dans 1 minute."),
        ("fr", 0, "Ce lien expire dans 0 minute."),
        ("fr", 2, "Ce lien expire dans 2 minutes."),
    ],
)
def test_expiry_minutes_are_pluralised_per_language(
    locale: str, minutes: int, expected: str
) -> None:
    msg = render(
        "recovery_link",
        locale,
        brand=BRAND,
        link=CONTEXT["link"],
        expires_minutes=minutes,
    )
    assert expected in msg.text and expected in msg.html


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "493021 is your MyTrust iD verification code. It expires in 5 minutes."),
        (
            "fr",
            "493021 est votre code de vérification MyTrust iD. Il expire dans 5 minutes.",
        ),
    ],
)
def test_sms_code_wording(locale: str, expected: str) -> None:
    assert (
        render_sms("sms_code", locale, brand=BRAND, code="493021", expires_minutes=5)
        == expected
    )


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", ["factor_reset_notice", "password_reset_notice"])
def test_reset_notices_carry_the_lock_link_and_support_contact(
    name: str, locale: str
) -> None:
    """Issue 4 item 7 and R-15: "if this wasn't you" with the support contact and a lock link, email and SMS."""
    msg = render(name, locale, brand=BRAND, **context_for(name))
    assert CONTEXT["lock_link"] in msg.text
    assert f'href="{CONTEXT["lock_link"]}"' in msg.html
    assert (
        "If this wasn't you" if locale == "en" else "Si ce n'était pas vous"
    ) in msg.text
    sms = render_sms(name, locale, brand=BRAND, **context_for(name))
    assert CONTEXT["lock_link"] in sms


@pytest.mark.parametrize("locale", LOCALES)
def test_phone_changed_notice_carries_the_lock_link_and_support_contact(locale: str) -> None:
    """Issue 12 item 1, R-29: the account's address learns that its SMS number changed, with "not you?" and the support contact."""
    msg = render("phone_changed_notice", locale, brand=BRAND, **context_for("phone_changed_notice"))
    assert CONTEXT["lock_link"] in msg.text and f'href="{CONTEXT["lock_link"]}"' in msg.html
    assert BRAND.support_url in msg.text
    assert msg.subject == {"en": "The phone number of your account was changed", "fr": "Le numéro de téléphone de votre compte a été modifié"}[locale]


@pytest.mark.parametrize("locale", LOCALES)
def test_email_changed_notice_carries_the_lock_link_and_support_contact(locale: str) -> None:
    """Issue 12 item 1, R-15, R-29: the old address learns of the change, with "not you?" and the support contact."""
    msg = render("email_changed_notice", locale, brand=BRAND, **context_for("email_changed_notice"))
    assert CONTEXT["lock_link"] in msg.text and f'href="{CONTEXT["lock_link"]}"' in msg.html
    assert ("If this wasn't you" if locale == "en" else "Si ce n'était pas vous") in msg.text
    assert BRAND.support_url in msg.text
    assert msg.subject == {"en": "The email address of your account was changed", "fr": "L'adresse e-mail de votre compte a été modifiée"}[locale]


@pytest.mark.parametrize(
    ("locale", "when_text", "browser_label"),
    [
        ("en", "March 3, 2026 at 14:05 UTC", "Browser"),
        ("fr", "3 mars 2026 à 14:05 UTC", "Navigateur"),
    ],
)
def test_failed_second_factor_notice_says_when_and_which_browser(
    locale: str, when_text: str, browser_label: str
) -> None:
    """R-55: the notice after a correct password and a failed second factor gives time and browser."""
    msg = render(
        "failed_second_factor_notice",
        locale,
        brand=BRAND,
        when=WHEN,
        browser="Firefox 128 on Linux",
        location="Lyon, FR",
    )
    assert when_text in msg.text and when_text in msg.html
    assert f"{browser_label}" in msg.text and "Firefox 128 on Linux" in msg.text
    assert "Lyon, FR" in msg.text
    without = render(
        "failed_second_factor_notice", locale, brand=BRAND, when=WHEN, browser="Safari"
    )
    assert "Lyon" not in without.text


@pytest.mark.parametrize("locale", LOCALES)
def test_totp_replay_notice_browser_is_optional(locale: str) -> None:
    with_browser = render(
        "totp_replay_notice",
        locale,
        brand=BRAND,
        when=WHEN,
        browser="Chrome on Android",
    )
    assert "Chrome on Android" in with_browser.text
    assert render("totp_replay_notice", locale, brand=BRAND, when=WHEN).text


def test_html_is_autoescaped_and_text_is_not() -> None:
    brand = Brand(name="<b>Acme & Co</b>")
    msg = render(
        "totp_replay_notice",
        "en",
        brand=brand,
        when=WHEN,
        browser="<script>alert(1)</script>",
    )
    assert (
        "<script>" not in msg.html
        and "&lt;script&gt;alert(1)&lt;/script&gt;" in msg.html
    )
    assert "&lt;b&gt;Acme &amp; Co&lt;/b&gt;" in msg.html
    assert "<b>Acme & Co</b>" in msg.text and "<script>alert(1)</script>" in msg.text


def test_unsafe_branding_and_links_never_reach_attributes() -> None:
    brand = Brand(
        name="Acme",
        logo_url="http://insecure/logo.png",
        primary_color="red;background:url(x)",
        support_url="javascript:alert(1)",
    )
    assert (brand.logo_url, brand.primary_color, brand.support_url) == (
        "",
        "#1f4fd1",
        "",
    )
    msg = render(
        "recovery_link",
        "en",
        brand=brand,
        link="javascript:alert(1)",
        expires_minutes=5,
    )
    assert "javascript:" not in msg.html.replace("javascript:alert(1)</a>", "")
    assert 'href="#"' in msg.html
    # Without a logo the name is shown; without a support URL there is no support link.
    assert ">Acme</span>" in msg.html and "Contact support" not in msg.html


def test_missing_context_unknown_templates_and_naive_times_are_errors() -> None:
    with pytest.raises(TypeError, match="expires_minutes"):
        render("recovery_link", "en", brand=BRAND, link=CONTEXT["link"])
    with pytest.raises(TypeError, match="brand"):
        render(
            "recovery_link", "en", brand="Acme", link=CONTEXT["link"], expires_minutes=5
        )
    with pytest.raises(KeyError):
        render("welcome", "en", brand=BRAND)
    with pytest.raises(ValueError, match="sms"):
        render_sms("recovery_link", "en", brand=BRAND, **context_for("recovery_link"))
    with pytest.raises(ValueError, match="email"):
        render("sms_code", "en", brand=BRAND, code="1", expires_minutes=5)
    with pytest.raises(ValueError, match="timezone"):
        render("totp_replay_notice", "en", brand=BRAND, when=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("fr", "fr"),
        ("fr-CA", "fr"),
        ("fr_FR", "fr"),
        ("EN-gb", "en"),
        ("de", "en"),
        ("", "en"),
    ],
)
def test_locales_fall_back_to_english(given: str, used: str) -> None:
    assert normalize_locale(given) == used


def test_brand_of_a_tenant_uses_its_branding(
    make_app: Any, tenant_factory: Any
) -> None:
    tenant = tenant_factory(make_app().extensions["idp"])
    brand = Brand.of(tenant)
    assert brand.name == tenant.brand_name
    assert brand.primary_color == tenant.config.branding.primary_color
