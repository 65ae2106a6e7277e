"""``idp user recovery-codes``: a new set of ten codes, printed once, voiding the earlier set (issue 14, item 3)."""

from __future__ import annotations

import re

from cli.support import STRONG, Idp

CODE = re.compile(r"^[a-z2-7]{4}(-[a-z2-7]{4}){3}$")


def test_a_new_set_is_printed_once_and_listed_as_one_factor(acme: Idp) -> None:
    acme.ok("user", "create", "acme", "alice", "--password", STRONG)
    first = acme.ok("user", "recovery-codes", "acme", "alice").stdout.split()
    assert len(set(first)) == 10 and all(CODE.match(c) for c in first)
    second = acme.json("user", "recovery-codes", "acme", "alice")["codes"]
    assert len(set(second)) == 10 and not set(first) & set(second)
    factors = acme.json("user", "factors", "acme", "alice", "--all")
    sets = [f for f in factors if f["type"] == "recovery_code"]
    assert sorted(f["active"] for f in sets) == [False, True]  # the first set was voided
    assert not any(c in str(factors) for c in first + second)  # never shown again


def test_an_unknown_user_is_refused_in_one_line(acme: Idp) -> None:
    message = acme.refused("user", "recovery-codes", "acme", "nobody")
    assert message == "error: unknown user 'nobody' in tenant 'acme'"
