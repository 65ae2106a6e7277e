"""The account console without JavaScript (issue 14, item 4): sign-in through the tenant's pages, factors, password,
sessions, events, re-authentication, CSRF and tenant isolation, as a browser sees them."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
import pytest
import requests
from support.builders import PASSWORD
from support.forms import find_form
from support.messages import outbox, wait_for

from web.account_console_support import Holder, make_holder

NEW_PASSWORD = "a quiet meadow under grey skies"


def notices(holder: Holder) -> list[Any]:
    """The account-change notices mailed to the holder, oldest first."""
    return [m for m in outbox(holder.server, to="holder@example.com") if m.tags.get("kind") == "account-change-notice"]


@pytest.fixture
def holder(live_server: Any) -> Holder:
    return make_holder(live_server)


def test_without_a_session_the_console_sends_the_browser_through_sign_in_and_back(holder: Holder) -> None:
    """The console reuses the IdP's sign-in (password, then TOTP) and comes back to the page asked for."""
    first = holder.get("/events")
    assert first.url.startswith(f"{holder.server.url}/realms/{holder.tenant.slug}/flow/"), first.url
    assert find_form(first.text, "password") is not None
    page = holder.sign_in_from(first)
    assert page.status_code == 200 and page.url == f"{holder.base}/events", page.url
    assert holder.user.username in page.text
    # the ID token of the console's sign-in was checked, and the sign-in shows among the security events
    assert "Second factor accepted" in page.text


def test_factors_are_listed_renamed_and_removed_and_the_change_is_audited_and_mailed(holder: Holder) -> None:
    services = holder.server.services
    page = holder.open("/security")
    factor = services.factors.active(holder.tenant, holder.user, "totp")[0]
    assert f'id="factor-{factor.id}"' in page.text and "Phone" in page.text and "Authenticator app" in page.text
    rename = holder.get(f"/security/factors/{factor.id}/rename")
    done = holder.post(rename, f"/security/factors/{factor.id}/rename", label="  Work   phone ")
    assert done.url.endswith("/security?done=renamed") and "Work phone" in done.text and "The name was saved." in done.text
    # a second authenticator, then remove the first
    services.factors.add_totp(holder.tenant, holder.user, pyotp.random_base32(), label="Tablet")
    confirm = holder.get(f"/security/factors/{factor.id}/remove")
    assert "Work phone" in confirm.text
    removed = holder.post(confirm, f"/security/factors/{factor.id}/remove")
    assert removed.url.endswith("/security?done=removed") and "Work phone" not in removed.text and "Tablet" in removed.text
    assert [f.label for f in services.factors.active(holder.tenant, holder.user)] == ["Tablet"]
    notice = wait_for(lambda: notices(holder))[-1]
    assert notice.subject == "The second factors of your account changed" and "A second factor was removed" in notice.text
    types = [e.type for e in services.audit.query(holder.tenant.id, user_id=holder.user.id)]
    assert "factor.renamed" in types and "factor.removed" in types
    events = holder.open("/events")
    assert "Second factor removed" in events.text and "Second factor renamed" in events.text


def test_the_last_second_factor_stays_where_the_tenant_requires_one(live_server: Any) -> None:
    """Removing the last second factor under the ``required`` MFA policy is refused with a clear message (R-19, issue 14)."""
    holder = make_holder(live_server, mfa="required")
    services = holder.server.services
    holder.open("/security")
    factor = services.factors.active(holder.tenant, holder.user, "totp")[0]
    refused = holder.post(holder.get(f"/security/factors/{factor.id}/remove"), f"/security/factors/{factor.id}/remove")
    assert refused.status_code == 409
    assert "Your organisation requires a second factor: add another one before you remove this one." in refused.text
    assert [f.id for f in services.factors.active(holder.tenant, holder.user)] == [factor.id]


def test_password_change_needs_the_current_one_and_the_old_one_stops_working(holder: Holder) -> None:
    """R-26 (current password), R-04 (policy with a reason), R-51 (typed twice); then only the new password signs in."""
    form = holder.open("/security/password")
    wrong = holder.post(form, "/security/password", current_password="not my password", new_password=NEW_PASSWORD, new_password_again=NEW_PASSWORD)
    assert wrong.status_code == 403 and "Your current password is not right." in wrong.text
    weak = holder.post(form, "/security/password", current_password=PASSWORD, new_password="short", new_password_again="short")
    assert weak.status_code == 422 and "This password is too short." in weak.text
    mismatch = holder.post(form, "/security/password", current_password=PASSWORD, new_password=NEW_PASSWORD, new_password_again=NEW_PASSWORD + "x")
    assert mismatch.status_code == 422 and "The two new passwords are not the same." in mismatch.text
    done = holder.post(form, "/security/password", current_password=PASSWORD, new_password=NEW_PASSWORD, new_password_again=NEW_PASSWORD)
    assert done.url.endswith("/security?done=password") and "Your password was changed." in done.text
    services = holder.server.services
    fresh = services.users.get(holder.tenant, holder.user.id)
    assert not services.users.verify_password(fresh, PASSWORD) and services.users.verify_password(fresh, NEW_PASSWORD)
    # the holder is told, with a "not you?" lock link
    notice = wait_for(lambda: notices(holder))[-1]
    assert notice.subject == "Your password was changed" and f"/realms/{holder.tenant.slug}/account/lock?token=" in notice.text
    assert PASSWORD not in notice.text and NEW_PASSWORD not in notice.text
    # the old password no longer signs in, in a new browser
    other = Holder(holder.server, holder.tenant, holder.user, holder.totp, used=holder.used)
    refused = other.sign_in_from(other.get())
    assert find_form(refused.text, "password") is not None and refused.url.startswith(f"{holder.server.url}/realms/{holder.tenant.slug}/flow/")
    other.password = NEW_PASSWORD
    assert other.open().url == other.base


def test_sessions_are_listed_and_a_signed_out_session_no_longer_works(holder: Holder) -> None:
    """R-40, R-41: the user sees their sessions and signs one out from another browser; that browser is signed out."""
    laptop = Holder(holder.server, holder.tenant, holder.user, holder.totp, used=holder.used)
    laptop.browser.headers["User-Agent"] = "Laptop browser 1.0"
    laptop.open()
    page = holder.open("/sessions")
    rows = re.findall(r'id="session-([^"]+)"', page.text)
    assert len(rows) == 2 and "Laptop browser 1.0" in page.text and "this session" in page.text
    laptop_sid = next(sid for sid in rows if f'id="session-{sid}">\n    <td>Laptop browser 1.0' in page.text)
    done = holder.post(page, f"/sessions/{laptop_sid}")
    assert done.url.endswith("/sessions?done=session_ended") and "Laptop browser 1.0" not in done.text
    assert find_form(laptop.get().text, "password") is not None  # the laptop must sign in again
    assert holder.get("/sessions").status_code == 200  # this browser still is
    assert "account.session_ended" in [e.type for e in holder.server.services.audit.query(holder.tenant.id, user_id=holder.user.id)]
    # « Sign out every other session », then « Sign out » of this one
    services = holder.server.services
    phone = services.sessions.establish(holder.tenant, holder.user.id, ["pwd", "otp", "mfa"], "urn:idp:acr:mfa", user_agent="Phone")
    others = holder.post(holder.get("/sessions"), "/sessions")
    assert others.url.endswith("/sessions?done=others_ended") and "Every other session was signed out." in others.text
    assert services.sessions.find(holder.tenant, phone.token) is None
    assert len(re.findall(r'id="session-', others.text)) == 1
    out = holder.post(others, "/sign-out")
    assert out.status_code == 200 and "You are signed out" in out.text
    assert find_form(holder.get("/sessions").text, "password") is not None
    assert services.sessions.of_user(holder.tenant, holder.user.id) == []


def test_a_change_of_credentials_needs_a_recent_authentication(make_live_server: Any) -> None:
    """R-38, R-54: past ``IDP_ACCOUNT_REAUTH_MAX_AGE`` the browser signs in again (password and TOTP) and comes back to the action."""
    server = make_live_server(account_reauth_max_age=2)
    holder = make_holder(server)
    form = holder.open("/security/password")
    assert "Current password" in form.text
    time.sleep(3)
    stale = holder.post(form, "/security/password", current_password=PASSWORD, new_password=NEW_PASSWORD, new_password_again=NEW_PASSWORD)
    assert find_form(stale.text, "password") is not None and "/flow/" in stale.url, stale.url
    assert holder.server.services.users.verify_password(holder.server.services.users.get(holder.tenant, holder.user.id), PASSWORD)
    back = holder.sign_in_from(stale)
    assert holder.asked_code  # password and second factor again
    assert back.url == f"{holder.base}/security/password" and "Current password" in back.text
    done = holder.post(back, "/security/password", current_password=PASSWORD, new_password=NEW_PASSWORD, new_password_again=NEW_PASSWORD)
    assert done.url.endswith("/security?done=password")


def test_a_form_without_its_csrf_token_is_refused(holder: Holder) -> None:
    """R-42: every form of the console carries the browser's CSRF token; without it nothing changes."""
    holder.open("/security")
    factor = holder.server.services.factors.active(holder.tenant, holder.user, "totp")[0]
    for path, data in (
        (f"/security/factors/{factor.id}/remove", {}),
        (f"/security/factors/{factor.id}/rename", {"label": "x"}),
        ("/security/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}),
        ("/security/recovery-codes", {}),
        ("/sessions", {}),
    ):
        refused = holder.browser.post(f"{holder.base}{path}", data={**data, "csrf_token": "forged"}, timeout=30, allow_redirects=False)
        assert refused.status_code == 400, path
    assert [f.label for f in holder.server.services.factors.active(holder.tenant, holder.user)] == ["Phone"]


def test_a_session_of_one_tenant_opens_nothing_at_another(live_server: Any) -> None:
    """R-44: tenant B's console does not see tenant A's session; a factor of A is not reachable through B."""
    a = make_holder(live_server)
    b = make_holder(live_server)
    a.open("/security")
    factor = live_server.services.factors.active(a.tenant, a.user, "totp")[0]
    at_b = a.browser.get(f"{b.base}/security", timeout=30)
    assert find_form(at_b.text, "password") is not None and a.user.username not in at_b.text
    # the cookie sent by hand to B's path: still nothing (sessions are keyed per tenant)
    cookie = next(c for c in a.browser.cookies if c.name == "idp_sso")
    forged = requests.get(f"{b.base}/security/factors/{factor.id}/remove", cookies={"idp_sso": cookie.value}, timeout=30, allow_redirects=False)
    assert forged.status_code == 303 and "/protocol/openid-connect/auth" in forged.headers["Location"]


def test_an_authenticator_is_added_and_recovery_codes_are_regenerated(holder: Holder) -> None:
    """R-85: the new authenticator is saved once a first code from the shown key is valid; a new set of recovery codes voids the old one."""
    services = holder.server.services
    old = services.factors.generate_recovery_codes(holder.tenant, holder.user)
    page = holder.open("/security/authenticator")
    assert "<svg" in page.text and page.headers["Cache-Control"].startswith("no-store")
    key = re.search(r'<code class="secret" translate="no">([A-Z2-7 ]+)</code>', page.text)
    assert key is not None
    secret = key.group(1).replace(" ", "")
    wrong = holder.post(page, "/security/authenticator", code="000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    assert wrong.status_code == 422 and "This code is not valid" in wrong.text
    done = holder.post(wrong, "/security/authenticator", code=pyotp.TOTP(secret).now(), label="Second phone")
    assert done.url.endswith("/security?done=added") and "Second phone" in done.text
    assert sorted(f.label for f in services.factors.active(holder.tenant, holder.user, "totp")) == ["Phone", "Second phone"]
    confirm = holder.open("/security/recovery-codes")
    shown = holder.post(confirm, "/security/recovery-codes")
    codes = re.findall(r"<li><code>([a-z2-7-]+)</code></li>", shown.text)
    assert len(codes) == 10 and shown.headers["Cache-Control"].startswith("no-store")
    assert not services.factors.use_recovery_code(holder.tenant, holder.user, old[0])
    assert services.factors.use_recovery_code(holder.tenant, holder.user, codes[0])


def test_the_callback_answers_only_the_browser_that_started_the_sign_in(holder: Holder) -> None:
    """R-42/R-65: a state from another browser, or none, is refused; the redirect goes only to console pages."""
    start = holder.get("/security", allow_redirects=False)
    assert start.status_code == 303
    location = start.headers["Location"]
    assert location.startswith(f"/realms/{holder.tenant.slug}/protocol/openid-connect/auth?") and "code_challenge_method=S256" in location
    state = re.search(r"[?&]state=([^&]+)", location)
    assert state is not None
    stranger = requests.get(f"{holder.base}/callback", params={"state": state.group(1), "code": "x"}, timeout=30, allow_redirects=False)
    assert stranger.status_code == 400 and "Your session has expired" in stranger.text
    # the state was spent by that attempt: the right browser cannot replay it either
    again = holder.get("/callback", params={"state": state.group(1), "code": "x"}, allow_redirects=False)
    assert again.status_code == 400


def test_applications_the_user_allowed_are_listed_and_their_access_removed(holder: Holder) -> None:
    """Issue 15 item 3: a consent is revocable in the account console; the application then asks again (R-76)."""
    services = holder.server.services
    services.clients.create(holder.tenant, "partner-photos", ["https://photos.example/cb"], name="Partner Photos", consent_required=True)
    services.consents.grant(holder.tenant, holder.user.id, "partner-photos", ["openid", "email"])
    page = holder.open("/applications")
    assert 'id="application-partner-photos"' in page.text and "Partner Photos" in page.text
    assert "Your email address" in page.text and "Confirm who you are" in page.text
    done = holder.post(page, "/applications/partner-photos")
    assert done.url.endswith("/applications?done=consent_revoked") and "access was removed." in done.text
    assert "Partner Photos" not in done.text and "No application has access to your account." in done.text
    assert services.consents.list_for_user(holder.tenant, holder.user.id) == []
    event = services.audit.query(holder.tenant.id, user_id=holder.user.id, type="consent.revoked", limit=1)[0]
    assert event.actor == f"user:{holder.user.id}"
    # a second tab still showing the application removes it again: told, nothing else changes
    again = holder.post(page, "/applications/partner-photos")
    assert again.status_code == 404 and "That application no longer has access." in again.text
    assert "Application access removed" in holder.get("/events").text
