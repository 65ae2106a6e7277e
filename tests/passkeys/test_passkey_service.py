"""The passkey service's rules without a browser (issue 14, item 1), with a software authenticator (bench/softkey.py)
on real storage (SQLite and, when configured, PostgreSQL) and the real ephemeral store."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from conftest import database_urls
from support.builders import make_account

from bench.softkey import SoftPasskey
from idp.accounts.factors import FactorError


@pytest.fixture(params=database_urls())
def services(request: pytest.FixtureRequest, make_services: Any) -> Any:
    return make_services(database_url=request.param, public_url="https://login.example.org")


def _account(services: Any) -> Any:
    suffix = secrets.token_hex(4)
    return make_account(services, f"s-{suffix}", f"dan{suffix}", email=f"dan.{suffix}@example.org", totp=True)


def _registered(services: Any, account: Any, replace: bool = False) -> SoftPasskey:
    key = SoftPasskey("login.example.org", "https://login.example.org")
    options = services.factors.begin_passkey_registration(account.tenant, account.user)
    services.factors.finish_passkey_registration(account.tenant, account.user, options.ceremony, key.register(options.options_json), replace_existing=replace)
    return key


def _sign_in(services: Any, tenant: Any, key: SoftPasskey, user: Any = None) -> Any:
    options = services.factors.begin_passkey_authentication(tenant, user)
    return services.factors.finish_passkey_authentication(tenant, options.ceremony, key.assertion(options.options_json), user=user)


def test_the_rp_is_the_public_urls_host_and_a_ceremony_is_single_use(services: Any) -> None:
    """R-43: the challenge is the server's, taken once: the same answer twice is refused the second time."""
    account = _account(services)
    key = SoftPasskey("login.example.org", "https://login.example.org")
    options = services.factors.begin_passkey_registration(account.tenant, account.user)
    assert '"id": "login.example.org"' in options.options_json and '"residentKey": "required"' in options.options_json
    answer = key.register(options.options_json)
    services.factors.finish_passkey_registration(account.tenant, account.user, options.ceremony, answer)
    with pytest.raises(FactorError) as refused:
        services.factors.finish_passkey_registration(account.tenant, account.user, options.ceremony, answer)
    assert refused.value.code == "passkey_expired"
    login = services.factors.begin_passkey_authentication(account.tenant)
    proof = key.assertion(login.options_json)
    first = services.factors.finish_passkey_authentication(account.tenant, login.ceremony, proof)
    assert first and first.user_id == account.user.id and first.method == "hwk"
    assert services.factors.finish_passkey_authentication(account.tenant, login.ceremony, proof).reason == "expired"


def test_another_origin_or_rp_is_refused_and_nothing_is_saved(services: Any) -> None:
    account = _account(services)
    for rp_id, origin in (("evil.example", "https://login.example.org"), ("login.example.org", "https://evil.example")):
        options = services.factors.begin_passkey_registration(account.tenant, account.user)
        with pytest.raises(FactorError) as refused:
            services.factors.finish_passkey_registration(account.tenant, account.user, options.ceremony, SoftPasskey(rp_id, origin).register(options.options_json))
        assert refused.value.code == "passkey_invalid"
    assert not services.factors.has_passkeys(account.tenant, account.user)


def test_a_counter_that_goes_back_is_a_clone(services: Any) -> None:
    account = _account(services)
    key = _registered(services, account)
    assert _sign_in(services, account.tenant, key)
    key.sign_count = 0  # a copy made before that use
    refused = _sign_in(services, account.tenant, key)
    assert not refused and refused.reason == "cloned"
    assert "factor.passkey_clone_suspected" in [e.type for e in services.audit.query(account.tenant.id, user_id=account.user.id, limit=20)]


def test_a_passkey_of_another_tenant_or_user_is_unknown(services: Any) -> None:
    """R-44: found by tenant and credential id only."""
    a, b = _account(services), _account(services)
    key = _registered(services, a)
    assert _sign_in(services, b.tenant, key).reason == "unknown_credential"
    assert _sign_in(services, a.tenant, key, user=a.user)
    eve = services.users.create(a.tenant, "eve" + secrets.token_hex(2), "correct horse battery staple 9")
    assert _sign_in(services, a.tenant, key, user=eve).reason == "unknown_credential"  # a's passkey is not eve's second factor


def test_replacing_removes_every_earlier_factor_in_the_same_transaction(services: Any) -> None:
    """R-98: the recovery's passkey replaces TOTP (and the rest) only once it verifies."""
    account = _account(services)
    options = services.factors.begin_passkey_registration(account.tenant, account.user)
    with pytest.raises(FactorError):
        services.factors.finish_passkey_registration(account.tenant, account.user, options.ceremony, '{"id": "junk"}', replace_existing=True)
    assert [f.type for f in services.factors.active(account.tenant, account.user)] == ["totp"]  # nothing changed
    _registered(services, account, replace=True)
    assert [f.type for f in services.factors.active(account.tenant, account.user)] == ["passkey"]
