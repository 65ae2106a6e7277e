"""SMS codes: lifetime, single use, tries, resend, caps, country list, failed sends (R-10, R-11, R-35, R-53, R-89, R-91)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from factors.conftest import PHONE, Fx
from idp.accounts.factors import SmsError


def _sms_user(fx: Fx, phone: str = PHONE) -> Any:
    user = fx.user(phone=phone)
    fx.services.factors.set_phone(fx.tenant, user, phone)
    return user


def test_code_is_six_random_digits_stored_hashed_r11_r35(fx: Fx) -> None:
    """R-11, R-35: 6 digits; the store keeps only a keyed hash, never the code."""
    user = _sms_user(fx)
    sent = fx.services.factors.send_sms_code(fx.tenant, user, "flow-1")
    code = fx.last_sms_code(PHONE)
    assert len(code) == 6 and code.isdigit()
    assert sent.masked_number.endswith("78") and "612345" not in sent.masked_number
    record = fx.services.store.find(f"{fx.tenant.slug}:sms-code:{user.id}")
    assert record is not None and code not in str(record)
    assert "sms.code_sent" in fx.audit_types(user)


def test_code_is_single_use_r11_r53(fx: Fx) -> None:
    user = _sms_user(fx)
    fx.services.factors.send_sms_code(fx.tenant, user, "flow-1")
    code = fx.last_sms_code(PHONE)
    assert fx.services.factors.verify_sms_code(fx.tenant, user, "flow-1", code)
    again = fx.services.factors.verify_sms_code(fx.tenant, user, "flow-1", code)
    assert not again and again.reason == "expired"


def test_code_is_bound_to_the_flow_that_asked_r35(fx: Fx) -> None:
    """R-35: a code sent for one run is refused in another."""
    user = _sms_user(fx)
    fx.services.factors.send_sms_code(fx.tenant, user, "flow-1")
    code = fx.last_sms_code(PHONE)
    assert not fx.services.factors.verify_sms_code(fx.tenant, user, "flow-2", code)
    assert fx.services.factors.verify_sms_code(fx.tenant, user, "flow-1", code)


def test_expired_code_refused_r11(fx: Fx) -> None:
    """R-11: past ``sms.code_ttl`` the code no longer works."""
    fx.configure({"sms": {"code_ttl": 1}})
    user = _sms_user(fx)
    fx.services.factors.send_sms_code(fx.tenant, user, "flow-1")
    code = fx.last_sms_code(PHONE)
    time.sleep(2.1)
    result = fx.services.factors.verify_sms_code(fx.tenant, user, "flow-1", code)
    assert not result and result.reason == "expired"


def test_fifth_wrong_try_voids_the_code_and_the_sixth_is_refused_r53(fx: Fx) -> None:
    """R-53: at most 5 wrong tries; then even the right code is refused."""
    user = _sms_user(fx)
    fx.services.factors.send_sms_code(fx.tenant, user, "flow-1")
    code = fx.last_sms_code(PHONE)
    wrong = "000000" if code != "000000" else "111111"
    reasons = [fx.services.factors.verify_sms_code(fx.tenant, user, "flow-1", wrong) for _ in range(5)]
    assert [r.reason for r in reasons] == ["invalid"] * 4 + ["exhausted"]
    assert [r.attempts_left for r in reasons[:4]] == [4, 3, 2, 1]
    sixth = fx.services.factors.verify_sms_code(fx.tenant, user, "flow-1", code)
    assert not sixth and sixth.reason == "expired"


def test_resend_cooldown_then_resend_voids_the_previous_code_r53(fx: Fx) -> None:
    """R-53: a resend within the cool-down is refused; after it, the new code replaces the old one."""
    fx.configure({"sms": {"resend_cooldown": 1}})
    user = _sms_user(fx)
    fx.services.factors.send_sms_code(fx.tenant, user, "flow-1")
    first = fx.last_sms_code(PHONE)
    with pytest.raises(SmsError) as cooling:
        fx.services.factors.send_sms_code(fx.tenant, user, "flow-1")
    assert cooling.value.code == "sms_cooldown" and cooling.value.params["retry_after"] >= 1
    time.sleep(2.1)
    fx.services.factors.send_sms_code(fx.tenant, user, "flow-1")
    second = fx.last_sms_code(PHONE)
    assert len(fx.outbox(to=PHONE, kind="sms")) == 2
    if first != second:
        assert not fx.services.factors.verify_sms_code(fx.tenant, user, "flow-1", first)
    assert fx.services.factors.verify_sms_code(fx.tenant, user, "flow-1", second)


@pytest.mark.parametrize("cap", ["per_number_daily_cap", "per_account_daily_cap", "per_tenant_daily_cap"])
def test_daily_caps_r89(fx: Fx, cap: str) -> None:
    """R-89: each daily cap stops sending once reached, with a clear error; nothing is sent beyond it."""
    fx.configure({"sms": {"resend_cooldown": 0, cap: 2}})
    user = _sms_user(fx)
    fx.services.factors.send_sms_code(fx.tenant, user, "flow-1")
    fx.services.factors.send_sms_code(fx.tenant, user, "flow-1")
    with pytest.raises(SmsError) as err:
        fx.services.factors.send_sms_code(fx.tenant, user, "flow-1")
    assert err.value.code == "sms_cap_reached"
    assert len(fx.outbox(to=PHONE, kind="sms")) == 2
    assert "sms.cap_reached" in fx.audit_types(user)


def test_tenant_cap_counts_every_account_r89(fx: Fx) -> None:
    """R-89: the per-tenant cap holds across accounts and numbers."""
    fx.configure({"sms": {"resend_cooldown": 0, "per_tenant_daily_cap": 1}})
    alice = _sms_user(fx, "+33612345678")
    bob = _sms_user(fx, "+33698765432")
    fx.services.factors.send_sms_code(fx.tenant, alice, "flow-a")
    with pytest.raises(SmsError) as err:
        fx.services.factors.send_sms_code(fx.tenant, bob, "flow-b")
    assert err.value.code == "sms_cap_reached"


def test_country_allow_list_r89(fx: Fx) -> None:
    """R-89: a number outside the tenant's allowed country codes gets no SMS (even if bound earlier)."""
    user = _sms_user(fx, "+447911123456")
    fx.configure({"sms": {"allowed_country_codes": ["33"]}})
    with pytest.raises(SmsError) as err:
        fx.services.factors.send_sms_code(fx.tenant, user, "flow-1")
    assert err.value.code == "sms_country_not_allowed"
    assert fx.outbox(kind="sms") == []


def test_only_the_verified_number_gets_codes_r10_r37(fx: Fx) -> None:
    """R-10, R-37: codes go only to a number registered beforehand, never to one the caller supplies."""
    user = _sms_user(fx)
    with pytest.raises(SmsError) as err:
        fx.services.factors.send_sms_code(fx.tenant, user, "flow-1", to="+33698765432")
    assert err.value.code == "no_phone"
    nobody = fx.user()
    with pytest.raises(SmsError) as none:
        fx.services.factors.send_sms_code(fx.tenant, nobody, "flow-1")
    assert none.value.code == "no_phone"
    assert fx.outbox(kind="sms") == []


def test_unverified_number_on_file_is_not_used_r10(fx_embedded: Fx) -> None:
    fx = fx_embedded
    user = fx.user(phone=PHONE)
    with fx.services.db.session() as s:
        from idp.storage.models import User

        s.get(User, user.id).phone_verified = False
    assert fx.services.factors.phone_on_file(fx.tenant, user) is None


def test_sms_not_offered_where_the_tenant_disallows_it_r30(fx_embedded: Fx) -> None:
    fx = fx_embedded
    user = _sms_user(fx)
    fx.configure({"sms": {"allowed_as_second_factor": False}})
    assert fx.services.factors.sms_number(fx.tenant, user) is None
    # the recovery flow still reaches the number on file
    assert fx.services.factors.phone_on_file(fx.tenant, user) == PHONE


def test_opted_out_number_is_refused_clearly_r91(fx_embedded: Fx) -> None:
    """R-91: an opted-out number gets no code and the caller gets a clear error."""
    from idp.messaging import OutboxTexter

    fx = fx_embedded
    user = _sms_user(fx)
    fx.services.texter.replace(OutboxTexter(fx.services.settings.outbox_path, opted_out={PHONE}))
    with pytest.raises(SmsError) as err:
        fx.services.factors.send_sms_code(fx.tenant, user, "flow-1")
    assert err.value.code == "sms_opted_out"
    assert fx.outbox(kind="sms") == []
    assert fx.services.store.find(f"{fx.tenant.slug}:sms-code:{user.id}") is None


def test_sns_delivery_and_failed_send_voids_the_code(make_fx: Any, aws_env: Any, aws_proxy: Any) -> None:
    """Issue 3 item 5: through SNS (moto); a refused publish voids the code it carried and the earlier one."""
    from idp.messaging.sns import SnsTexter

    fx = make_fx()
    fx.configure({"sms": {"resend_cooldown": 0, "sender_id": "Acme"}})
    fx.services.texter.replace(SnsTexter())
    user = _sms_user(fx)
    fx.services.factors.send_sms_code(fx.tenant, user, "flow-1")
    [sms] = aws_proxy.calls("Publish")
    assert "Transactional" in sms.body.decode() and "Acme" in sms.body.decode()
    code = re.search(r"\b(\d{6})\b", aws_env.last_sms(PHONE).message).group(1)  # read back from moto
    body = (
        b'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type>'
        b"<Code>InvalidParameter</Code><Message>Invalid parameter: PhoneNumber</Message></Error>"
        b"<RequestId>5d3c1e2a-0000-4000-8000-000000000001</RequestId></ErrorResponse>"
    )
    aws_proxy.fail_next("Publish", 1, (400, {"Content-Type": "text/xml"}, body))
    with pytest.raises(SmsError) as err:
        fx.services.factors.send_sms_code(fx.tenant, user, "flow-1")
    assert err.value.code == "sms_refused"
    assert fx.services.store.find(f"{fx.tenant.slug}:sms-code:{user.id}") is None
    assert "sms.refused" in fx.audit_types(user)
    assert not fx.services.factors.verify_sms_code(fx.tenant, user, "flow-1", code)
