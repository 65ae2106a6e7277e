"""``idp user add-totp|set-phone|factors|remove-factor`` (issue 3, item 10): --json, one-line refusals, nothing written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyotp
import pytest
from click.testing import CliRunner, Result

from idp.cli import cli

PASSWORD = "correct-horse-battery-staple"


class Idp:
    def __init__(self, tmp_path: Path) -> None:
        self.env: dict[str, str | None] = {
            name: None for name in ("IDP_DATABASE_URL", "IDP_REDIS_URL", "IDP_ENV", "IDP_PUBLIC_URL", "IDP_MAIL_BACKEND", "IDP_SMS_BACKEND")
        }
        self.env.update({"IDP_INSTANCE_PATH": str(tmp_path / "instance"), "IDP_SECRET_KEY": "factor-cli-secret-" + "k" * 32})

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=self.env, catch_exceptions=False)

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, f"{args} -> {result.exit_code}\n{result.stdout}\n{result.stderr}"
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json").stdout)

    def refused(self, *args: str) -> str:
        result = self.run(*args)
        assert result.exit_code != 0
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        assert result.stdout == ""
        return lines[0]


@pytest.fixture
def idp(tmp_path: Path) -> Idp:
    runner = Idp(tmp_path)
    runner.ok("init")
    runner.ok("tenant", "create", "acme", "--name", "ACME Corp")
    result = CliRunner().invoke(cli, ["user", "create", "acme", "alice", "--email", "alice@example.org", "--password-stdin"], env=runner.env, input=PASSWORD + "\n")
    assert result.exit_code == 0, result.stderr
    return runner


def test_add_totp_prints_the_uri_and_lists_the_factor(idp: Idp) -> None:
    uri = idp.ok("user", "add-totp", "acme", "alice", "--label", "Pixel").stdout.strip()
    totp = pyotp.parse_uri(uri)
    assert uri.startswith("otpauth://totp/") and totp.issuer == "ACME Corp" and totp.name == "alice"
    [row] = idp.json("user", "factors", "acme", "alice")
    assert row["type"] == "totp" and row["label"] == "Pixel" and row["active"] is True
    assert totp.secret not in json.dumps(row)  # never shown again


def test_add_totp_with_a_given_secret_as_json(idp: Idp) -> None:
    secret = pyotp.random_base32()
    data = idp.json("user", "add-totp", "acme", "alice", "--secret", secret)
    assert pyotp.parse_uri(data["otpauth_uri"]).secret == secret and data["type"] == "totp"


def test_set_phone_remove_and_history(idp: Idp) -> None:
    phone = idp.json("user", "set-phone", "acme", "alice", "+33 6 12 34 56 78")
    assert phone["type"] == "sms" and phone["phone"] == "+33612345678"
    removed = idp.json("user", "remove-factor", "acme", "alice", phone["id"])
    assert removed["active"] is False and removed["removed_by"] == "cli"
    assert idp.json("user", "factors", "acme", "alice") == []
    [kept] = idp.json("user", "factors", "acme", "alice", "--all")
    assert kept["id"] == phone["id"] and kept["removed_at"]
    text = idp.ok("user", "factors", "acme", "alice").stdout
    assert "(none)" in text


@pytest.mark.parametrize(
    "args,needle",
    [
        (("user", "add-totp", "acme", "alice", "--secret", "JBSWY3DPEHPK3PXP"), "128 bits"),
        (("user", "add-totp", "acme", "alice", "--secret", "not-base32!"), "base32"),
        (("user", "add-totp", "acme", "bob"), "unknown user"),
        (("user", "add-totp", "nope", "alice"), "unknown tenant"),
        (("user", "set-phone", "acme", "alice", "12345"), "invalid phone number"),
        (("user", "remove-factor", "acme", "alice", "no-such-id"), "no active factor"),
        (("user", "factors", "acme", "bob"), "unknown user"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(idp: Idp, args: tuple[str, ...], needle: str) -> None:
    line = idp.refused(*args)
    assert needle in line
    assert idp.json("user", "factors", "acme", "alice", "--all") == []
