"""Recovery codes end to end on a live server (issue 14, item 3; R-06, R-55).

A user enrols an authenticator under the ``required`` policy and is shown ten codes once; later, without
the authenticator, "Use a recovery code instead" signs them in with one code, which is spent: the page
and the notice email say how many remain; the same code fails the next time. The self-recovery's
password path accepts a code as the second-factor proof; an admin removing the set voids every code.
"""

from __future__ import annotations

import html
import re

import pyotp
from support.builders import PASSWORD, Site
from support.forms import find_form
from support.messages import outbox

from idp.oidc.sessions import COOKIE as SSO_COOKIE

CODE = re.compile(r"<li><code>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</code></li>")


def _enrol(site: Site) -> list[str]:
    site.configure({"mfa": {"policy": "required"}})
    walker = site.walker(site.browser("en"))
    setup = walker.post_login(walker.open_login(), site.username, PASSWORD)
    key = re.search(r'<code class="secret"[^>]*>([A-Z2-7 ]+)</code>', setup.text).group(1).replace(" ", "")
    saved = walker.post(which="code", code=pyotp.TOTP(key).now())
    codes = CODE.findall(saved.text)
    assert "Save your recovery codes." in saved.text and len(set(codes)) == 10
    done = walker.post()
    assert "You are signed in" in done.text
    return codes


def test_a_saved_code_signs_in_once_and_says_how_many_remain(site: Site) -> None:
    codes = _enrol(site)
    walker = site.walker(site.browser("fr"))
    totp_page = walker.post_login(walker.open_login(), site.username, PASSWORD)
    assert "Utiliser plutôt un code de récupération" in html.unescape(totp_page.text)
    code_page = walker.post(which="way=recovery-code")
    assert "Saisissez un code de récupération." in code_page.text
    wrong = walker.post(which="code", code="aaaa-bbbb-cccc-dddd")
    assert wrong.status_code == 200 and find_form(wrong.text, "code") is not None
    accepted = walker.post(which="code", code=codes[4].upper())
    assert "Code de récupération accepté." in html.unescape(accepted.text) and "Il vous reste 9 codes de récupération." in accepted.text
    done = walker.post(which=-1)
    assert "Vous êtes connecté" in html.unescape(done.text) and SSO_COOKIE in done.cookies
    notices = [m for m in outbox(site.server, to=site.email, kind="email") if "code de récupération" in m.subject.lower() or "recovery code" in m.subject.lower()]
    assert notices and "9" in notices[-1].text
    events = [e.type for e in site.services.audit.query(site.tenant.id, limit=50)]
    assert "login.second_factor_failed" in events and "factor.recovery_code_used" in events

    again = site.walker(site.browser("en"))
    again.post_login(again.open_login(), site.username, PASSWORD)
    again.post(which="way=recovery-code")
    refused = again.post(which="code", code=codes[4])
    assert "This code is not valid" in html.unescape(refused.text)  # spent


def test_removing_the_set_voids_every_code(site: Site) -> None:
    codes = _enrol(site)
    user = site.services.users.by_username(site.tenant, site.username)
    [rc] = [f for f in site.services.factors.active(site.tenant, user) if f.type == "recovery_code"]
    site.services.factors.remove_factor(site.tenant, user, rc.id, actor="admin:test")
    assert not site.services.factors.use_recovery_code(site.tenant, user, codes[0]).ok
    walker = site.walker(site.browser("en"))
    totp_page = walker.post_login(walker.open_login(), site.username, PASSWORD)
    assert "Use a recovery code instead" not in totp_page.text


def test_wrong_codes_are_throttled_like_any_code_and_each_code_passes_once(site: Site) -> None:
    """R-06: wrong recovery codes at sign-in are counted like any code: past the free tries the page answers 429,
    even for a right code, which is then not spent. Then, through the factor service the sign-in step calls, each of
    the ten codes is accepted exactly once and an eleventh use (a spent code again) is refused (the pages' single use
    is in test_a_saved_code_signs_in_once_and_says_how_many_remain)."""
    codes = _enrol(site)
    walker = site.walker(site.browser("en"))
    walker.post_login(walker.open_login(), site.username, PASSWORD)
    walker.post(which="way=recovery-code")
    statuses = [walker.post(which="code", code=f"aaaa-bbbb-cccc-ddd{'abcdef'[i]}").status_code for i in range(6)]
    assert statuses == [200] * 5 + [429]
    blocked = walker.post(which="code", code=codes[0])
    assert blocked.status_code == 429 and "Too many attempts" in html.unescape(blocked.text)
    assert "Retry-After" in blocked.headers

    factors = site.services.factors
    user = site.services.users.find_by_login(site.tenant, site.username)
    assert factors.recovery_codes_left(site.tenant, user) == 10  # the throttled right code was not spent
    assert [bool(factors.use_recovery_code(site.tenant, user, code)) for code in codes] == [True] * 10
    assert factors.recovery_codes_left(site.tenant, user) == 0
    assert not factors.use_recovery_code(site.tenant, user, codes[0])  # the eleventh use
