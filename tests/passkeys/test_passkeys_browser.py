"""Passkeys end to end (issue 14, items 1 and 2): Chromium with a virtual authenticator against a live server
reached as ``localhost``, in French and in English.

Registered at sign-in, then used passwordless and as a second factor; a clone (sign count going back) and a
credential of another tenant are refused; the self-recovery can end with a passkey on this device, and its
« Reset my password » path takes a passkey as the proof of the second factor (another user's is refused). The ceremony
runs in the browser (WebAuthn); the server checks it against the challenge it kept (R-43), the tenant (R-44)
and the counter.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

import pytest
from playwright.sync_api import expect
from support.builders import PASSWORD, PHONE, make_account, merge
from support.messages import code_in, link_in, outbox, wait_for

from idp.oidc.sessions import COOKIE as SSO_COOKIE

TEXT = {
    "en": {
        "locale": "en-US",
        "user": "Username or email",
        "password": "Password",
        "sign_in": "Sign in",
        "with_passkey": "Sign in with a passkey",
        "instead": "Use a passkey on this device instead",
        "create": "Create a passkey",
        "use": "Use a passkey",
        "signed_in": "You are signed in",
        "codes": "I have saved these codes",
        "cloned": "That passkey was refused: it may have been copied.",
        "unknown": "That passkey is not registered for an account here.",
        "recovered": "Your account is recovered",
        "use_yours": "Use your passkey",
        "before_new": "Before you choose a new password, confirm it's you with the passkey",
        "new_password": "New password",
        "again": "Type it again",
        "save": "Save",
        "changed": "Your password has been changed",
        "invalid": "Invalid username or password.",
        "a_code_instead": "Use a recovery code instead",
        "enter_a_code": "Enter a recovery code.",
    },
    "fr": {
        "locale": "fr-FR",
        "user": "Utilisateur ou e-mail",
        "password": "Mot de passe",
        "sign_in": "S'authentifier",
        "with_passkey": "Se connecter avec une clé d'accès",
        "instead": "Utiliser plutôt une clé d'accès sur cet appareil",
        "create": "Créer une clé d'accès",
        "use": "Utiliser une clé d'accès",
        "signed_in": "Vous êtes connecté",
        "codes": "J'ai enregistré ces codes",
        "cloned": "Cette clé d'accès a été refusée : elle a peut-être été copiée.",
        "unknown": "Cette clé d'accès n'est enregistrée pour aucun compte ici.",
        "recovered": "Votre compte est récupéré",
        "use_yours": "Utilisez votre clé d'accès",
        "before_new": "Avant de choisir un nouveau mot de passe, confirmez votre identité avec la clé d'accès",
        "new_password": "Nouveau mot de passe",
        "again": "Saisissez-le à nouveau",
        "save": "Enregistrer",
        "changed": "Votre mot de passe a été modifié",
        "invalid": "Utilisateur ou mot de passe incorrect.",
        "a_code_instead": "Utiliser plutôt un code de récupération",
        "enter_a_code": "Saisissez un code de récupération.",
    },
}
LANGS = ["fr", "en"]
MFA_REQUIRED = {"mfa": {"policy": "required"}}
WITH_RECOVERY = merge(MFA_REQUIRED, {"flows": {"self-recovery": {"enabled": True, "settings": {}}}})
NEW_PASSWORD = "orange kites over the quiet harbour"
#: A hostile browser: it drops the server's list of allowed credentials, so the authenticator answers with any
#: passkey it holds for this site (the server must refuse one that is not the run's user's).
ANY_PASSKEY = (
    "(function () { var get = navigator.credentials.get.bind(navigator.credentials);"
    " navigator.credentials.get = function (options) { if (options && options.publicKey) { options.publicKey.allowCredentials = []; }"
    " return get(options); }; })();"
)


def _account(server: Any, config: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    suffix = secrets.token_hex(4)
    return make_account(server, f"p-{suffix}", f"carol{suffix}", email=f"carol.{suffix}@example.org", config=MFA_REQUIRED if config is None else config, **kwargs)


def _url(server: Any, tenant: Any, path: str) -> str:
    return f"{server.url}/realms/{tenant.slug}{path}"


def _session(server: Any, tenant: Any, page: Any) -> Any:
    """The SSO session this browser holds at ``tenant`` (None: not signed in)."""
    token = next((c["value"] for c in page.context.cookies() if c["name"] == SSO_COOKIE and f"/realms/{tenant.slug}" in c["path"]), None)
    return server.services.sessions.find(tenant, token) if token else None


def _register_at_sign_in(server: Any, account: Any, page: Any, t: dict[str, str]) -> None:
    """Password, then (no second factor yet, MFA required) the QR-code page's « a passkey on this device instead »."""
    page.goto(_url(server, account.tenant, "/login"))
    page.get_by_label(t["user"]).fill(account.user.username)
    page.get_by_label(t["password"], exact=True).fill(PASSWORD)
    page.get_by_role("button", name=t["sign_in"], exact=True).click()
    page.get_by_role("button", name=t["instead"]).click()
    page.get_by_role("button", name=t["create"]).click()
    page.get_by_role("button", name=t["codes"]).click()  # the recovery codes shown once after an enrolment
    expect(page.get_by_role("heading", name=t["signed_in"])).to_be_visible()


def _password_sign_in(server: Any, account: Any, page: Any, t: dict[str, str], password: str) -> None:
    page.goto(_url(server, account.tenant, "/login"))
    page.get_by_label(t["user"]).fill(account.user.username)
    page.get_by_label(t["password"], exact=True).fill(password)
    page.get_by_role("button", name=t["sign_in"], exact=True).click()


def _passkey_only(server: Any, account: Any) -> None:
    """Leave the user's passkey as their only second factor (the recovery codes of the enrolment removed)."""
    factors = server.services.factors
    for factor in factors.active(account.tenant, account.user, "recovery_code"):
        factors.remove_factor(account.tenant, account.user, factor.id, actor="admin:test")
    assert [f.type for f in factors.active(account.tenant, account.user)] == ["passkey"]


def _recover(server: Any, account: Any, page: Any, path: str) -> None:
    """« Lost your credentials? »: the emailed link, opened in ``page``, then the choice ``path``
    (``password``: « Reset my password »; ``second-factor``)."""
    page.goto(_url(server, account.tenant, "/flow/self-recovery"))
    page.locator("input[name=login]").fill(account.user.username)
    page.locator("input[name=login]").press("Enter")
    mail = wait_for(lambda: [m for m in outbox(server, to=account.email) if m.tags.get("kind") == "recovery-link"])
    page.goto(link_in(mail[-1].text))
    page.locator(f"button[name=path][value={path}]").click()


def _reset_my_password(server: Any, account: Any, page: Any) -> None:
    _recover(server, account, page, "password")


def _sign_out(page: Any) -> None:
    page.context.clear_cookies()


def _passwordless(server: Any, tenant: Any, page: Any, t: dict[str, str]) -> None:
    page.goto(_url(server, tenant, "/login"))
    page.get_by_role("button", name=t["with_passkey"]).click()


@pytest.mark.parametrize("lang", LANGS)
def test_register_at_sign_in_then_sign_in_passwordless(localhost_server: Any, passkey_page: Any, lang: str) -> None:
    """A passkey made on this device is saved with its public key, counter, flags, transports and AAGUID; then
    « Sign in with a passkey » alone signs in: amr hwk + user + mfa, acr mfa (R-46: audited)."""
    t = TEXT[lang]
    account = _account(localhost_server)
    page, authenticator = passkey_page(t["locale"])
    _register_at_sign_in(localhost_server, account, page, t)
    factors = localhost_server.services.factors
    [(factor, credential)] = factors.passkeys(account.tenant, account.user)
    assert factor.label == "Passkey" and factor.created_at is not None
    assert credential.transports == ["internal"] and credential.backup_eligible is False
    assert re.fullmatch(r"[0-9a-f-]{36}", credential.aaguid)
    [held] = authenticator.credentials()
    assert held["isResidentCredential"] and held["rpId"] == "localhost"

    _sign_out(page)
    _passwordless(localhost_server, account.tenant, page, t)
    expect(page.get_by_role("heading", name=t["signed_in"])).to_be_visible()
    session = _session(localhost_server, account.tenant, page)
    assert session is not None and session.user_id == account.user.id
    assert list(session.amr) == ["hwk", "user", "mfa"] and session.acr == "urn:idp:acr:mfa"
    [(factor, credential)] = factors.passkeys(account.tenant, account.user)
    assert credential.sign_count >= 1 and factor.last_used_at is not None
    events = [e.type for e in localhost_server.services.audit.query(account.tenant.id, user_id=account.user.id, limit=50)]
    assert "factor.enrolled" in events and "login.passkey_ok" in events


@pytest.mark.parametrize("lang", LANGS)
def test_a_passkey_is_a_second_factor_after_the_password(localhost_server: Any, passkey_page: Any, lang: str) -> None:
    """With the password first, the passkey step is the second factor: amr pwd + hwk + user + mfa."""
    t = TEXT[lang]
    account = _account(localhost_server)
    page, _authenticator = passkey_page(t["locale"])
    _register_at_sign_in(localhost_server, account, page, t)
    _sign_out(page)
    page.goto(_url(localhost_server, account.tenant, "/login"))
    page.get_by_label(t["user"]).fill(account.user.username)
    page.get_by_label(t["password"], exact=True).fill(PASSWORD)
    page.get_by_role("button", name=t["sign_in"], exact=True).click()
    page.get_by_role("button", name=t["use"], exact=True).click()
    expect(page.get_by_role("heading", name=t["signed_in"])).to_be_visible()
    session = _session(localhost_server, account.tenant, page)
    assert session is not None and list(session.amr) == ["pwd", "hwk", "user", "mfa"] and session.acr == "urn:idp:acr:mfa"


@pytest.mark.parametrize("lang", LANGS)
def test_a_cloned_passkey_is_refused(localhost_server: Any, passkey_page: Any, lang: str) -> None:
    """W3C WebAuthn §6.1.1: a copy whose counter went back is refused, audited, and its holder told by email."""
    t = TEXT[lang]
    account = _account(localhost_server)
    page, authenticator = passkey_page(t["locale"])
    _register_at_sign_in(localhost_server, account, page, t)
    _sign_out(page)
    _passwordless(localhost_server, account.tenant, page, t)  # the original moves its counter on
    expect(page.get_by_role("heading", name=t["signed_in"])).to_be_visible()
    [original] = authenticator.credentials()
    assert original["signCount"] >= 1

    copy_page, copy = passkey_page(t["locale"])
    copy.add({**original, "signCount": 0})  # the same key on another device, its counter behind
    _passwordless(localhost_server, account.tenant, copy_page, t)
    expect(copy_page.get_by_role("alert")).to_contain_text(t["cloned"])
    assert _session(localhost_server, account.tenant, copy_page) is None
    events = [e.type for e in localhost_server.services.audit.query(account.tenant.id, user_id=account.user.id, limit=50)]
    assert "factor.passkey_clone_suspected" in events
    wait_for(lambda: [m for m in outbox(localhost_server, to=account.email) if m.tags.get("kind") == "passkey-clone-notice"])


@pytest.mark.parametrize("lang", LANGS)
def test_a_passkey_of_tenant_a_is_refused_at_tenant_b(localhost_server: Any, passkey_page: Any, lang: str) -> None:
    """R-44: every tenant shares the RP ID (the public URL's host), so the browser offers tenant A's passkey at
    tenant B; B looks credentials up by tenant and id, and refuses it."""
    t = TEXT[lang]
    account_a = _account(localhost_server)
    account_b = _account(localhost_server)
    page, authenticator = passkey_page(t["locale"])
    _register_at_sign_in(localhost_server, account_a, page, t)
    _sign_out(page)
    assert len(authenticator.credentials()) == 1
    _passwordless(localhost_server, account_b.tenant, page, t)
    expect(page.get_by_role("alert")).to_contain_text(t["unknown"])
    assert _session(localhost_server, account_b.tenant, page) is None
    events = [(e.type, e.details.get("reason")) for e in localhost_server.services.audit.query(account_b.tenant.id, limit=50)]
    assert ("login.passkey_refused", "unknown_credential") in events


@pytest.mark.parametrize("lang", LANGS)
def test_the_recovery_can_end_with_a_passkey_on_this_device(localhost_server: Any, passkey_page: Any, lang: str) -> None:
    """Issue 14, item 2 (R-17, R-98): link, password, SMS code, then « a passkey on this device » instead of the
    QR code; the old TOTP and SMS factors go only once the passkey is saved, in the same transaction."""
    t = TEXT[lang]
    config = merge(MFA_REQUIRED, {"flows": {"self-recovery": {"enabled": True, "settings": {}}}, "branding": {"support_url": "https://support.example.org"}})
    account = _account(localhost_server, config, phone=PHONE, phone_factor=True, totp=True, locale=lang)
    services = localhost_server.services
    assert sorted(f.type for f in services.factors.active(account.tenant, account.user)) == ["sms", "totp"]
    page, _authenticator = passkey_page(t["locale"])
    _recover(localhost_server, account, page, "second-factor")
    page.get_by_label(t["password"], exact=True).fill(PASSWORD)
    page.get_by_label(t["password"], exact=True).press("Enter")
    sms = wait_for(lambda: outbox(localhost_server, to=PHONE, kind="sms"))
    page.locator("input[name=code]").fill(code_in(sms[-1].text))
    page.locator("input[name=code]").press("Enter")
    expect(page.locator("svg.qr")).to_be_visible()  # the QR-code authenticator stays the default screen
    assert sorted(f.type for f in services.factors.active(account.tenant, account.user)) == ["sms", "totp"]
    page.get_by_role("button", name=t["instead"]).click()
    page.get_by_role("button", name=t["create"]).click()
    expect(page.get_by_role("heading", name=t["recovered"])).to_be_visible()
    assert [f.type for f in services.factors.active(account.tenant, account.user)] == ["passkey"]
    removed = [f for f in services.factors.history(account.tenant, account.user) if f.removed_at is not None]
    assert sorted(f.type for f in removed) == ["sms", "totp"] and {f.removed_by for f in removed} == {f"recovery:{account.user.id}"}


@pytest.mark.parametrize("lang", LANGS)
def test_conditional_mediation_offers_the_passkey_in_the_username_autofill(localhost_server: Any, passkey_page: Any, lang: str) -> None:
    """Where the browser supports it, the sign-in page asks for passkeys in the username's autofill at once; choosing
    one there (the virtual authenticator chooses its only one) signs in with no click on any button."""
    t = TEXT[lang]
    account = _account(localhost_server)
    page, authenticator = passkey_page(t["locale"], conditional=True)
    page.goto(_url(localhost_server, account.tenant, "/flow/browser-login"))
    assert page.evaluate("PublicKeyCredential.isConditionalMediationAvailable()") is True
    held = _copy_of_a_registered_passkey(localhost_server, account, passkey_page, t)
    authenticator.add(held)
    page.goto(_url(localhost_server, account.tenant, "/login"))
    expect(page.get_by_role("heading", name=t["signed_in"])).to_be_visible()
    session = _session(localhost_server, account.tenant, page)
    assert session is not None and session.user_id == account.user.id and "hwk" in session.amr


def _copy_of_a_registered_passkey(server: Any, account: Any, passkey_page: Any, t: dict[str, str]) -> dict[str, Any]:
    """A passkey registered at sign-in in another browser, as its authenticator holds it (to move to another one)."""
    page, authenticator = passkey_page(t["locale"])
    _register_at_sign_in(server, account, page, t)
    [held] = authenticator.credentials()
    return dict(held)


@pytest.mark.parametrize("lang", LANGS)
def test_without_javascript_the_pages_work_and_no_passkey_button_shows(localhost_server: Any, chromium: Any, lang: str) -> None:
    """The sign-in page works without JavaScript; the passkey buttons need it (WebAuthn) and stay hidden. With it,
    the username field asks the browser for passkeys in its autofill (conditional mediation)."""
    t = TEXT[lang]
    account = _account(localhost_server, {})
    context = chromium.new_context(locale=t["locale"], java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(_url(localhost_server, account.tenant, "/login"))
        expect(page.get_by_role("button", name=t["with_passkey"])).to_be_hidden()
        assert page.get_by_label(t["user"]).get_attribute("autocomplete") == "username webauthn"
        page.get_by_label(t["user"]).fill(account.user.username)
        page.get_by_label(t["password"], exact=True).fill(PASSWORD)
        page.get_by_role("button", name=t["sign_in"], exact=True).click()
        expect(page.get_by_role("heading", name=t["signed_in"])).to_be_visible()
    finally:
        context.close()


@pytest.mark.parametrize("lang", LANGS)
def test_a_passkey_only_user_resets_their_password_with_the_passkey(localhost_server: Any, passkey_page: Any, lang: str) -> None:
    """Issue 14, R-18, R-32, R-51: the « Reset my password » path of a user whose only second factor is a passkey:
    the emailed link, « Use your passkey » (the passkey's user-verified assertion, audited like at sign-in), then the
    new password twice. Nobody is signed in; the old password no longer works, the new one does (with the passkey)."""
    t = TEXT[lang]
    server = localhost_server
    account = _account(server, WITH_RECOVERY, locale=lang)
    page, _authenticator = passkey_page(t["locale"])
    _register_at_sign_in(server, account, page, t)
    _passkey_only(server, account)
    _sign_out(page)

    _reset_my_password(server, account, page)
    expect(page.get_by_role("heading", name=t["use_yours"])).to_be_visible()
    expect(page.get_by_text(t["before_new"])).to_be_visible()  # the page says why the passkey is asked for here
    expect(page.get_by_label(t["new_password"])).to_have_count(0)  # the new password only after the proof
    page.get_by_role("button", name=t["use"], exact=True).click()
    page.get_by_label(t["new_password"]).fill(NEW_PASSWORD)
    page.get_by_label(t["again"]).fill(NEW_PASSWORD)
    page.get_by_role("button", name=t["save"]).click()
    expect(page.get_by_role("heading", name=t["changed"])).to_be_visible()
    assert _session(server, account.tenant, page) is None  # the password path never signs in

    users = server.services.users
    user = users.get(account.tenant, account.user.id)
    assert users.verify_password(user, NEW_PASSWORD) and not users.verify_password(user, PASSWORD)
    assert [f.type for f in server.services.factors.active(account.tenant, account.user)] == ["passkey"]  # the factor stays
    events = server.services.audit.query(account.tenant.id, user_id=account.user.id, limit=50)
    proved = [e for e in events if e.type == "login.second_factor_ok" and e.details.get("flow") == "self-recovery"]
    assert [e.details.get("factor") for e in proved] == ["passkey"]
    assert [e.details.get("path") for e in events if e.type == "recovery.completed"] == ["password"]

    _password_sign_in(server, account, page, t, PASSWORD)
    expect(page.get_by_role("alert")).to_contain_text(t["invalid"])
    _password_sign_in(server, account, page, t, NEW_PASSWORD)
    page.get_by_role("button", name=t["use"], exact=True).click()
    expect(page.get_by_role("heading", name=t["signed_in"])).to_be_visible()
    session = _session(server, account.tenant, page)
    assert session is not None and session.user_id == account.user.id


@pytest.mark.parametrize("lang", LANGS)
def test_another_users_passkey_does_not_reset_the_password(localhost_server: Any, passkey_page: Any, lang: str) -> None:
    """R-18, R-43: on the « Reset my password » path the passkey must be the run's user's. A browser holding only
    another user's passkey of the same tenant, and answering with it though the server asked for the user's own, is
    refused: audited and counted as a failed second factor; no new-password page, the password unchanged."""
    t = TEXT[lang]
    server = localhost_server
    account = _account(server, WITH_RECOVERY, locale=lang)
    page, _authenticator = passkey_page(t["locale"])
    _register_at_sign_in(server, account, page, t)
    _passkey_only(server, account)

    suffix = secrets.token_hex(4)
    other_user = server.services.users.create(account.tenant, f"dave{suffix}", PASSWORD, email=f"dave.{suffix}@example.org")
    other = type(account)(tenant=account.tenant, user=other_user, totp=None, email=f"dave.{suffix}@example.org")
    other_page, other_authenticator = passkey_page(t["locale"])
    other_page.add_init_script(ANY_PASSKEY)
    _register_at_sign_in(server, other, other_page, t)
    assert len(other_authenticator.credentials()) == 1
    _sign_out(other_page)

    _reset_my_password(server, account, other_page)  # carol's link, opened in the browser that holds dave's passkey
    expect(other_page.get_by_role("heading", name=t["use_yours"])).to_be_visible()
    other_page.get_by_role("button", name=t["use"], exact=True).click()
    expect(other_page.get_by_role("alert")).to_contain_text(t["unknown"])
    expect(other_page.get_by_role("heading", name=t["use_yours"])).to_be_visible()
    expect(other_page.get_by_label(t["new_password"])).to_have_count(0)

    users = server.services.users
    user = users.get(account.tenant, account.user.id)
    assert users.verify_password(user, PASSWORD)
    assert [f.type for f in server.services.factors.active(account.tenant, account.user)] == ["passkey"]
    events = [(e.type, e.details.get("reason")) for e in server.services.audit.query(account.tenant.id, user_id=account.user.id, limit=50)]
    assert ("login.passkey_refused", "unknown_credential") in events
    assert ("login.second_factor_failed", "unknown_credential") in events
    assert not [e for e in events if e[0] in ("recovery.completed", "login.second_factor_ok")]


@pytest.mark.parametrize("lang", LANGS)
def test_the_password_paths_passkey_page_offers_the_users_other_ways(localhost_server: Any, passkey_page: Any, lang: str) -> None:
    """The passkey comes first on « Reset my password », as at sign-in; the user's other second factors (here the
    recovery codes saved at enrolment) are « Other ways to confirm it's you », and taking one leaves the passkey."""
    t = TEXT[lang]
    server = localhost_server
    account = _account(server, WITH_RECOVERY, locale=lang)
    page, _authenticator = passkey_page(t["locale"])
    _register_at_sign_in(server, account, page, t)
    assert sorted(f.type for f in server.services.factors.active(account.tenant, account.user)) == ["passkey", "recovery_code"]
    _sign_out(page)
    _reset_my_password(server, account, page)
    expect(page.get_by_role("heading", name=t["use_yours"])).to_be_visible()
    page.get_by_role("button", name=t["a_code_instead"]).click()
    expect(page.get_by_role("heading", name=t["enter_a_code"])).to_be_visible()
    expect(page.get_by_role("button", name=t["use"], exact=True)).to_have_count(0)
