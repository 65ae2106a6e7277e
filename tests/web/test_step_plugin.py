"""A second factor added as a plugin, with no edit to ``idp/`` or to the login flow (issue 13, "Done when").

The README's worked example, ``examples/email_code`` (a code by email), registered as its ``idp.steps``
entry point registers it, on a live server with the real login flow: the login flow's default bindings
offer it as an alternative after TOTP and SMS to the users it is configured for; the engine throttles and
audits its attempts; a tenant's own bindings can turn it off, and a binding list that skips a proof is
refused with the field named.
"""

from __future__ import annotations

import configparser
import html
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyotp
import pytest
from support.builders import PASSWORD, Site, make_site
from support.forms import find_form
from support.messages import code_in, outbox

from flows.browser_login import BrowserLoginFlow
from flows.self_recovery import SelfRecoveryFlow
from idp.flowengine.registry import FlowRegistry
from idp.oidc.sessions import COOKIE as SSO_COOKIE
from idp.tenants.service import TenantError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "email_code"


def _entry_point() -> Any:
    """What the example's ``idp.steps`` entry point loads (read from its setup.cfg, as pip would install it)."""
    config = configparser.ConfigParser()
    config.read(EXAMPLE / "setup.cfg")
    name, target = (part.strip() for part in config["options.entry_points"]["idp.steps"].strip().split("="))
    module, attr = target.split(":")
    sys.path.insert(0, str(EXAMPLE))
    try:
        step = getattr(importlib.import_module(module), attr)
    finally:
        sys.path.remove(str(EXAMPLE))
    assert step.name == name
    return step


@pytest.fixture(scope="module")
def email_code() -> Any:
    return _entry_point()


@pytest.fixture
def site(make_registry_server: Callable[..., Any], email_code: Any) -> Site:
    registry = FlowRegistry()
    registry.register_step(email_code)  # what FlowRegistry.load_entry_points does for the installed package
    registry.register(BrowserLoginFlow)
    registry.register(SelfRecoveryFlow)
    site = make_site(make_registry_server(registry))
    user = site.services.users.by_username(site.tenant, site.username)
    site.services.users.update(site.tenant, user, email_verified=True)
    return site


def _mailed_code(site: Site) -> str:
    mails = [m for m in outbox(site.server, to=site.email, kind="email") if "sign-in code" in m.subject]
    assert mails, "no code was mailed"
    return code_in(mails[-1].text)


def test_the_plugin_is_offered_to_a_user_it_is_configured_for_and_signs_them_in(site: Site) -> None:
    walker = site.walker(site.browser("en"))
    page = walker.post_login(walker.open_login(), site.username, PASSWORD)
    assert page.status_code == 200 and "We sent a code to a•••@example.org." in page.text
    assert find_form(page.text, "code") is not None
    wrong = walker.post_code("000000")
    assert wrong.status_code == 200 and "This code is not valid" in wrong.text  # the core's message for the engine's error id
    done = walker.post_code(_mailed_code(site))
    assert "You are signed in" in done.text and SSO_COOKIE in done.cookies
    events = [e.type for e in site.services.audit.query(site.tenant.id, limit=20)]
    assert "login.second_factor_failed" in events and "login.second_factor_ok" in events  # audited by the engine, not the plugin


def test_an_authenticator_comes_first_and_the_plugin_is_passed_over_without_its_factor(site: Site) -> None:
    user = site.services.users.by_username(site.tenant, site.username)
    site.services.factors.add_totp(site.tenant, user, pyotp.random_base32())
    walker = site.walker(site.browser("en"))
    page = walker.post_login(walker.open_login(), site.username, PASSWORD)
    assert "Open your authenticator app" in page.text  # TOTP is the first alternative
    site.services.users.create(site.tenant, "bob-unverified", PASSWORD, email="bob.unverified@example.org")
    walker = site.walker(site.browser("en"))
    done = walker.post_login(walker.open_login(), "bob-unverified", PASSWORD)
    assert "You are signed in" in done.text  # optional policy, no factor configured for him: the password alone
    assert not outbox(site.server, to="bob.unverified@example.org", kind="email")


def test_a_tenant_turns_the_plugin_off_with_its_own_bindings(site: Site) -> None:
    site.configure(
        {
            "flows": {
                "browser-login": {
                    "bindings": [
                        {"step": "password"},
                        {
                            "id": "second-factor",
                            "requirement": "CONDITIONAL",
                            "condition": "second-factor-needed",
                            "bindings": [
                                {"step": "totp", "requirement": "ALTERNATIVE"},
                                {"step": "email-code", "requirement": "DISABLED"},
                                {"step": "totp-setup", "requirement": "ALTERNATIVE"},
                            ],
                        },
                    ]
                }
            }
        }
    )
    walker = site.walker(site.browser("en"))
    done = walker.post_login(walker.open_login(), site.username, PASSWORD)
    assert "You are signed in" in done.text


@pytest.mark.parametrize(
    "bindings,field,message",
    [
        ([{"step": "totp"}], "flows.browser-login.bindings[totp]", "reaches 'totp' without proving: password"),
        ([{"step": "password"}, {"step": "fingerprint"}], "flows.browser-login.bindings[fingerprint].step", "unknown step 'fingerprint'"),
        ([{"step": "password", "requirement": "SOMETIMES"}], "flows.browser-login.bindings[0].requirement", "must be REQUIRED, ALTERNATIVE"),
        ([{"step": "password"}, {"id": "x", "condition": "full-moon", "bindings": [{"step": "totp"}]}], "flows.browser-login.bindings[x].condition", "unknown condition 'full-moon'"),
    ],
)
def test_bindings_that_would_not_hold_are_refused_naming_the_field(site: Site, bindings: list[Any], field: str, message: str) -> None:
    before = site.services.tenants.require(site.tenant.slug).config.flow("browser-login")
    with pytest.raises(TenantError) as refused:
        site.configure({"flows": {"browser-login": {"bindings": bindings}}})
    assert refused.value.status == 422 and refused.value.field == field and message in str(refused.value)
    assert site.services.tenants.require(site.tenant.slug).config.flow("browser-login") == before  # nothing written


def test_recovery_bindings_cannot_replace_a_factor_without_the_sms_code(site: Site) -> None:
    """The planner's static check runs on every change: R-17's link + password + SMS before "factor replaced"."""
    bindings = [
        {"step": "request"},
        {"step": "choose"},
        {"id": "reset", "condition": "chose-second-factor", "bindings": [
            {"step": "password", "requires": ["email_link"]},
            {"step": "totp-setup", "requires": ["email_link", "password"], "config": {"replace_existing": True}},
        ]},
    ]
    with pytest.raises(TenantError) as refused:
        site.configure({"flows": {"self-recovery": {"enabled": True, "bindings": bindings}}})
    assert refused.value.field == "flows.self-recovery.bindings[totp-setup]" and "without proving: sms" in str(refused.value)


def test_try_another_way_leads_from_the_authenticator_to_the_plugin_and_only_there(site: Site) -> None:
    """The engine offers the other alternatives the user has set up ("Try another way"); a way not offered
    (a step of another level, one the user lacks) is not taken: the page shows again."""
    user = site.services.users.by_username(site.tenant, site.username)
    site.services.factors.add_totp(site.tenant, user, pyotp.random_base32())
    walker = site.walker(site.browser("fr"))
    totp_page = walker.post_login(walker.open_login(), site.username, PASSWORD)
    assert "Autres moyens de confirmer votre identité" in totp_page.text and "Get a code by email instead" in totp_page.text
    for forged in ("totp-setup", "password", "sms"):
        again = walker.post(which="way=email-code", way=forged)
        assert again.status_code == 200 and "votre application d'authentification" in html.unescape(again.text)  # still the TOTP page
        assert not [m for m in outbox(site.server, to=site.email, kind="email") if "sign-in code" in m.subject]
        walker.page = totp_page
    chosen = walker.post(which="way=email-code")
    assert "We sent a code to" in chosen.text and "Use your authenticator app instead" not in chosen.text  # TOTP was declined
    done = walker.post_code(_mailed_code(site))
    assert "Vous êtes connecté" in done.text
