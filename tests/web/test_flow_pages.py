"""The web side of the flow engine with small test flows: the recovery link, ended flows, out-of-band entries.

R-43 (steps in order), R-52 (the link's token leaves the address bar), R-65 (no open redirect),
R-99 (state bound to the browser), issue 4 step 1 (« Moyens d'identification perdus ? » only when enabled).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from support.builders import Site, make_site
from support.forms import inputs, page_inputs

from flows.browser_login import BrowserLoginFlow
from idp.flowengine.contract import (
    Abort,
    Challenge,
    Entry,
    Flow,
    Outcome,
    RequestInfo,
    Skip,
    Step,
    StepContext,
    Success,
)
from idp.flowengine.registry import FlowRegistry, RegistryError


class AskStep(Step):
    """Shows a page; a post with ``answer=ok`` proves ``asked``, anything else ends the run (link expired)."""

    name = "ask"
    provides = ("identified", "asked")

    def challenge(self, ctx: StepContext) -> Outcome:
        return Challenge("flow_done.html", {})

    def submit(self, ctx: StepContext, form: Mapping[str, str]) -> Outcome:
        if form.get("answer") == "ok":
            user = ctx.services.users.find_by_login(ctx.tenant, form.get("login", ""))
            return Success(proofs=("identified", "asked"), user_id=user.id if user else None)
        return Abort("link_expired")


class TestRecoveryFlow(Flow):
    """Stands in for the self-recovery plugin: same name, an emailed-link entry."""

    name = "self-recovery"
    completes = "recovery"
    designation = "recovery"
    steps = (AskStep,)
    completion_requires = ("asked",)
    entry_proofs = ("identified", "asked")

    def enter(self, tenant: Any, services: Any, params: Mapping[str, str], request: RequestInfo) -> Entry | Abort | None:
        if params.get("token") != "good-token":
            return Abort("link_expired")
        user = services.users.find_by_login(tenant, params.get("login", ""))
        return Entry(user_id=user.id, proofs=("identified", "asked"), done=("ask",))


class MaybeLinkStep(Step):
    """Can prove the link (so the planner's static check passes) but steps aside: the proof never comes."""

    name = "maybe-link"
    provides = ("email_link",)

    def challenge(self, ctx: StepContext) -> Outcome:
        return Skip()


class NeedsLinkStep(Step):
    name = "needs-link"
    requires = ("email_link",)
    provides = ("done",)

    def challenge(self, ctx: StepContext) -> Outcome:  # never reached: the engine refuses first
        raise AssertionError("ran without its proof")


class OutOfOrderFlow(Flow):
    name = "out-of-order"
    completes = "recovery"
    steps = (MaybeLinkStep, NeedsLinkStep)


@pytest.fixture
def flow_site(make_registry_server: Callable[..., Any]) -> Site:
    registry = FlowRegistry()
    for flow in (BrowserLoginFlow, TestRecoveryFlow, OutOfOrderFlow):
        registry.register(flow)
    return make_site(make_registry_server(registry), config={"branding": {"support_url": "https://help.example.org/"}})


@pytest.mark.parametrize("lang,label", [("fr", "Moyens d'identification perdus\u00a0?"), ("en", "Lost your credentials?")])
def test_lost_credentials_link_shows_only_when_self_recovery_is_enabled(flow_site: Site, lang: str, label: str) -> None:
    """Issue 4, step 1: the link under the sign-in form, beside « Contacter le support », only when the flow is live."""
    assert label not in html.unescape(flow_site.walker(flow_site.browser(lang)).open_login().text)
    flow_site.configure({"flows": {"self-recovery": {"enabled": True}}})
    body = html.unescape(flow_site.walker(flow_site.browser(lang)).open_login().text)
    assert f'<p class="form-link"><a href="/realms/{flow_site.tenant.slug}/flow/self-recovery">{label}</a></p>' in body
    assert "https://help.example.org/" in body


class OtherRecoveryFlow(TestRecoveryFlow):
    """A recovery plugin under another name: the core finds it by its designation, not by a name it knows."""

    name = "lost-access"


def test_the_core_asks_for_the_recovery_flow_by_designation(make_registry_server: Callable[..., Any]) -> None:
    """Issue 13 item 4: « Lost your credentials? » leads to whichever live flow is designated ``recovery``."""
    registry = FlowRegistry()
    for flow in (BrowserLoginFlow, OtherRecoveryFlow):
        registry.register(flow)
    site = make_site(make_registry_server(registry))
    assert "Lost your credentials?" not in html.unescape(site.walker(site.browser("en")).open_login().text)
    site.configure({"flows": {"lost-access": {"enabled": True}}})
    body = html.unescape(site.walker(site.browser("en")).open_login().text)
    assert f'<a href="/realms/{site.tenant.slug}/flow/lost-access">Lost your credentials?</a>' in body


def test_a_flow_with_an_unknown_designation_is_refused_at_load() -> None:
    class Odd(TestRecoveryFlow):
        name = "odd"
        designation = "payments"

    with pytest.raises(RegistryError, match="designation 'payments'"):
        FlowRegistry().register(Odd)


def test_the_link_leads_to_the_flow_and_404s_while_disabled(flow_site: Site) -> None:
    browser = flow_site.browser("en")
    assert browser.get(flow_site.url("/flow/self-recovery"), timeout=10).status_code == 404
    flow_site.configure({"flows": {"self-recovery": {"enabled": True}}})
    page = browser.get(flow_site.url("/flow/self-recovery"), timeout=10)
    assert page.status_code == 200 and page_inputs(page.text) == {}


@pytest.mark.parametrize("lang,message,support", [
    ("fr", "Ce lien a expiré\u00a0; demandez-en un nouveau.", "Contacter le support"),
    ("en", "This link has expired; request a new one.", "Contact support"),
])
def test_an_ended_flow_shows_its_message_and_contact_support(flow_site: Site, lang: str, message: str, support: str) -> None:
    """Ended → an error page in the user's language with « Contacter le support » (issue 4, R-43)."""
    flow_site.configure({"flows": {"self-recovery": {"enabled": True}}})
    browser = flow_site.browser(lang)
    page = browser.get(flow_site.url("/flow/self-recovery"), timeout=10)
    token = browser.get(flow_site.url("/login"), timeout=10)
    fields = inputs(token.text)
    response = browser.post(
        flow_site.url("/flow/self-recovery"), data={"csrf_token": fields["csrf_token"], "step": "ask", "answer": "no"}, timeout=10
    )
    body = html.unescape(response.text)
    assert page.status_code == 200 and response.status_code == 400
    assert message in body and support in body
    assert f'href="/realms/{flow_site.tenant.slug}/flow/self-recovery"' in body  # start again, on our own site
    again = browser.post(flow_site.url("/flow/self-recovery"), data={"csrf_token": fields["csrf_token"], "step": "ask"}, timeout=10)
    assert again.status_code == 400  # the ended run is gone: its page has expired
    assert {"fr": "Cette page a expiré.", "en": "This page has expired."}[lang] in html.unescape(again.text)


@pytest.mark.parametrize("lang,message", [
    ("fr", "Ces étapes doivent être suivies dans l'ordre. Veuillez recommencer."),
    ("en", "These steps must be taken in order. Please start again."),
])
def test_steps_out_of_order_end_the_flow(flow_site: Site, lang: str, message: str) -> None:
    """A step whose proofs are missing never runs: the run ends with steps_out_of_order (R-43)."""
    flow_site.configure({"flows": {"out-of-order": {"enabled": True}}})
    response = flow_site.browser(lang).get(flow_site.url("/flow/out-of-order"), timeout=10)
    assert response.status_code == 400
    assert message in html.unescape(response.text)


def test_an_emailed_link_enters_the_flow_and_drops_the_token(flow_site: Site) -> None:
    """/enter swaps the token and redirects (303) to a URL without it (R-52); the run then completes."""
    flow_site.configure({"flows": {"self-recovery": {"enabled": True}}})
    browser = flow_site.browser("en")
    params = {"token": "good-token", "login": flow_site.username, "ui_locales": "fr"}
    response = browser.get(flow_site.url("/flow/self-recovery/enter"), params=params, timeout=10, allow_redirects=False)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/realms/{flow_site.tenant.slug}/flow/self-recovery?ui_locales=fr"
    done = browser.get(flow_site.server.url + response.headers["Location"], timeout=10)
    assert done.status_code == 200 and "C'est terminé" in html.unescape(done.text)
    assert "idp_sso" not in browser.cookies  # a recovery run does not sign in by itself


@pytest.mark.parametrize("lang,message", [("fr", "Ce lien a expiré"), ("en", "This link has expired")])
def test_a_bad_link_is_an_error_page(flow_site: Site, lang: str, message: str) -> None:
    flow_site.configure({"flows": {"self-recovery": {"enabled": True}}})
    response = flow_site.browser(lang).get(flow_site.url("/flow/self-recovery/enter"), params={"token": "forged"}, timeout=10)
    assert response.status_code == 400 and message in html.unescape(response.text)


def test_a_run_belongs_to_the_browser_that_started_it(flow_site: Site) -> None:
    """A stolen flow cookie is useless in another browser: the state is bound to the browser binding (R-99)."""
    flow_site.configure({"flows": {"self-recovery": {"enabled": True}}})
    owner = flow_site.browser("en")
    owner.get(flow_site.url("/flow/self-recovery"), timeout=10)
    thief = flow_site.browser("en")
    page = thief.get(flow_site.url("/login"), timeout=10)
    for cookie in owner.cookies:
        if cookie.name.startswith("idp_flow."):
            thief.cookies.set(cookie.name, cookie.value, path="/")
    response = thief.post(
        flow_site.url("/flow/self-recovery"),
        data={"csrf_token": inputs(page.text)["csrf_token"], "step": "ask", "answer": "ok", "login": flow_site.username},
        timeout=10,
    )
    assert response.status_code == 400 and "This page has expired" in response.text
