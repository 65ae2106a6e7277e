"""What one sign-in reads and writes (issue 7, performance): the run's user and factors once per request.

R-46 (the second factor's success is audited, in the transaction that records the factor's last use, R-14),
R-43 (a run is saved where it stops: a request that fails half-way leaves the run as it started).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from sqlalchemy import event
from support.builders import PASSWORD, Site, make_site
from support.walkers import submit

from idp.accounts.factors import FactorService
from idp.flowengine.contract import FlowState


@pytest.fixture
def site(live_server: Any) -> Site:
    return make_site(live_server)


@pytest.fixture
def statements(site: Site) -> Iterator[list[str]]:
    """Every SQL statement the server runs (one line each), and ``COMMIT`` where a transaction commits."""
    seen: list[str] = []
    engine = site.services.db.engine

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(" ".join(statement.split()))

    def on_commit(conn: Any) -> None:
        seen.append("COMMIT")

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "commit", on_commit)
    yield seen
    event.remove(engine, "before_cursor_execute", on_execute)
    event.remove(engine, "commit", on_commit)


def _reads(seen: list[str], table: str) -> int:
    return sum(1 for s in seen if s.startswith("SELECT") and f"FROM {table} " in s + " ")


def _fresh_step() -> None:
    while 30 - (time.time() % 30) < 3.0:
        time.sleep(0.2)


def test_each_request_of_a_sign_in_reads_the_user_and_factors_once_r46(site: Site, statements: list[str]) -> None:
    """Password then TOTP: one look-up of the login, one read of the user per request, one read of the factors
    per request; the TOTP success is audited (R-46) in the transaction that records the factor's use (R-14)."""
    user = site.services.users.by_username(site.tenant, site.username)
    _, uri = site.services.factors.add_totp(site.tenant, user)
    totp = pyotp.parse_uri(uri)
    browser = site.browser("en")
    page = site.walker(browser).open_login()

    statements.clear()
    page = submit(browser, page, username=site.username, password=PASSWORD)
    assert page.status_code == 200 and 'name="code"' in page.text, page.text
    assert _reads(statements, "users") == 1  # the look-up of what was typed; the next steps reuse that row
    assert _reads(statements, "factors") == 1  # one read decides whether the TOTP step applies and draws its page

    _fresh_step()
    statements.clear()
    done = submit(browser, page, code=totp.now())
    assert done.status_code == 200 and "You are signed in" in done.text, done.text
    # the run's user once, and SessionService.establish once more on purpose: the new session's status check
    # must see the account as it is after the request's steps (disabled meanwhile: no session, R-34, R-40)
    assert _reads(statements, "users") == 2
    assert _reads(statements, "factors") == 1
    update = next(i for i, s in enumerate(statements) if s.startswith("UPDATE factors"))
    insert = next(i for i, s in enumerate(statements) if s.startswith("INSERT INTO audit_events") and i > update)
    assert "COMMIT" not in statements[update:insert]  # one transaction

    [factor] = site.services.factors.active(site.tenant, user)
    assert factor.last_used_at is not None
    [event_ok] = [e for e in site.services.audit.query(site.tenant.id, type="login.second_factor_ok", user_id=user.id)]
    assert event_ok.details == {"flow": "browser-login", "factor": "totp"}
    assert event_ok.client_ip == "127.0.0.1" and event_ok.actor == ""


def test_a_request_that_fails_half_way_leaves_the_run_as_it_started_r43(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """The password succeeds but reading the factors for the next step fails: a 500, and the run still asks
    for the password (nothing it proved in the failed request was kept)."""
    user = site.services.users.by_username(site.tenant, site.username)
    site.services.factors.add_totp(site.tenant, user)
    browser = site.browser("en")
    page = site.walker(browser).open_login()

    def broken(self: FactorService, tenant: Any, user: Any) -> Any:
        raise RuntimeError("database went away")

    monkeypatch.setattr(FactorService, "of_user", broken)
    failed = submit(browser, page, username=site.username, password=PASSWORD)
    assert failed.status_code == 500
    monkeypatch.undo()

    again = browser.get(site.url("/flow/browser-login"), timeout=10)
    assert again.status_code == 200 and 'name="password"' in again.text and 'name="code"' not in again.text


def test_flow_state_json_holds_every_field_and_round_trips() -> None:
    """The hand-written codec (saved once per request) keeps every field of the dataclass, as copies."""
    state = FlowState(
        id="run",
        tenant="acme",
        flow="browser-login",
        browser="b",
        user_id=7,
        done=["password"],
        proofs=["identified", "password"],
        amr=["pwd"],
        auth_request={"client_id": "rp", "acr_values": "mfa"},
        data={"totp": {"noticed": True}},
    )
    data = state.to_json()
    assert data == dataclasses.asdict(state) and list(data) == [f.name for f in dataclasses.fields(FlowState)]
    assert FlowState.from_json(json.loads(json.dumps(data))) == state
    data["data"]["totp"]["noticed"] = False
    data["done"].append("totp")
    assert state.data == {"totp": {"noticed": True}} and state.done == ["password"]  # copies, not the state's own
