"""Account self-recovery (issue 4), end to end through a live server; mail and SMS through SES/SNS on moto.

Each test is one thing a user or an attacker would do; requirement ids in docstrings.
"""

from __future__ import annotations

import re
import time
from datetime import UTC
from typing import Any

import pyotp
import pytest
from support.builders import PASSWORD, PHONE, Account, make_recovery_account
from support.messages import code_in, link_in, lock_link_in, manual_key_in, outbox
from support.walkers import Walker

from flows.self_recovery import requests as recovery_requests
from flows.self_recovery.config import SelfRecoveryConfig
from flows.self_recovery.links import RecoveryLinks


@pytest.fixture
def aws_server(aws_env: Any, make_live_server: Any) -> Any:
    """A live server whose mail and SMS go to moto's SES and SNS."""
    return make_live_server(mail_backend="ses", sms_backend="sns")


@pytest.fixture
def server(make_live_server: Any) -> Any:
    """A live server on the dev outbox (for the refusals, where what was sent matters less)."""
    return make_live_server()


def walk_to_choice(server: Any, account: Account, read_link: Any) -> Walker:
    walk = Walker(server, account.tenant)
    walk.request_link(account.user.username)
    walk.get(read_link())
    assert "token=" not in walk.page.url  # the token is swapped and leaves the address bar
    return walk


def new_totp_from(page: str) -> pyotp.TOTP:
    return pyotp.TOTP(manual_key_in(page))


def fresh_code(totp: pyotp.TOTP) -> str:
    """A code for the current step that will not cross a step boundary mid-request."""
    if 30 - time.time() % 30 < 2:
        time.sleep(2.1)
    return totp.now()


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_second_factor_reset_end_to_end_with_ses_and_sns(aws_server: Any, aws_env: Any, lang: str) -> None:
    """R-15, R-17, R-52, R-85, R-96..R-98: link, password, SMS code, new authenticator; old factors gone, sessions revoked, notices sent."""
    services = aws_server.services
    account = make_recovery_account(services, locale=lang)
    tenant, user = account.tenant, account.user
    old_session = services.sessions.establish(tenant, user.id, ["pwd", "otp", "mfa"], "urn:idp:acr:mfa")

    walk = walk_to_choice(aws_server, account, lambda: link_in(aws_env.last_email(account.email).body))
    email = aws_env.last_email(account.email)
    assert email.subject == {"en": "Reset your sign-in methods", "fr": "Réinitialiser vos moyens de connexion"}[lang]
    assert {"en": "This link expires in 5 minutes.", "fr": "Ce lien expire dans 5 minutes."}[lang] in email.body

    assert {"en": "What would you like to do?", "fr": "Que souhaitez-vous faire\u00a0?"}[lang] in walk.page.text
    walk.post(path="second-factor")
    assert 'type="password"' in walk.page.text and 'name="username"' not in walk.page.text
    walk.post(password=PASSWORD)
    assert {"en": "Enter the 6-digit code.", "fr": "Saisir le code à 6 chiffres."}[lang] in walk.page.text
    assert "•" in walk.page.text or "*" in walk.page.text  # the number is shown masked
    walk.post(code=code_in(aws_env.last_sms(PHONE).message))
    assert {"en": "Register a new second factor.", "fr": "Enregistrer un nouveau deuxième facteur."}[lang] in walk.page.text
    assert walk.page.headers["Cache-Control"].startswith("no-store")
    new_totp = new_totp_from(walk.page.text)
    walk.post(code=fresh_code(new_totp))
    assert {"en": "Your account is recovered", "fr": "Votre compte est récupéré"}[lang] in walk.page.text

    # every earlier second factor is gone; the new authenticator is the only one and works
    active = services.factors.active(tenant, user)
    assert [f.type for f in active] == ["totp"]
    assert not services.factors.verify_totp(tenant, user, account.totp.now())
    # the next step's code (accepted within valid_window=1; this step's was just used at enrolment, R-82)
    assert services.factors.verify_totp(tenant, user, new_totp.at(time.time() + 30))
    # the session from before is revoked; the browser that recovered holds a new one
    assert services.sessions.find(tenant, old_session.sid) is None
    # notices by email and SMS, each with a "not you?" link
    notice_mail = aws_env.last_email(account.email)
    assert notice_mail.subject != email.subject
    lock_link_in(notice_mail.body)
    lock_link_in(aws_env.last_sms(PHONE).message)
    types = [e.type for e in services.audit.query(tenant.id, user_id=user.id, limit=200)]
    for expected in ("recovery.requested", "recovery.link_opened", "recovery.completed"):
        assert expected in types


def test_password_reset_path_proves_the_second_factor_and_never_signs_in(server: Any) -> None:
    """R-18, R-32, R-51: the reset-password path asks for the authenticator, takes the new password twice, signs nobody in."""
    services = server.services
    account = make_recovery_account(services)
    walk = walk_to_choice(server, account, lambda: link_in(outbox(server, account.email, "email")[-1].text))
    walk.post(path="password")
    assert 'name="code"' in walk.page.text  # the authenticator, before any new password
    walk.post(code=fresh_code(account.totp))
    walk.post(password="a brand new passphrase 42", password_confirm="a different one entirely")
    assert "The two passwords do not match." in walk.page.text
    walk.post(password="short", password_confirm="short")
    assert "This password is too short." in walk.page.text and "At least 12 characters" in walk.page.text
    walk.post(password="password1234", password_confirm="password1234")
    assert "too common" in walk.page.text
    walk.post(password="a brand new passphrase 42", password_confirm="a brand new passphrase 42")
    assert "Your password has been changed" in walk.page.text
    assert not any(c.name.startswith("idp_sso") for c in walk.browser.cookies)
    user = services.users.get(account.tenant, account.user.id)
    assert services.users.verify_password(user, "a brand new passphrase 42")
    assert not services.users.verify_password(user, PASSWORD)
    assert sorted(f.type for f in services.factors.active(account.tenant, user)) == ["sms", "totp"]  # factors untouched
    assert "password" in outbox(server, account.email, "email")[-1].subject.lower()


def test_unknown_account_gets_the_same_answer_and_no_mail(server: Any) -> None:
    """R-28, R-47: same page, status and timing whether or not the account exists."""
    account = make_recovery_account(server.services)
    known, unknown = Walker(server, account.tenant), Walker(server, account.tenant)
    t0 = time.perf_counter()
    a = known.request_link(account.user.username)
    t1 = time.perf_counter()
    b = unknown.request_link("nobody-" + account.user.username)
    t2 = time.perf_counter()
    assert a.status_code == b.status_code == 200
    scrub = lambda text: re.sub(r'(value|nonce)="[^"]*"', "", text)  # noqa: E731 - CSRF tokens and CSP nonces differ
    assert scrub(a.text) == scrub(b.text)
    assert abs((t1 - t0) - (t2 - t1)) < 0.25
    assert len(outbox(server, account.email, "email")) == 1


def test_link_is_single_use(server: Any) -> None:
    """R-49, R-96: a used link answers "already used; request a new one" (issue 16), not "expired"."""
    account = make_recovery_account(server.services)
    walk = Walker(server, account.tenant)
    walk.request_link(account.email)
    link = link_in(outbox(server, account.email, "email")[-1].text)
    assert walk.get(link).status_code == 200
    again = Walker(server, account.tenant)
    response = again.get(link)
    assert response.status_code == 400
    assert "This link has already been used; request a new one." in response.text
    assert "expired" not in response.text


def test_expired_link(server: Any) -> None:
    """R-16, R-49: a link past its lifetime does not open the flow."""
    account = make_recovery_account(server.services)
    token = RecoveryLinks(server.services).issue(account.tenant, account.user.id, ttl=1)
    time.sleep(1.3)
    response = Walker(server, account.tenant).get(RecoveryLinks(server.services).url(account.tenant, token))
    assert response.status_code == 400 and "expired" in response.text


def test_a_newer_request_voids_the_older_link(server: Any) -> None:
    """R-96: a new request voids earlier links."""
    account = make_recovery_account(server.services)
    walk = Walker(server, account.tenant)
    walk.request_link(account.email)
    first = link_in(outbox(server, account.email, "email")[-1].text)
    Walker(server, account.tenant).request_link(account.email)
    second = link_in(outbox(server, account.email, "email")[-1].text)
    assert first != second
    assert Walker(server, account.tenant).get(first).status_code == 400
    assert Walker(server, account.tenant).get(second).status_code == 200


def test_link_of_tenant_a_fails_at_tenant_b(server: Any) -> None:
    """R-44, R-99: a token from tenant A does nothing at tenant B."""
    a, b = make_recovery_account(server.services), make_recovery_account(server.services)
    Walker(server, a.tenant).request_link(a.email)
    link = link_in(outbox(server, a.email, "email")[-1].text)
    forged = link.replace(f"/realms/{a.tenant.slug}/", f"/realms/{b.tenant.slug}/")
    assert Walker(server, b.tenant).get(forged).status_code == 400
    assert Walker(server, a.tenant).get(link).status_code == 200  # still unused at A


def test_host_header_never_builds_the_link(server: Any) -> None:
    """R-50: the link comes from the tenant's configured public URL, not the request's Host header."""
    account = make_recovery_account(server.services)
    Walker(server, account.tenant).request_link(account.email, Host="evil.example.com")
    link = link_in(outbox(server, account.email, "email")[-1].text)
    assert link.startswith(server.services.settings.public_url + "/realms/")
    assert "evil" not in link


def test_skipping_straight_to_enrolment_is_refused(server: Any) -> None:
    """R-43: a step never runs on proofs the run does not hold."""
    account = make_recovery_account(server.services)
    walk = Walker(server, account.tenant)
    walk.get(walk.url("/flow/self-recovery"))
    response = walk.post(step="totp-setup", code="123456")
    assert "Have you lost your credentials?" in response.text  # still the first step
    assert len(server.services.factors.active(account.tenant, account.user)) == 2
    # after the link, jumping past the password to the SMS step is refused as well
    walk = walk_to_choice(server, account, lambda: link_in(outbox(server, account.email, "email")[-1].text))
    walk.post(path="second-factor")
    walk.post(step="sms", code="000000")
    assert 'type="password"' in walk.page.text and not outbox(server, PHONE, "sms")


def test_wrong_password_counts_like_a_login(server: Any) -> None:
    """R-06, R-97: a wrong password is refused and throttled with the login counter."""
    account = make_recovery_account(server.services)
    walk = walk_to_choice(server, account, lambda: link_in(outbox(server, account.email, "email")[-1].text))
    walk.post(path="second-factor")
    walk.post(password="not the password at all")
    assert "Invalid username or password." in walk.page.text
    assert not outbox(server, PHONE, "sms")


def test_wrong_then_expired_sms_codes(server: Any) -> None:
    """R-11, R-35, R-53: a wrong code is refused; no new factor without the right one."""
    account = make_recovery_account(server.services)
    walk = walk_to_choice(server, account, lambda: link_in(outbox(server, account.email, "email")[-1].text))
    walk.post(path="second-factor")
    walk.post(password=PASSWORD)
    sent = code_in(outbox(server, PHONE, "sms")[-1].text)
    wrong = "000000" if sent != "000000" else "111111"
    walk.post(code=wrong)
    assert "This code is not valid" in walk.page.text
    assert "Register a new second factor." not in walk.page.text


def test_abandoned_enrolment_keeps_the_old_factor(server: Any) -> None:
    """R-85: until the new authenticator is confirmed, nothing changes on the account."""
    account = make_recovery_account(server.services)
    walk = walk_to_choice(server, account, lambda: link_in(outbox(server, account.email, "email")[-1].text))
    walk.post(path="second-factor")
    walk.post(password=PASSWORD)
    walk.post(code=code_in(outbox(server, PHONE, "sms")[-1].text))
    assert "Register a new second factor." in walk.page.text
    walk.post(code="000000")  # a wrong first code, then the user walks away
    services = server.services
    assert len(services.factors.active(account.tenant, account.user)) == 2
    assert services.factors.verify_totp(account.tenant, account.user, fresh_code(account.totp))


def test_no_phone_on_file_ends_plainly_with_support(server: Any) -> None:
    """R-43, R-97: without a verified number the second-factor path cannot proceed; the user is told and offered support."""
    account = make_recovery_account(server.services, phone=None)
    walk = walk_to_choice(server, account, lambda: link_in(outbox(server, account.email, "email")[-1].text))
    walk.post(path="second-factor")
    walk.post(password=PASSWORD)
    assert "No phone number is on file for your account." in walk.page.text
    assert "https://support.example.org" in walk.page.text
    assert len(server.services.factors.active(account.tenant, account.user)) == 1


def test_disabled_flow_has_no_link_and_no_endpoints(server: Any) -> None:
    """The link shows only when the flow is enabled for the tenant; its pages are 404 otherwise."""
    account = make_recovery_account(server.services, config={"flows": {"self-recovery": {"enabled": False}}})
    walk = Walker(server, account.tenant)
    login = walk.get(walk.url("/login"))
    assert "Lost your credentials?" not in login.text
    assert walk.get(walk.url("/flow/self-recovery")).status_code == 404
    assert walk.get(walk.url("/flow/self-recovery/enter?token=x")).status_code == 404
    enabled = make_recovery_account(server.services)
    assert "Lost your credentials?" in Walker(server, enabled.tenant).get(Walker(server, enabled.tenant).url("/login")).text


def test_legacy_tenant_refuses_to_enable(services: Any) -> None:
    """Existing tenants migrate to the new login experience first; enabling on legacy names the migration."""
    from idp.tenants.service import TenantError

    tenant = services.tenants.create("legacy-co", experience="legacy")
    with pytest.raises(TenantError) as refused:
        services.tenants.enable_flow(tenant.slug, "self-recovery")
    assert refused.value.status == 409 and "idp tenant migrate legacy-co --experience v2" in str(refused.value)
    services.tenants.migrate_experience(tenant.slug, "v2")
    assert services.tenants.enable_flow(tenant.slug, "self-recovery").flow_live("self-recovery")


def test_tenant_config_refuses_a_path_that_skips_a_proof(services: Any) -> None:
    """A recovery path reaching "factor replaced" without the SMS code is refused, naming the missing proof (R-17)."""
    from idp.tenants.service import TenantError

    tenant = services.tenants.create("paths-co")
    with pytest.raises(TenantError) as refused:
        services.tenants.update_config(tenant.slug, {"flows": {"self-recovery": {"settings": {"second_factor_path": ["password", "totp-setup"]}}}})
    assert refused.value.status == 422
    assert "second_factor_path" in refused.value.field and "without proving: sms" in str(refused.value)


def test_tenant_config_takes_a_passkey_as_the_password_paths_proof(services: Any) -> None:
    """Issue 14 (R-18): the default password path (with ``verify-passkey``) loads, and so does a path whose only proof
    is a passkey; a path proving nothing is refused, naming the passkey among the proofs that would do."""
    from idp.tenants.service import TenantError

    tenant = services.tenants.create("passkey-paths-co", config={"flows": {"self-recovery": {"enabled": True, "settings": {}}}})
    assert services.tenants.require(tenant.slug).config.flow("self-recovery").settings == {}
    view = services.tenants.update_config(tenant.slug, {"flows": {"self-recovery": {"settings": {"password_path": ["verify-passkey", "new-password"]}}}})
    assert view.config.flow("self-recovery").settings["password_path"] == ["verify-passkey", "new-password"]
    with pytest.raises(TenantError) as refused:
        services.tenants.update_config(tenant.slug, {"flows": {"self-recovery": {"settings": {"password_path": ["new-password"]}}}})
    assert refused.value.status == 422 and "password_path" in refused.value.field
    assert "without proving: passkey or totp or sms or recovery_code" in str(refused.value)


def test_scheduled_activation(services: Any) -> None:
    """The platform admin may schedule the activation date agreed with the customer."""
    from datetime import datetime, timedelta

    tenant = services.tenants.create("sched-co")
    later = datetime.now(UTC) + timedelta(days=3)
    view = services.tenants.enable_flow(tenant.slug, "self-recovery", enabled_from=later)
    assert not view.flow_live("self-recovery")
    assert view.flow_live("self-recovery", now=later + timedelta(seconds=1))


def test_recovery_started_from_a_relying_party_ends_signed_in_there(server: Any) -> None:
    """Issue 4 step 8, R-40, R-63: from an RP's authorization request, « Continuer » lands signed in at the RP;
    refresh tokens issued before the recovery no longer work."""
    from authlib.common.security import generate_token
    from authlib.integrations.base_client.errors import OAuthError
    from support.builders import make_realm

    realm = make_realm(server, f"rp-{generate_token(6).lower()}", {"flows": {"self-recovery": {"enabled": True}}})
    services, tenant, user = server.services, realm.tenant, realm.user
    services.factors.set_phone(tenant, user, PHONE)
    _, uri = services.factors.add_totp(tenant, user, label="old phone")
    _, before = realm.code_flow(scope="openid offline_access")
    assert before.get("refresh_token")

    walk = Walker(server, tenant)
    rp = realm.rp()
    verifier = generate_token(48)
    url, _state = rp.create_authorization_url(realm.endpoint("auth"), code_verifier=verifier, nonce=generate_token(16))
    login = walk.get(url)
    lost = re.search(r'href="([^"]+/flow/self-recovery)"', login.text)
    assert lost, "the sign-in page links to the recovery"
    walk.get(requests_join(login.url, lost.group(1)))
    walk.post(login=user.email)
    recovery_requests.drain()
    walk.get(link_in(outbox(server, user.email, "email")[-1].text))
    walk.post(path="second-factor")
    walk.post(password=PASSWORD)
    walk.post(code=code_in(outbox(server, PHONE, "sms")[-1].text))
    walk.post(code=fresh_code(new_totp_from(walk.page.text)))
    assert "Your account is recovered" in walk.page.text
    onward = re.search(r'<a class="button primary" href="([^"]+)"', walk.page.text)
    assert onward and "/auth/resume" in onward.group(1)
    answer = walk.browser.get(requests_join(walk.page.url, onward.group(1).replace("&amp;", "&")), allow_redirects=False)
    assert answer.status_code == 302 and answer.headers["Location"].startswith("https://rp.example.com/callback")
    token = rp.fetch_token(realm.endpoint("token"), authorization_response=answer.headers["Location"], code_verifier=verifier)
    claims = realm.verify(token["id_token"], sub=user.sub)
    assert "mfa" in claims["amr"]
    refresher = realm.rp()
    with pytest.raises(OAuthError) as refused:
        refresher.refresh_token(realm.endpoint("token"), refresh_token=before["refresh_token"])
    assert refused.value.error == "invalid_grant"
    assert [f.type for f in services.factors.active(tenant, user)] == ["totp"]
    old = pyotp.parse_uri(uri)
    assert not services.factors.verify_totp(tenant, user, old.at(time.time() + 30))


def requests_join(base: str, href: str) -> str:
    from urllib.parse import urljoin

    return urljoin(base, href)


def test_not_you_link_locks_the_account_after_confirmation(server: Any) -> None:
    """R-15, R-19, R-34: the notice's link locks the account and revokes everything; opening it alone changes nothing."""
    services = server.services
    account = make_recovery_account(services)
    tenant, user = account.tenant, account.user
    session = services.sessions.establish(tenant, user.id, ["pwd"], "urn:idp:acr:pwd")
    locks = services.locks
    link = locks.url(tenant, locks.issue(tenant, user.id))
    scanner = Walker(server, tenant)  # a mail scanner opens every link first
    assert "Lock my account" in scanner.get(link).text
    walk = Walker(server, tenant)
    page = walk.get(link)
    assert "token=" not in page.url and "Lock my account" in page.text
    assert services.users.get(tenant, user.id).status == "active"  # a GET changes nothing
    done = walk.post()
    assert done.status_code == 200 and "Your account is locked" in done.text
    assert services.users.get(tenant, user.id).status == "disabled"
    assert services.sessions.find(tenant, session.sid) is None
    assert Walker(server, tenant).get(link).status_code == 400  # single use
    assert scanner.post().status_code == 400  # the scanner's remembered link is spent
    again = Walker(server, tenant)
    again.request_link(account.email)  # a disabled account gets no recovery link
    assert not [m for m in outbox(server, account.email, "email") if "token=" in m.text]


def test_opted_out_number_ends_plainly_with_support(aws_server: Any, aws_env: Any) -> None:
    """R-91: a number that replied STOP gets no code; the user is told and offered support; nothing changes."""
    opted_out = "+33612345699"  # moto's SNS treats numbers ending in 99 as opted out
    account = make_recovery_account(aws_server.services, phone=opted_out)
    walk = walk_to_choice(aws_server, account, lambda: link_in(aws_env.last_email(account.email).body))
    walk.post(path="second-factor")
    walk.post(password=PASSWORD)
    assert "opted out" in walk.page.text and "https://support.example.org" in walk.page.text
    assert aws_env.sent_sms(opted_out) == []
    assert len(aws_server.services.factors.active(account.tenant, account.user)) == 2


def test_sms_cap_reached_ends_plainly_with_support(server: Any) -> None:
    """R-89: once the account's daily SMS cap is reached, recovery stops with a plain message, not a silent failure."""
    account = make_recovery_account(server.services, config={"sms": {"per_account_daily_cap": 1, "resend_cooldown": 1}})
    first = walk_to_choice(server, account, lambda: link_in(outbox(server, account.email, "email")[-1].text))
    first.post(path="second-factor")
    first.post(password=PASSWORD)
    assert len(outbox(server, PHONE, "sms")) == 1
    time.sleep(1.2)  # past the resend cool-down: only the cap stands in the way
    second = walk_to_choice(server, account, lambda: link_in(outbox(server, account.email, "email")[-1].text))
    second.post(path="second-factor")
    second.post(password=PASSWORD)
    assert "Too many codes were sent today" in second.page.text
    assert "https://support.example.org" in second.page.text and 'name="code"' not in second.page.text
    assert len(outbox(server, PHONE, "sms")) == 1


def test_a_run_ends_when_its_account_is_disabled_or_revoked_mid_way(server: Any) -> None:
    """A recovery run past the link does nothing more once the account is disabled, and revoking the
    user (a lock, another recovery's end) ends their runs in every browser (R-34, R-40)."""
    services = server.services
    account = make_recovery_account(services)
    walk = walk_to_choice(server, account, lambda: link_in(outbox(server, account.email, "email")[-1].text))
    services.users.update(account.tenant, account.user, status="disabled")
    ended = walk.post(path="second-factor")
    assert ended.status_code == 403 and "This account cannot be used" in ended.text
    services.users.update(account.tenant, account.user, status="active")
    other = walk_to_choice(server, account, lambda: link_in(outbox(server, account.email, "email")[-1].text))
    services.sessions.revoke_user(account.tenant, account.user.id)
    gone = other.post(path="second-factor")
    assert gone.status_code == 400 and "This page has expired" in gone.text


def test_only_the_newest_link_works_even_when_two_requests_race(server: Any) -> None:
    """R-96: of two links issued at the same moment, exactly one opens the flow, and a stale one spends nothing."""
    import threading

    account = make_recovery_account(server.services)
    links = RecoveryLinks(server.services)
    tokens: list[str] = []
    barrier = threading.Barrier(2)

    def issue() -> None:
        barrier.wait()
        tokens.append(links.issue(account.tenant, account.user.id, ttl=300))

    threads = [threading.Thread(target=issue) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(tokens)) == 2
    opened = [links.redeem(account.tenant, tok) for tok in tokens]
    assert sorted(o is not None for o in opened) == [False, True]


def test_request_limits_apply_before_anything_is_queued(server: Any) -> None:
    """R-48: past the per-login limit, no more emails go out, and the page answers the same."""
    account = make_recovery_account(server.services, config={"flows": {"self-recovery": {"settings": {"max_requests_per_login_per_hour": 2}}}})
    pages = [Walker(server, account.tenant).request_link(account.email) for _ in range(4)]
    assert {p.status_code for p in pages} == {200}
    assert len(outbox(server, account.email, "email")) == 2


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_new_password_refusals_state_their_reason_in_the_users_language(server: Any, lang: str) -> None:
    """R-04, R-25: a new password made of repeated or sequential characters, or holding the username, is refused
    with its reason in the user's language, and the password is left as it was."""
    services = server.services
    account = make_recovery_account(services, locale=lang)
    walk = walk_to_choice(server, account, lambda: link_in(outbox(server, account.email, "email")[-1].text))
    walk.post(path="password")
    walk.post(code=fresh_code(account.totp))
    predictable = {
        "en": "This password is too easy to guess: repeated or sequential characters, a keyboard row, a date or a common word. Choose another.",
        "fr": "Ce mot de passe est trop facile à deviner\u00a0: caractères répétés ou qui se suivent, rangée du clavier, date ou mot courant. Choisissez-en un autre.",
    }[lang]
    identity = {
        "en": "The password must not contain your username, your email or the name of the organisation.",
        "fr": "Le mot de passe ne doit contenir ni votre identifiant, ni votre adresse e-mail, ni le nom de l&#39;organisation.",
    }[lang]
    for weak in ("aaaaaaaaaaaa", "123456789012"):
        walk.post(password=weak, password_confirm=weak)
        assert predictable in walk.page.text, walk.page.text
    mine = f"my name is {account.user.username.upper()}"
    walk.post(password=mine, password_confirm=mine)
    assert identity in walk.page.text
    user = services.users.get(account.tenant, account.user.id)
    assert services.users.verify_password(user, PASSWORD)  # unchanged


@pytest.mark.parametrize("lang", ["en", "fr"])
def test_a_refused_link_leaves_the_run_in_progress_untouched(server: Any, lang: str) -> None:
    """R-43, R-52, R-99 (issue 12 item 4): a junk or used link in the browser of a live run shows its message
    and clears nothing; the run goes on to the end in the same browser."""
    account = make_recovery_account(server.services, locale=lang)
    walk = Walker(server, account.tenant)
    walk.request_link(account.email)
    link = link_in(outbox(server, account.email, "email")[-1].text)
    walk.get(link)
    cookie = next(c for c in walk.browser.cookies if c.name.startswith("idp_flow."))
    expired = {"en": "This link has expired; request a new one.", "fr": "Ce lien a expiré\u00a0; demandez-en un nouveau."}[lang]
    used = {"en": "This link has already been used; request a new one.", "fr": "Ce lien a déjà été utilisé\u00a0; demandez-en un nouveau."}[lang]
    # any page can navigate to a junk link; the used link is the one this run began with
    for refused, message in ((walk.url("/flow/self-recovery/enter?token=junk"), expired), (link, used)):
        response = walk.get(refused, headers={"Accept-Language": lang})
        assert response.status_code == 400 and message in response.text
        assert "idp_flow." not in response.headers.get("Set-Cookie", "")
        assert walk.browser.cookies.get(cookie.name) == cookie.value
    walk.get(walk.url("/flow/self-recovery"))
    assert {"en": "What would you like to do?", "fr": "Que souhaitez-vous faire\u00a0?"}[lang] in walk.page.text
    walk.post(path="password")
    walk.post(code=fresh_code(account.totp))
    walk.post(password="a brand new passphrase 42", password_confirm="a brand new passphrase 42")
    assert {"en": "Your password has been changed", "fr": "Votre mot de passe a été modifié"}[lang] in walk.page.text
    assert server.services.users.verify_password(server.services.users.get(account.tenant, account.user.id), "a brand new passphrase 42")


def test_an_email_change_voids_every_link_and_run_and_tells_the_old_address(server: Any) -> None:
    """R-15, R-29, R-49, R-96 (issue 12 item 1): a user with no second factor, whose link alone would reset the
    password, gets a new email; the link mailed to the old address opens nothing, the run begun with an earlier
    link ends, and the old address receives the "email changed" notice with the lock link."""
    services = server.services
    account = make_recovery_account(services, phone=None)
    tenant = account.tenant
    bare = services.users.create(tenant, "nofactor-" + account.user.username, PASSWORD, email="old." + account.email)
    walk = Walker(server, tenant)
    walk.request_link(bare.email)
    walk.get(link_in(outbox(server, bare.email, "email")[-1].text))
    assert "What would you like to do?" in walk.page.text  # a run in progress past the link
    Walker(server, tenant).request_link(bare.email)
    pending = link_in(outbox(server, bare.email, "email")[-1].text)

    services.users.update(tenant, bare, email="New." + account.email)

    refused = Walker(server, tenant).get(pending)
    assert refused.status_code == 400 and "This link has expired; request a new one." in refused.text
    ended = walk.post(path="password")
    assert ended.status_code == 400 and "This page has expired" in ended.text and 'name="password"' not in ended.text
    assert services.users.verify_password(services.users.get(tenant, bare.id), PASSWORD)  # nothing was reset
    notice = outbox(server, bare.email, "email")[-1]
    assert notice.subject == "The email address of your account was changed"
    assert "If this wasn't you" in notice.text and "https://support.example.org" in notice.text
    lock_link_in(notice.text)
    assert outbox(server, "New." + account.email, "email") == []  # the notice goes to the old address only
    # the new address works as usual
    Walker(server, tenant).request_link("new." + account.email)
    assert Walker(server, tenant).get(link_in(outbox(server, "New." + account.email, "email")[-1].text)).status_code == 200


def test_a_phone_change_ends_the_runs_of_the_user(server: Any) -> None:
    """R-10, R-29 (issue 12 item 1): a new number on file (admin update or a new SMS binding) ends the runs begun
    before it, and the account's address is told."""
    services = server.services
    account = make_recovery_account(services)
    first = walk_to_choice(server, account, lambda: link_in(outbox(server, account.email, "email")[-1].text))
    services.users.update(account.tenant, account.user, phone="+33612345699")
    gone = first.post(path="second-factor")
    assert gone.status_code == 400 and "This page has expired" in gone.text
    second = walk_to_choice(server, account, lambda: link_in(outbox(server, account.email, "email")[-1].text))
    services.factors.set_phone(account.tenant, account.user, "+33612345600")
    gone = second.post(path="second-factor")
    assert gone.status_code == 400 and "This page has expired" in gone.text
    # each new number is told to the account's address, with the lock link
    notices = [m for m in outbox(server, account.email, "email") if "changed" in m.subject]
    assert [m.subject for m in notices] == ["The phone number of your account was changed"] * 2
    assert all("/account/lock" in m.text for m in notices), notices[0].text


def test_a_change_that_is_not_one_keeps_the_links(server: Any) -> None:
    """Issue 12 item 1: the same address in another case, or other fields, change nothing of the runs in progress."""
    services = server.services
    account = make_recovery_account(services)
    walk = walk_to_choice(server, account, lambda: link_in(outbox(server, account.email, "email")[-1].text))
    services.users.update(account.tenant, account.user, email=account.email.upper(), given_name="Bob")
    assert services.users.get(account.tenant, account.user.id).given_name == "Bob"
    walk.post(path="password")
    assert 'name="code"' in walk.page.text
    assert not any("email address" in m.subject for m in outbox(server, account.email, "email"))


def test_a_notice_that_cannot_be_sent_never_undoes_the_email_change(services: Any, aws_env: Any, aws_proxy: Any) -> None:
    """R-15, R-29 (issue 12 item 1): the notice to the old address goes after the commit; when SES refuses it the
    change stands, the outstanding link stays void, and the failure is only logged."""
    from plugins.aws import SENDER, SES_SEND_EMAIL

    from idp.messaging.ses import SesMailer

    account = make_recovery_account(services, phone=None)
    services.mailer.replace(SesMailer(SENDER))
    links = RecoveryLinks(services)
    token = links.issue(account.tenant, account.user.id, ttl=300)
    refused = (400, {"x-amzn-ErrorType": "MailFromDomainNotVerifiedException", "Content-Type": "application/json"}, b'{"message": "refused"}')
    aws_proxy.fail_next(SES_SEND_EMAIL, 5, refused)
    services.users.update(account.tenant, account.user, email="moved." + account.email)
    [attempt] = aws_proxy.calls(SES_SEND_EMAIL)  # the notice was attempted, to the old address
    assert f'"{account.email}"' in attempt.body.decode()
    assert services.users.get(account.tenant, account.user.id).email == "moved." + account.email
    assert services.users.find_by_login(account.tenant, "moved." + account.email).id == account.user.id
    assert services.users.find_by_login(account.tenant, account.email) is None
    assert links.redeem(account.tenant, token) is None


def test_an_email_change_racing_a_link_request_never_mails_the_old_address(server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """R-15, R-29 (issue 12 item 1): the address changes after the request looked the account up but before its
    link exists (the change's voiding ran first): the link is voided and nothing goes to the old address."""
    services = server.services
    account = make_recovery_account(services)
    real_issue = RecoveryLinks.issue

    def issue_after_a_change(self: RecoveryLinks, tenant: Any, user_id: int, ttl: int, locale: str = "") -> str:
        services.users.update(tenant, services.users.get(tenant, user_id), email="moved." + account.email)
        return real_issue(self, tenant, user_id, ttl, locale=locale)

    monkeypatch.setattr(RecoveryLinks, "issue", issue_after_a_change)
    request = recovery_requests.RecoveryRequest(account.email, "127.0.0.1", "test", "en")
    assert recovery_requests.process_request(services, account.tenant, SelfRecoveryConfig(), request) == "no_account"
    # the old address got the change's notice, and no link
    assert [m.subject for m in outbox(server, account.email, "email")] == ["The email address of your account was changed"]
    assert services.store.find(f"{account.tenant.slug}:recovery-latest:{account.user.id}") is None
