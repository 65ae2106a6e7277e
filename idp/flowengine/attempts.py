"""Attempts at a step's secret, counted once, here: throttle, audit trail, notice (R-06, R-46, R-55, R-83).

A step that checks a secret declares :class:`~idp.flowengine.contract.Attempts`; the engine hands its
submissions to :func:`submit_attempt` instead of calling ``submit()`` itself. The step names the
attempt's subject (:meth:`Step.attempt`) and answers ``Success`` or ``Failure``; everything a new step
could forget (asking the throttle first, counting the failure, giving back the slot of an attempt that
checked nothing, the audit events, the failed-second-factor notice) is done in this one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from idp.flowengine.contract import Attempts, Failure, Outcome, Step, StepContext, Success

#: The notice a failed second factor after a correct password sends (R-55).
FAILED_SECOND_FACTOR_NOTICE = "failed_second_factor_notice"


def submit_attempt(step: Step, ctx: StepContext, form: Mapping[str, str]) -> Outcome:
    """``step.submit(ctx, form)``, with the step's attempts throttled, counted, audited and noticed."""
    attempts = step.attempts
    subject = step.attempt(ctx, form) if attempts is not None else None
    if attempts is None or subject is None:
        return step.submit(ctx, form)
    who = _who(subject)
    throttle, request = ctx.services.throttle, ctx.request
    wait = throttle.check(ctx.tenant, who, attempts.factor, request.client_ip)
    if wait:
        return Failure("too_many_attempts", {**step.echo(ctx, form), "retry_after": wait}, status=429)
    ctx.subject = subject
    try:
        outcome = step.submit(ctx, form)
    except BaseException:
        throttle.release(ctx.tenant, who, attempts.factor, request.client_ip)
        raise
    finally:
        ctx.subject = None
    if isinstance(outcome, Success):
        throttle.record_success(ctx.tenant, who, attempts.factor, request.client_ip)
        if attempts.ok_event and not outcome.audited:
            _audit(ctx, attempts, attempts.ok_event, subject)
    elif isinstance(outcome, Failure) and outcome.counted:
        throttle.record_failure(ctx.tenant, who, attempts.factor, request.client_ip, request.user_agent)
        _audit(ctx, attempts, attempts.failed_event, subject, reason=outcome.reason)
        if attempts.notify:
            _notice(step, ctx, attempts, subject)
    else:  # the submission checked nothing after all
        throttle.release(ctx.tenant, who, attempts.factor, request.client_ip)
    return outcome


def _who(subject: Any) -> int | str:
    """The throttle's key: the account's id, or what the visitor typed when no account matches (R-28)."""
    return subject if isinstance(subject, str) else int(subject.id)


def _audit(ctx: StepContext, attempts: Attempts, event: str, subject: Any, reason: str = "") -> None:
    details: dict[str, Any] = {"factor": attempts.factor}
    if reason:
        details["reason"] = reason
    ctx.services.audit.record(
        ctx.tenant.id,
        event,
        user_id=None if isinstance(subject, str) else subject.id,
        client_ip=ctx.request.client_ip,
        user_agent=ctx.request.user_agent,
        flow=ctx.state.flow,
        **details,
    )


def _notice(step: Step, ctx: StepContext, attempts: Attempts, subject: Any) -> None:
    """R-55: a correct password followed by a failed second factor: tell the user, once per step and run."""
    data = ctx.step_data
    if isinstance(subject, str) or "password" not in ctx.state.proofs or data.get("noticed"):
        return
    data["noticed"] = True
    ctx.services.factors.notify(ctx.tenant, subject, FAILED_SECOND_FACTOR_NOTICE, ctx.request, factor=attempts.factor)
