"""The password step: identify and check the password on one page (seed screens 1 and 5).

When the run has no user yet the page asks for « Utilisateur ou e-mail » and
« Mot de passe » (fields ``username`` and ``password``); when an earlier step
identified the user (the recovery flow's emailed link) it asks for the password
only. An unknown account, a wrong password and a disabled account give the same
message, status and timing (R-28): :meth:`UserService.verify_password` spends
the hashing time for unknown users too. Every attempt is throttled, counted and
audited by the engine (:attr:`PasswordStep.attempts`, R-06, R-46): against the
account, or against what the visitor typed when no account matches.

Passwordless (issue 14): when the page asks for the username, it also carries « Se connecter avec une clé
d'accès » and conditional mediation on the username field (:func:`flows.steps.passkey.passwordless_page`);
a post with ``action=passkey`` signs in with a discoverable passkey with user verification, which names
its user and proves ``identified`` and ``passkey`` (both factors: the second-factor sub-flow then has
nothing to ask). ``Config.offer_passkeys`` turns it off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flows.steps.errors import texts_of
from flows.steps.passkey import ERRORS as PASSKEY_ERRORS
from flows.steps.passkey import PASSWORDLESS, passwordless_page, passwordless_submit
from idp.flowengine.contract import (
    AMR_PWD,
    Attempts,
    Challenge,
    Failure,
    Outcome,
    Step,
    StepContext,
    Success,
)

#: Longest username or email we look up; longer input is refused like a wrong password.
MAX_LOGIN = 320
#: Longest password we hash (the policy's ``max_length`` tops at 1024).
MAX_PASSWORD = 1024


class PasswordStep(Step):
    """Username or email plus password, or password only for an identified user."""

    name = "password"
    provides = ("identified", "password", "passkey")
    template = "login/password.html"
    errors = {**texts_of("invalid_credentials", "missing_credentials", "missing_password"), **PASSKEY_ERRORS}
    attempts = Attempts(factor="password", ok_event="login.password_ok", failed_event="login.password_failed", notify=False)

    @dataclass(frozen=True)
    class Config:
        """Settings of the ``password`` step in a flow binding."""

        #: On the page that asks for the username: « Sign in with a passkey » and passkeys in the username's autofill.
        offer_passkeys: bool = True

    def challenge(self, ctx: StepContext) -> Outcome:
        return Challenge(self.template, self._page(ctx))

    def _passkeys_offered(self, ctx: StepContext) -> bool:
        return ctx.state.user_id is None and bool(getattr(ctx.config, "offer_passkeys", True))

    def _login(self, ctx: StepContext, form: Mapping[str, str]) -> str:
        """The identified user's username, else what the visitor typed."""
        user = ctx.user if ctx.state.user_id is not None else None
        return user.username if user is not None else form.get("username", "").strip()

    def attempt(self, ctx: StepContext, form: Mapping[str, str]) -> Any:
        """The account the login names, or the login itself when none matches (throttled alike, R-28);
        None for an empty form (nothing is tried)."""
        if form.get("action") == PASSWORDLESS:
            return None  # an assertion is not guessed: its refusals are audited by the factor service
        login = self._login(ctx, form)
        if not login or not form.get("password", ""):
            return None
        if ctx.state.user_id is not None:
            return ctx.user
        if len(login) > MAX_LOGIN:
            return login[:MAX_LOGIN]
        return ctx.services.users.find_by_login(ctx.tenant, login) or login

    def echo(self, ctx: StepContext, form: Mapping[str, str]) -> dict[str, Any]:
        return {"username": self._login(ctx, form)[:MAX_LOGIN]}

    def submit(self, ctx: StepContext, form: Mapping[str, str]) -> Outcome:
        if form.get("action") == PASSWORDLESS:
            if not self._passkeys_offered(ctx):
                return Failure("passkey_failed", counted=False)
            return passwordless_submit(ctx, form, self.provides)
        identified = ctx.state.user_id is not None
        login = self._login(ctx, form)
        password = form.get("password", "")
        if not login or not password:
            return Failure("missing_password" if identified else "missing_credentials", {"username": login}, counted=False)
        subject = ctx.subject if ctx.subject is not None else self.attempt(ctx, form)
        user = None if isinstance(subject, str) else subject
        if len(login) > MAX_LOGIN or len(password) > MAX_PASSWORD:
            ctx.services.users.verify_password(None, password[:MAX_PASSWORD])
            return Failure("invalid_credentials", {"username": login[:MAX_LOGIN]})
        if not ctx.services.users.verify_password(user, password):
            return Failure("invalid_credentials", {"username": login})
        assert user is not None  # verify_password is False for None
        ctx.identified(user)
        return Success(proofs=("identified", "password"), amr=(AMR_PWD,), user_id=user.id)

    def _page(self, ctx: StepContext) -> dict[str, Any]:
        ask_username = ctx.state.user_id is None
        hint = (ctx.state.auth_request or {}).get("login_hint", "") if ask_username else ""
        page = {"ask_username": ask_username, "username": hint[:MAX_LOGIN]}
        if self._passkeys_offered(ctx):
            page.update(passwordless_page(ctx))
        return page
