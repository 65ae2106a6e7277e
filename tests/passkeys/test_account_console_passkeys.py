"""The account console adds a passkey (issue 14, item 4): Chromium with a virtual authenticator against a live server
reached as ``localhost``, in English and in French.

The holder signs in to the console (password, then an authenticator code), opens « Add a second factor » → « A passkey »,
names it and creates it on this device; the passkey is listed, the holder is told by email, and it then signs in alone
(passwordless). The same authenticator cannot register twice (the browser refuses, the page says so, nothing is added).
Without JavaScript the entry is not offered; a tenant whose sign-in does not bind the ``passkey`` step offers no entry
and answers 404 on the page.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from playwright.sync_api import expect
from support.builders import PASSWORD, make_account
from support.messages import outbox, wait_for
from web.account_console_support import next_totp

TEXT = {
    "en": {
        "locale": "en-US", "user": "Username or email", "password": "Password", "sign_in": "Sign in", "code": "Code", "go": "Continue",
        "entry": "A passkey", "title": "Add a passkey", "name": "Name of this passkey (optional)", "create": "Create a passkey",
        "added": "Your passkey was added.", "failed": "No passkey was created. Try again.", "with_passkey": "Sign in with a passkey",
        "signed_in": "You are signed in", "kind": "Passkey",
    },
    "fr": {
        "locale": "fr-FR", "user": "Utilisateur ou e-mail", "password": "Mot de passe", "sign_in": "S'authentifier", "code": "Code",
        "go": "Continuer", "entry": "Une clé d'accès", "title": "Ajouter une clé d'accès", "name": "Nom de cette clé d'accès (facultatif)",
        "create": "Créer une clé d'accès", "added": "Votre clé d'accès a été ajoutée.",
        "failed": "Aucune clé d'accès n'a été créée. Réessayez.", "with_passkey": "Se connecter avec une clé d'accès",
        "signed_in": "Vous êtes connecté", "kind": "Clé d'accès",
    },
}  # fmt: skip

#: A sign-in flow whose second factors leave the passkey out (the tenant does not use passkeys).
NO_PASSKEYS = [
    {"step": "password", "config": {"offer_passkeys": False}},
    {"id": "second-factor", "requirement": "CONDITIONAL", "condition": "second-factor-needed", "bindings": [
        {"step": "passkey", "requirement": "DISABLED"},
        {"step": "totp", "requirement": "ALTERNATIVE"},
        {"step": "totp-setup", "requirement": "ALTERNATIVE"},
    ]},
]  # fmt: skip


def _holder(server: Any, config: dict[str, Any] | None = None) -> Any:
    suffix = secrets.token_hex(4)
    return make_account(server, f"pk-{suffix}", f"dana{suffix}", email=f"dana.{suffix}@example.org", totp=True, totp_label="Phone", config=config)


def _console(server: Any, account: Any, path: str = "/security") -> str:
    return f"{server.url}/realms/{account.tenant.slug}/account{path}"


def _sign_in_to_console(server: Any, account: Any, page: Any, t: dict[str, str]) -> None:
    page.goto(_console(server, account))
    page.get_by_label(t["user"]).fill(account.user.username)
    page.get_by_label(t["password"], exact=True).fill(PASSWORD)
    page.get_by_role("button", name=t["sign_in"], exact=True).click()
    page.get_by_label(t["code"]).fill(next_totp(account.totp, set()))
    page.get_by_role("button", name=t["go"], exact=True).click()
    page.wait_for_url(_console(server, account))


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_the_holder_adds_a_passkey_and_then_signs_in_with_it_alone(localhost_server: Any, passkey_page: Any, axe_check: Any, lang: str) -> None:
    """R-13 (a new factor is proven before it is saved: the browser's answer to the challenge kept for this holder, R-43),
    R-14/R-29 (the holder is told), R-46 (audited), R-38/R-54 (a fresh sign-in before the change)."""
    t = TEXT[lang]
    account = _holder(localhost_server)
    page, authenticator = passkey_page(t["locale"])
    _sign_in_to_console(localhost_server, account, page, t)

    page.get_by_role("link", name=t["entry"], exact=True).click()
    expect(page.get_by_role("heading", name=t["title"])).to_be_visible()
    assert page.locator("html").get_attribute("lang") == lang
    assert not axe_check(page)
    page.get_by_label(t["name"]).fill("Laptop")
    page.get_by_label(t["name"]).press("Enter")  # Enter in the name runs the ceremony, as the button does
    expect(page.get_by_role("status")).to_have_text(t["added"])
    expect(page.locator("#factors")).to_contain_text("Laptop")
    expect(page.locator("#factors")).to_contain_text(t["kind"])

    services = localhost_server.services
    [(factor, credential)] = services.factors.passkeys(account.tenant, account.user)
    assert factor.label == "Laptop" and factor.created_by == f"user:{account.user.id}"
    [held] = authenticator.credentials()
    assert held["isResidentCredential"] and held["rpId"] == "localhost"
    assert credential.credential_id.rstrip("=") == held["credentialId"].replace("+", "-").replace("/", "_").rstrip("=")
    events = [e.type for e in services.audit.query(account.tenant.id, user_id=account.user.id, limit=50)]
    assert "factor.enrolled" in events
    assert wait_for(lambda: outbox(localhost_server, to=account.user.email, kind="email"))

    # the same authenticator again: the browser refuses (the page excludes it), the page says so, nothing is added
    page.get_by_role("link", name=t["entry"], exact=True).click()
    page.get_by_role("button", name=t["create"]).click()
    expect(page.get_by_role("alert")).to_have_text(t["failed"])
    assert len(services.factors.passkeys(account.tenant, account.user)) == 1

    # signed out, the passkey alone signs in
    page.context.clear_cookies()
    page.goto(f"{localhost_server.url}/realms/{account.tenant.slug}/login")
    page.get_by_role("button", name=t["with_passkey"]).click()
    expect(page.get_by_role("heading", name=t["signed_in"])).to_be_visible()


def test_a_forged_answer_is_refused_and_nothing_is_added(localhost_server: Any, passkey_page: Any) -> None:
    """R-43: the answer must be the browser's to the challenge kept for this holder; a made-up one is refused (422,
    a clear message) and the account keeps its factors."""
    t = TEXT["en"]
    account = _holder(localhost_server)
    page, _authenticator = passkey_page(t["locale"])
    _sign_in_to_console(localhost_server, account, page, t)
    page.get_by_role("link", name=t["entry"], exact=True).click()
    expect(page.get_by_role("heading", name=t["title"])).to_be_visible()
    form = page.locator("#add-passkey")
    page.get_by_label(t["name"]).fill("Forged")
    form.locator('input[name="credential"]').evaluate('(el) => { el.value = \'{"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {}}\' }')
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        form.evaluate("(f) => f.submit()")
    assert posted.value.status == 422
    expect(page.locator("#form-error")).to_have_text(t["failed"])
    assert localhost_server.services.factors.passkeys(account.tenant, account.user) == []
    assert [f.type for f in localhost_server.services.factors.active(account.tenant, account.user)] == ["totp"]
    [failed] = [e for e in localhost_server.services.audit.query(account.tenant.id, user_id=account.user.id, limit=50) if e.type == "factor.enrolment_failed"]
    assert failed.details["reason"] == "passkey_invalid" and failed.details["factor"] == "passkey"
    # the ceremony was spent with the refusal: the page that came back carries a new one, which works
    page.get_by_role("button", name=t["create"]).click()
    expect(page.get_by_role("status")).to_have_text(t["added"])


def test_no_entry_without_javascript_or_where_the_sign_in_does_not_use_passkeys(localhost_server: Any, passkey_page: Any, new_page: Any) -> None:
    t = TEXT["en"]
    account = _holder(localhost_server)
    page = new_page(t["locale"])
    context = page.context.browser.new_context(locale=t["locale"], java_script_enabled=False)
    page.context.close()
    page = context.new_page()
    _sign_in_to_console(localhost_server, account, page, t)
    expect(page.locator("#add-entries")).to_contain_text("An authenticator app")
    expect(page.get_by_role("link", name=t["entry"], exact=True)).to_be_hidden()
    context.close()

    without = _holder(localhost_server, config={"flows": {"browser-login": {"enabled": True, "bindings": NO_PASSKEYS}}})
    page, _authenticator = passkey_page(t["locale"])
    _sign_in_to_console(localhost_server, without, page, t)
    expect(page.locator("#add-entries")).to_contain_text("An authenticator app")
    assert page.get_by_role("link", name=t["entry"], exact=True).count() == 0
    answer = page.goto(_console(localhost_server, without, "/security/passkey"))
    assert answer is not None and answer.status == 404
