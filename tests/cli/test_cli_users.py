"""``idp user create|list|show|set-password``."""

from __future__ import annotations

import pytest

from cli.support import STRONG, Idp, verify


def test_user_create_json(acme: Idp) -> None:
    user = acme.json(
        "user", "create", "acme", "alice", "--email", "Alice@Example.com", "--phone", "+33 6 12 34 56 78",
        "--locale", "fr", "--given-name", "Alice", "--family-name", "Martin", "--password", STRONG,
    )
    assert user["tenant"] == "acme"
    assert user["username"] == "alice"
    assert user["email"] == "Alice@example.com"  # kept as typed for sending; the domain lower-cased
    assert user["email_verified"] is False
    assert user["phone"] == "+33612345678"
    assert user["locale"] == "fr"
    assert user["given_name"] == "Alice" and user["family_name"] == "Martin"
    assert user["enabled"] is True and user["roles"] == [] and user["address"] is None
    assert len(user["id"]) == 36  # the OIDC subject, as the admin API names it
    assert set(user) == {"tenant", "id", "username", "email", "email_verified", "phone", "given_name", "family_name", "locale", "address", "enabled", "roles", "created_at"}
    assert "hash" not in " ".join(user) and STRONG not in str(user)
    assert verify(acme, "acme", "alice", STRONG)


def test_user_create_password_stdin(acme: Idp) -> None:
    acme.ok("user", "create", "acme", "bob", "--password-stdin", input=STRONG + "\n")
    assert verify(acme, "acme", "bob", STRONG)


def test_user_list_and_show(acme: Idp) -> None:
    acme.ok("user", "create", "acme", "alice", "--email", "alice@example.com", "--password", STRONG)
    acme.ok("user", "create", "acme", "bob", "--password", STRONG)
    listed = acme.json("user", "list", "acme")
    assert listed["total"] == 2 and listed["offset"] == 0 and listed["limit"] == 100 and listed["tenant"] == "acme"
    assert [u["username"] for u in listed["users"]] == ["alice", "bob"]
    assert acme.json("user", "list", "acme", "--query", "ali")["total"] == 1
    shown = acme.json("user", "show", "acme", "bob")
    assert shown["username"] == "bob" and shown["email"] is None
    text = acme.ok("user", "show", "acme", "alice").stdout
    assert "email:" in text and "alice@example.com" in text
    table = acme.ok("user", "list", "acme").stdout.splitlines()
    assert table[0].split()[:2] == ["USERNAME", "EMAIL"]
    assert len(table) == 3


def test_users_are_per_tenant(acme: Idp) -> None:
    acme.ok("tenant", "create", "beta")
    acme.ok("user", "create", "acme", "alice", "--password", STRONG)
    acme.ok("user", "create", "beta", "alice", "--password", STRONG)
    assert acme.json("user", "list", "beta")["total"] == 1


def test_set_password(acme: Idp) -> None:
    acme.ok("user", "create", "acme", "alice", "--password", STRONG)
    out = acme.json("user", "set-password", "acme", "alice", "--password-stdin", input="a-brand-new-passphrase\n")
    assert out == {"tenant": "acme", "username": "alice", "password_changed": True}
    assert verify(acme, "acme", "alice", "a-brand-new-passphrase")
    assert not verify(acme, "acme", "alice", STRONG)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("user", "create", "nope", "alice", "--password", STRONG), "error: unknown tenant 'nope'"),
        (("user", "create", "acme", "taken", "--password", STRONG), "error: username 'taken' is already taken in tenant 'acme'"),
        (("user", "create", "acme", "carol", "--email", "taken@example.com", "--password", STRONG), "error: email 'taken@example.com' is already used in tenant 'acme'"),
        (("user", "create", "acme", "carol", "--phone", "+1234", "--password", STRONG), "error: invalid phone number '+1234'"),
        (("user", "create", "acme", "carol", "--phone", "0612345678", "--password", STRONG), "error: invalid phone number '0612345678': use the international form, e.g. +33612345678"),
        (("user", "create", "acme", "carol", "--email", "not-an-email", "--password", STRONG), "error: invalid email address 'not-an-email'"),
        (("user", "create", "acme", "carol", "--password", "short"), "error: the password must have at least 12 characters"),
        (("user", "create", "acme", "carol", "--password", "password1234"), "error: this password is too common or appeared in a data breach; choose another"),
        (("user", "create", "acme", "carol-the-user", "--password", "carol-the-user"), "error: the password must not contain your username, your email or the name of the organisation"),
        # repeated or sequential characters, and the account's context words, are refused with the reason
        (("user", "create", "acme", "carol", "--password", "aaaaaaaaaaaa"), "error: this password is too easy to guess (repeated or sequential characters, a keyboard row, a date or a common word); choose another"),
        (("user", "create", "acme", "carol", "--password", "123456789012"), "error: this password is too easy to guess (repeated or sequential characters, a keyboard row, a date or a common word); choose another"),
        (("user", "create", "acme", "carol", "--password", "Carol-is-back-in-town"), "error: the password must not contain your username, your email or the name of the organisation"),
        (("user", "create", "acme", "dave", "--email", "d.smith@example.com", "--password", "quiet d.smith river"), "error: the password must not contain your username, your email or the name of the organisation"),
        (("user", "create", "acme", "dave", "--password", "my ACME horse battery"), "error: the password must not contain your username, your email or the name of the organisation"),
        (("user", "set-password", "acme", "taken", "--password", "qwertyuiopasdf"), "error: this password is too easy to guess (repeated or sequential characters, a keyboard row, a date or a common word); choose another"),
        (("user", "create", "acme", "bad name", "--password", STRONG), "error: invalid username 'bad name': a username cannot contain spaces"),
        # issue 12 items 2 and 3: one identifier names one account; confusable usernames are refused
        (("user", "create", "acme", "TAKEN", "--password", STRONG), "error: username 'TAKEN' is already taken in tenant 'acme'"),
        (("user", "create", "acme", "\uff54\uff41\uff4b\uff45\uff4e", "--password", STRONG), "error: username '\uff54\uff41\uff4b\uff45\uff4e' is already taken in tenant 'acme'"),
        (("user", "create", "acme", "Taken@Example.com", "--password", STRONG), "error: username 'Taken@Example.com' is already taken in tenant 'acme'"),
        (("user", "create", "acme", "t\u0430ken2", "--password", STRONG), "error: invalid username 't\u0430ken2': a username cannot mix letters of different scripts (e.g. Latin and Cyrillic)"),
        (("user", "create", "acme", "ta\u200bken2", "--password", STRONG), "error: invalid username 'ta\\u200bken2': a username cannot contain invisible characters"),
        (("user", "set-password", "acme", "taken", "--password", "short"), "error: the password must have at least 12 characters"),
        (("user", "set-password", "acme", "ghost", "--password", STRONG), "error: unknown user 'ghost' in tenant 'acme'"),
        (("user", "show", "acme", "ghost"), "error: unknown user 'ghost' in tenant 'acme'"),
        (("user", "list", "nope"), "error: unknown tenant 'nope'"),
    ],
)
def test_bad_input_is_refused_in_one_line_and_writes_nothing(acme: Idp, unchanged, args, message) -> None:  # type: ignore[no-untyped-def]
    acme.ok("user", "create", "acme", "taken", "--email", "taken@example.com", "--password", STRONG)
    assert unchanged(*args) == message


@pytest.mark.parametrize(
    ("args", "input", "message"),
    [
        (("user", "create", "acme", "carol"), None, "a password is required: --password P or --password-stdin"),
        (("user", "create", "acme", "carol", "--password", STRONG, "--password-stdin"), STRONG, "give either --password or --password-stdin, not both"),
        (("user", "set-password", "acme", "carol"), None, "a password is required: --password P or --password-stdin"),
    ],
)
def test_password_options_are_usage_errors(unchanged, args, input, message) -> None:  # type: ignore[no-untyped-def]
    assert unchanged(*args, input=input, code=2) == f"error: {message}"


def test_empty_password_stdin_is_refused(unchanged) -> None:  # type: ignore[no-untyped-def]
    assert unchanged("user", "create", "acme", "carol", "--password-stdin", input="") == "error: no password on standard input"


def test_set_password_under_policy_keeps_the_old_one(acme: Idp) -> None:
    acme.ok("user", "create", "acme", "alice", "--password", STRONG)
    acme.refused("user", "set-password", "acme", "alice", "--password", "short")
    assert verify(acme, "acme", "alice", STRONG)


def test_user_show_finds_the_account_under_any_form_of_its_username(acme: Idp) -> None:
    """Issue 12 item 3 (RFC 8265): case and width variants name the account, which keeps the username it was given."""
    acme.ok("user", "create", "acme", "Zoe.Martin", "--password", STRONG)
    for variant in ("zoe.martin", "ZOE.MARTIN", "\uff5a\uff4f\uff45.martin"):
        assert acme.json("user", "show", "acme", variant)["username"] == "Zoe.Martin"
