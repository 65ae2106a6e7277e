"""The password step: identify and check the password on one page (seed screens 1 and 5).

When the run has no user yet the page asks for « Utilisateur ou e-mail » and
« Mot de passe » (fields ``username`` and ``password``); when an earlier step
identified the user (the recovery flow's emailed link) it asks for the password
only. An unknown account, a wrong password and a disabled account give the same
message, status and timing (R-28): :meth:`UserService.verify_password` spends
the hashing time for unknown users too. Failed and successful attempts go
through the brute-force throttle (:meth:`PasswordStep.throttle`, R-06).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from idp.flowengine.contract import (
    Challenge,
    Failure,
    Outcome,
    Step,
    StepContext,
    Success,
)

if TYPE_CHECKING:  # pragma: no cover
    from idp.security.throttle import Throttle

#: Longest username or email we look up; longer input is refused like a wrong password.
MAX_LOGIN = 320
#: Longest password we hash (the policy's ``max_length`` tops at 1024).
MAX_PASSWORD = 1024


class PasswordStep(Step):
    """Username or email plus password, or password only for an identified user."""

    name = "password"
    provides = ("identified", "password")
    template = "login/password.html"

    def challenge(self, ctx: StepContext) -> Outcome:
        return Challenge(self.template, self._page(ctx))

    def submit(self, ctx: StepContext, form: Mapping[str, str]) -> Outcome:
        identified = ctx.state.user_id is not None
        login = ctx.user.username if identified and ctx.user is not None else form.get("username", "").strip()
        password = form.get("password", "")
        if not login or not password:
            return Failure("missing_password" if identified else "missing_credentials", {"username": login})
        if len(login) > MAX_LOGIN or len(password) > MAX_PASSWORD:
            ctx.services.users.verify_password(None, password[:MAX_PASSWORD])
            return Failure("invalid_credentials", {"username": login[:MAX_LOGIN]})
        user = ctx.user if identified else ctx.services.users.find_by_login(ctx.tenant, login)
        # an unknown login is throttled under what the visitor typed, exactly like an account
        who: int | str = user.id if user is not None else login
        throttle = self.throttle(ctx)
        if throttle.check(ctx.tenant, who, "password", ctx.request.client_ip):
            return Failure("too_many_attempts", {"username": login}, status=429)
        if not ctx.services.users.verify_password(user, password):
            throttle.record_failure(ctx.tenant, who, "password", ctx.request.client_ip, ctx.request.user_agent)
            self._audit(ctx, "login.password_failed", user.id if user is not None else None)
            return Failure("invalid_credentials", {"username": login})
        assert user is not None  # verify_password is False for None
        ctx.identified(user)
        throttle.record_success(ctx.tenant, user.id, "password", ctx.request.client_ip)
        self._audit(ctx, "login.password_ok", user.id)
        return Success(proofs=self.provides, amr=("pwd",), user_id=user.id)

    # -- hooks ------------------------------------------------------------------

    def throttle(self, ctx: StepContext) -> Throttle:
        """The brute-force throttle (R-06), shared with every factor check: ``check`` before verifying,
        then ``record_failure`` or ``record_success`` (:mod:`idp.security.throttle`)."""
        return ctx.services.throttle

    def _audit(self, ctx: StepContext, event: str, user_id: int | None) -> None:
        ctx.services.audit.record(
            ctx.tenant.id,
            event,
            user_id=user_id,
            client_ip=ctx.request.client_ip,
            user_agent=ctx.request.user_agent,
            flow=ctx.state.flow,
        )

    def _page(self, ctx: StepContext) -> dict[str, Any]:
        ask_username = ctx.state.user_id is None
        hint = (ctx.state.auth_request or {}).get("login_hint", "") if ask_username else ""
        return {"ask_username": ask_username, "username": hint[:MAX_LOGIN]}
