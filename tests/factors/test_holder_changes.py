"""What the account console asks of the services: the holder renames and removes factors, changes the password,
and lists and ends sessions (issue 14, item 4), on both ephemeral store backends."""

from __future__ import annotations

import pyotp
import pytest

from factors.conftest import PASSWORD, Fx
from idp.accounts.factors import FactorError
from idp.accounts.users import UserError


def test_the_last_second_factor_stays_under_the_required_policy(fx: Fx) -> None:
    """R-19 with issue 14's rule: under ``required`` the holder keeps one second factor; a recovery-code set is not one."""
    fx.configure({"mfa": {"policy": "required"}})
    user = fx.user()
    first, _ = fx.services.factors.add_totp(fx.tenant, user, pyotp.random_base32(), label="Phone")
    fx.services.factors.generate_recovery_codes(fx.tenant, user)
    with pytest.raises(FactorError) as refused:
        fx.services.factors.remove_own_factor(fx.tenant, user, first.id)
    assert refused.value.code == "last_second_factor" and refused.value.status == 409
    assert first.id in [f.id for f in fx.services.factors.active(fx.tenant, user)]
    codes = fx.services.factors.active(fx.tenant, user, "recovery_code")[0]
    fx.services.factors.remove_own_factor(fx.tenant, user, codes.id)  # the codes may go
    second, _ = fx.services.factors.add_totp(fx.tenant, user, pyotp.random_base32(), label="Tablet")
    fx.services.factors.remove_own_factor(fx.tenant, user, first.id)  # with another one left, it may go
    assert [f.id for f in fx.services.factors.active(fx.tenant, user)] == [second.id]
    assert fx.audit_types(user).count("factor.removed") == 2


def test_under_the_optional_policy_the_last_factor_may_go(fx: Fx) -> None:
    user = fx.user()
    only, _ = fx.services.factors.add_totp(fx.tenant, user, pyotp.random_base32())
    fx.services.factors.remove_own_factor(fx.tenant, user, only.id)
    assert fx.services.factors.active(fx.tenant, user) == []


def test_a_factor_is_renamed_only_by_its_holder_and_within_bounds(fx: Fx) -> None:
    """R-44 (object level): another user's factor id is not found; the name is 1 to 60 characters, spaces tidied."""
    user, other = fx.user(), fx.user()
    factor, _ = fx.services.factors.add_totp(fx.tenant, user, pyotp.random_base32())
    renamed = fx.services.factors.rename_factor(fx.tenant, user, factor.id, "  Work   phone ")
    assert renamed.label == "Work phone" and "factor.renamed" in fx.audit_types(user)
    for label in ("", "   ", "x" * 61):
        with pytest.raises(FactorError) as bad:
            fx.services.factors.rename_factor(fx.tenant, user, factor.id, label)
        assert bad.value.code == "invalid_label"
    with pytest.raises(FactorError) as foreign:
        fx.services.factors.rename_factor(fx.tenant, other, factor.id, "Mine now")
    assert foreign.value.status == 404
    with pytest.raises(FactorError):
        fx.services.factors.remove_own_factor(fx.tenant, other, factor.id)
    assert fx.services.factors.get(fx.tenant, user, factor.id).label == "Work phone"


def test_a_password_change_needs_the_current_password_and_the_policy(fx: Fx) -> None:
    """R-26 (current password, the refusal audited), R-04 (the policy's reason), R-57 (the new one hashed)."""
    user = fx.user()
    users = fx.services.users
    with pytest.raises(UserError) as wrong:
        users.change_password(fx.tenant, user, "not it", "a quiet meadow under grey skies")
    assert wrong.value.field == "current_password" and wrong.value.status == 403
    assert "account.password_change_failed" in fx.audit_types(user)
    with pytest.raises(UserError) as weak:
        users.change_password(fx.tenant, user, PASSWORD, "short")
    assert weak.value.field == "password" and weak.value.code == "too_short"
    assert users.verify_password(users.get(fx.tenant, user.id), PASSWORD)
    users.change_password(fx.tenant, user, PASSWORD, "a quiet meadow under grey skies")
    fresh = users.get(fx.tenant, user.id)
    assert users.verify_password(fresh, "a quiet meadow under grey skies") and not users.verify_password(fresh, PASSWORD)
    assert fresh.password_hash.startswith("$argon2id$") and "account.password_changed" in fx.audit_types(user)


def test_a_users_sessions_are_listed_and_one_is_ended(fx: Fx) -> None:
    """R-40, R-41: the holder's list shows each live session once; an ended one is gone and its cookie opens nothing."""
    user, other = fx.user(), fx.user()
    sessions = fx.services.sessions
    a = sessions.establish(fx.tenant, user.id, ["pwd"], "urn:idp:acr:pwd", client_ip="198.51.100.1", user_agent="A")
    b = sessions.establish(fx.tenant, user.id, ["pwd"], "urn:idp:acr:pwd", client_ip="198.51.100.2", user_agent="B")
    theirs = sessions.establish(fx.tenant, other.id, ["pwd"], "urn:idp:acr:pwd")
    listed = sessions.of_user(fx.tenant, user.id)
    assert sorted(s.sid for s in listed) == sorted([a.sid, b.sid])
    assert {s.user_agent for s in listed} == {"A", "B"} and {s.client_ip for s in listed} == {"198.51.100.1", "198.51.100.2"}
    assert not sessions.end_sid(fx.tenant, user.id, theirs.sid)  # another user's session is not theirs to end
    assert sessions.find(fx.tenant, theirs.token) is not None
    assert sessions.end_sid(fx.tenant, user.id, a.sid)
    assert sessions.find(fx.tenant, a.token) is None and sessions.find(fx.tenant, b.token) is not None
    assert [s.sid for s in sessions.of_user(fx.tenant, user.id)] == [b.sid]
    sessions.end(fx.tenant, b.token)  # a logout leaves the list too
    assert sessions.of_user(fx.tenant, user.id) == []
    c = sessions.establish(fx.tenant, user.id, ["pwd"], "urn:idp:acr:pwd")
    sessions.revoke_user(fx.tenant, user.id)
    assert sessions.of_user(fx.tenant, user.id) == [] and sessions.find(fx.tenant, c.token) is None
