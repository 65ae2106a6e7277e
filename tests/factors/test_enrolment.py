"""TOTP enrolment: saved only after a valid first code; replace mode swaps every factor in one transaction (R-85, R-98)."""

from __future__ import annotations

import time

import pyotp
import pytest
from sqlalchemy import text

from factors.conftest import PHONE, Fx
from idp.accounts.factors import FactorError


def _fresh_step() -> None:
    while 30 - (time.time() % 30) < 2.0:
        time.sleep(0.2)


def test_begin_saves_nothing_and_returns_the_uri_r85(fx: Fx) -> None:
    """R-85: the pending secret and its otpauth URI exist only in the caller's hands until confirmed."""
    user = fx.user()
    pending = fx.services.factors.begin_totp_enrolment(fx.tenant, user)
    parsed = pyotp.parse_uri(pending.uri)
    assert parsed.secret == pending.secret and parsed.issuer == "Acme Corp" and parsed.name == user.username
    assert pending.grouped_secret.replace(" ", "") == pending.secret
    assert all(len(g) == 4 for g in pending.grouped_secret.split())
    assert fx.services.factors.history(fx.tenant, user) == []


def test_wrong_first_code_saves_nothing_r85(fx: Fx) -> None:
    """R-85: the factor activates only after a valid code from it."""
    user = fx.user()
    pending = fx.services.factors.begin_totp_enrolment(fx.tenant, user)
    other = pyotp.TOTP(pyotp.random_base32())
    with pytest.raises(FactorError) as err:
        fx.services.factors.confirm_totp_enrolment(fx.tenant, user, pending.secret, other.now())
    assert err.value.code == "invalid_code"
    assert fx.services.factors.history(fx.tenant, user) == []


def test_valid_first_code_saves_the_factor_and_spends_the_code_r85_r82(fx: Fx) -> None:
    """R-85, R-82: confirmed enrolment saves one active factor; the confirming code cannot be used again."""
    user = fx.user()
    pending = fx.services.factors.begin_totp_enrolment(fx.tenant, user)
    _fresh_step()
    code = pyotp.TOTP(pending.secret).now()
    factor = fx.services.factors.confirm_totp_enrolment(fx.tenant, user, pending.secret, code, label="Pixel")
    [active] = fx.services.factors.active(fx.tenant, user)
    assert active.id == factor.id and active.type == "totp" and active.label == "Pixel"
    assert fx.services.factors.verify_totp(fx.tenant, user, code).reason == "replay"
    assert "factor.enrolled" in fx.audit_types(user)


def test_replace_existing_removes_every_earlier_factor_r85_r98(fx: Fx) -> None:
    """R-85, R-98: old TOTP and SMS factors are removed with the new one saved; old codes stop working."""
    user = fx.user(phone=PHONE)
    old_factor, old_uri = fx.services.factors.add_totp(fx.tenant, user, label="old phone")
    fx.services.factors.set_phone(fx.tenant, user, PHONE)
    old = pyotp.parse_uri(old_uri)
    _fresh_step()
    assert fx.services.factors.verify_totp(fx.tenant, user, old.now())  # leaves replay state behind

    pending = fx.services.factors.begin_totp_enrolment(fx.tenant, user)
    new = pyotp.TOTP(pending.secret)
    factor = fx.services.factors.confirm_totp_enrolment(
        fx.tenant, user, pending.secret, new.now(), replace_existing=True, actor="recovery:test"
    )
    active = fx.services.factors.active(fx.tenant, user)
    assert [f.id for f in active] == [factor.id]
    removed = [f for f in fx.services.factors.history(fx.tenant, user) if f.id != factor.id]
    assert {f.type for f in removed} == {"totp", "sms"}
    assert all(f.removed_at is not None and f.removed_by == "recovery:test" for f in removed)
    # the removed factor's replay state is gone with it
    assert fx.services.store.counter(f"{fx.tenant.slug}:totp-step:{old_factor.id}") == 0
    _fresh_step()
    assert fx.services.factors.verify_totp(fx.tenant, user, old.at(time.time() + 30)).reason == "invalid"
    # the number on file stays: it is the account's contact and recovery channel
    assert fx.services.factors.phone_on_file(fx.tenant, user) == PHONE
    assert fx.services.factors.sms_number(fx.tenant, user) is None


def test_failed_replace_transaction_leaves_the_old_factors_r85(fx_embedded: Fx) -> None:
    """R-85: if saving the new factor fails inside the transaction, the removals roll back too."""
    fx = fx_embedded
    user = fx.user()
    old_factor, _ = fx.services.factors.add_totp(fx.tenant, user)
    with fx.services.db.engine.begin() as conn:  # a real database failure on the insert
        conn.execute(text("CREATE TRIGGER refuse_factor BEFORE INSERT ON factors BEGIN SELECT RAISE(ABORT, 'disk full'); END"))
    pending = fx.services.factors.begin_totp_enrolment(fx.tenant, user)
    with pytest.raises(Exception, match="disk full"):
        fx.services.factors.confirm_totp_enrolment(
            fx.tenant, user, pending.secret, pyotp.TOTP(pending.secret).now(), replace_existing=True
        )
    with fx.services.db.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse_factor"))
    [still] = fx.services.factors.active(fx.tenant, user)
    assert still.id == old_factor.id and still.removed_at is None


def test_set_phone_binds_a_new_sms_factor_and_retires_the_old_one_r10(fx: Fx) -> None:
    """R-10: changing the number is binding a new authenticator; the old binding keeps its record."""
    user = fx.user()
    first = fx.services.factors.set_phone(fx.tenant, user, "+33 6 12 34 56 78")
    assert first.phone == PHONE
    second = fx.services.factors.set_phone(fx.tenant, user, "+33698765432")
    active = fx.services.factors.active(fx.tenant, user, "sms")
    assert [f.id for f in active] == [second.id]
    assert fx.services.factors.sms_number(fx.tenant, user) == "+33698765432"
    assert fx.services.factors.phone_on_file(fx.tenant, user) == "+33698765432"
    assert len(fx.services.factors.history(fx.tenant, user)) == 2
