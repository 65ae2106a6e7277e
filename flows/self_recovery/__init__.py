"""Account self-recovery: a user who lost their second factor gets back in without support.

The user's path (issue 4; seed screens 2 to 7):

1. ``request``: « Vos moyens d'identification sont perdus ? » — a username or email;
   the same answer whatever was typed (R-47); the emailed link is single use,
   hashed, bound to tenant and user, and expires (R-49, R-50, R-96).
2. The link (``/flow/self-recovery/enter?token=…``) is swapped at once for this
   run's server-side state, proving ``email_link`` (R-52, R-99).
3. ``choose``: « Que souhaitez-vous faire ? ».
4. Second-factor path (the ``reset-second-factor`` sub-flow): ``password`` → ``sms``
   (to the verified number on file) → the new factor, in replace mode: the QR-code authenticator
   (``totp-setup``, the default screen) or, from its « Utiliser plutôt une clé d'accès sur cet appareil »
   button, a passkey on this device (``passkey-setup``); every earlier factor is removed when the new
   one is proven, in the transaction that saves it (R-17, R-33, R-85, R-97, R-98).
   Password path (``reset-password``): ``verify-passkey``, ``verify-totp``, ``verify-sms`` or
   ``verify-recovery-code`` (alternatives, in that order, when the account has a second factor: the
   first the user has runs, the others are « Other ways ») → ``new-password`` (R-18, R-32, R-51).
   The shared steps are bound here with this flow's settings (:func:`recovery_bindings`).
5. The end: every session, refresh token and outstanding link of the user is
   revoked, notices go by email and SMS with a "not you?" lock link (R-15, R-98),
   and the page says so. The second-factor path signs the user in (a new
   session id, R-56) and resumes the relying party's request if there was one;
   the password path never signs in (R-51).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

from flows.self_recovery.config import SelfRecoveryConfig
from flows.self_recovery.links import RecoveryLinks
from flows.self_recovery.mail import MESSAGES
from flows.self_recovery.steps import PASSWORD, SECOND_FACTOR, ChooseStep, NewPasswordStep, RequestStep, chosen_path, recovery_config, run_language
from flows.steps.passkey import PasskeySetupStep, PasskeyStep
from flows.steps.password import PasswordStep
from flows.steps.recovery_code import RecoveryCodeStep
from flows.steps.sms import SmsStep
from flows.steps.totp import SECOND_FACTOR_CONDITIONS, TotpStep
from flows.steps.totp_setup import TotpSetupStep
from idp.flowengine.contract import (
    ALTERNATIVE,
    DISABLED,
    N_,
    RECOVERY,
    REQUIRED,
    Abort,
    Binding,
    Branch,
    Brand,
    Challenge,
    Condition,
    Entry,
    Flow,
    FlowState,
    RequestInfo,
    Requirement,
    Sms,
    Step,
    StepContext,
    StepServices,
    TenantView,
    bind,
    sub_flow,
)

log = logging.getLogger("idp.recovery")


def _chose(path: str) -> Condition:
    def chose(ctx: StepContext, branch: Branch) -> bool:
        return chosen_path(ctx) == path

    return chose


def recovery_bindings(config: SelfRecoveryConfig) -> tuple[Binding, ...]:
    """The recovery's bindings under its settings: the request, the choice, then one of two sub-flows.

    The two paths' settings (``second_factor_path``, ``password_path``) say which bindings of each
    sub-flow run; the others are DISABLED. Replacing the factor needs the link, the password and an SMS
    code (R-17, R-33, R-97: :meth:`TotpSetupStep.needs`); the password path proves a second factor the
    user has, a passkey, TOTP, SMS or a recovery code (R-18), before the new password. These proofs need
    the emailed link only: on this path the user has not proved (and may not know) their password.
    """

    def on(path: tuple[str, ...], binding_id: str, requirement: Requirement = REQUIRED) -> Requirement:
        return requirement if binding_id in path else DISABLED

    second, password = config.second_factor_path, config.password_path
    sms = {"sender_id": config.sms_sender_id, "support_url": config.support_url}
    return (
        bind(RequestStep.name),
        bind(ChooseStep.name),
        sub_flow(
            "reset-second-factor",
            bind(PasswordStep.name, on(second, "password"), requires=("email_link",)),
            bind(SmsStep.name, on(second, "sms"), requires=("email_link", "password"), only_path=True, **sms),
            sub_flow(
                "new-factor",
                bind(
                    TotpSetupStep.name,
                    on(second, "totp-setup", ALTERNATIVE),
                    replace_existing=True,
                    app_store_url=config.app_store_url,
                    play_store_url=config.play_store_url,
                    authenticator_name=config.authenticator_name,
                    offer_passkey="passkey-setup" in second,
                ),
                bind(PasskeySetupStep.name, on(second, "passkey-setup", ALTERNATIVE), replace_existing=True),
            ),
            condition="chose-second-factor",
        ),
        sub_flow(
            "reset-password",
            sub_flow(
                "prove-second-factor",
                bind(PasskeyStep.name, on(password, "verify-passkey", ALTERNATIVE), id="verify-passkey", requires=("email_link",), before_new_password=True),
                bind(TotpStep.name, on(password, "verify-totp", ALTERNATIVE), id="verify-totp", requires=("email_link",)),
                bind(SmsStep.name, on(password, "verify-sms", ALTERNATIVE), id="verify-sms", requires=("email_link",), **sms),
                bind(RecoveryCodeStep.name, on(password, "verify-recovery-code", ALTERNATIVE), id="verify-recovery-code", requires=("email_link",)),
                condition="has-second-factor",
            ),
            bind(NewPasswordStep.name, on(password, "new-password")),
            condition="chose-password",
        ),
    )


class SelfRecoveryFlow(Flow):
    """The registered ``self-recovery`` flow."""

    name = "self-recovery"
    completes = "recovery"
    designation = RECOVERY
    requires_experience = "v2"
    one_language = True
    Config = SelfRecoveryConfig
    steps: ClassVar[tuple[type[Step], ...]] = (
        RequestStep, ChooseStep, PasswordStep, SmsStep, TotpSetupStep, PasskeySetupStep, PasskeyStep, TotpStep, RecoveryCodeStep, NewPasswordStep,
    )  # fmt: skip
    conditions: ClassVar[Mapping[str, Condition]] = {
        "chose-second-factor": _chose(SECOND_FACTOR),
        "chose-password": _chose(PASSWORD),
        **SECOND_FACTOR_CONDITIONS,
    }
    #: The account has a second factor none of the password path's bindings can prove.
    no_way_through = "second_factor_required"
    entry_proofs = ("email_link", "identified")
    completion_requires = ("email_link",)
    title = N_("Self-recovery")
    setting_words: ClassVar[Mapping[str, tuple[str, str]]] = {
        "link_ttl": (N_("Link lifetime"), N_("In seconds, from 60 to 86400 (the product says 300).")),
        "offer_password_reset": (N_("Offer « Reset my password »"), ""),
        "offer_second_factor_reset": (N_("Offer « Reset my second authentication factor »"), ""),
        "second_factor_path": (N_("Steps of the second-factor path"), N_("In order, comma-separated; ends with totp-setup, passkey-setup or both.")),
        "password_path": (
            N_("Steps of the password path"),
            N_(
                "In order, comma-separated: the second factors it may prove (verify-passkey, verify-totp, verify-sms, verify-recovery-code), then new-password."
            ),
        ),
        "sms_sender_id": (N_("Sender ID of the recovery SMS"), N_("Empty: the tenant's SMS sender ID.")),
        "support_url": (N_("Support address when recovery cannot go on"), N_("Empty: the tenant's support address.")),
        "app_store_url": (N_("App Store address of the authenticator app"), ""),
        "play_store_url": (N_("Google Play address of the authenticator app"), ""),
        "authenticator_name": (N_("Authenticator app recommended"), ""),
        "max_requests_per_login_per_hour": (N_("Requests per account per hour"), ""),
        "max_requests_per_ip_per_hour": (N_("Requests per IP address per hour"), ""),
    }

    # -- tenant side ----------------------------------------------------------------

    def compatibility(self, tenant: TenantView, services: StepServices) -> list[str]:
        """Every reason the flow cannot be enabled for ``tenant``, in words an admin understands."""
        reasons = []
        if tenant.experience != "v2":
            reasons.append(f"the tenant is on the legacy login experience: migrate it first (idp tenant migrate {tenant.slug} --experience v2)")
        settings = services.settings
        if settings.mail_backend == "outbox" and settings.is_production:
            reasons.append("no mail channel is configured (set IDP_MAIL_BACKEND=ses)")
        if settings.sms_backend == "outbox" and settings.is_production:
            reasons.append("no SMS channel is configured (set IDP_SMS_BACKEND=sns)")
        if not tenant.config.local_passwords:
            reasons.append("the tenant's users do not keep local passwords, which the recovery asks for")
        return reasons

    def bindings(self, config: Any, catalog: Mapping[str, type[Step]]) -> Sequence[Binding]:
        return recovery_bindings(config)

    # -- the emailed link -------------------------------------------------------------

    def enter(self, tenant: TenantView, services: StepServices, params: Mapping[str, str], request: RequestInfo) -> Entry | Abort:
        """Swap the link's token for this run (R-52): exactly one redemption; expired or used links end plainly.

        The run speaks the language the link carries (the page where the link was asked for, issue 16).
        """
        opened = RecoveryLinks(services).open(tenant, params.get("token", ""))
        user_id = opened.user_id
        if user_id is None:
            return Abort(opened.refusal or "link_expired", status=400)
        user = services.users.get(tenant, user_id)
        if user is None or user.status != "active":
            return Abort("link_expired", status=400)
        services.audit.record(tenant.id, "recovery.link_opened", user_id=user_id, client_ip=request.client_ip, user_agent=request.user_agent)
        return Entry(user_id=user_id, proofs=("email_link", "identified"), done=(RequestStep.name,), locale=opened.locale)

    # -- the end ------------------------------------------------------------------------

    def signs_in(self, state: FlowState) -> bool:
        return "factor_replaced" in state.proofs

    def finish(self, ctx: StepContext) -> Abort | Challenge:
        path = chosen_path(ctx)
        done = "factor_replaced" if path == SECOND_FACTOR else "password_replaced"
        user = ctx.user
        if user is None or done not in ctx.state.proofs:
            return Abort("steps_out_of_order")
        services, tenant = ctx.services, ctx.tenant
        # everything the old credentials could still reach goes
        services.users.revoke_everything(tenant, user.id)
        RecoveryLinks(services).void(tenant, user.id)
        locks = services.locks
        lock_url = locks.url(tenant, locks.issue(tenant, user.id))
        template = "factor_reset_notice" if path == SECOND_FACTOR else "password_reset_notice"
        self._notify(ctx, template, lock_url)
        services.audit.record(
            tenant.id,
            "recovery.completed",
            user_id=user.id,
            client_ip=ctx.request.client_ip,
            user_agent=ctx.request.user_agent,
            path=path,
        )
        return Challenge("recovery/done.html", {"path": path})

    def _notify(self, ctx: StepContext, template: str, lock_url: str) -> None:
        """R-15: email and SMS, each with the support contact and the "not you?" link."""
        user = ctx.user
        assert user is not None
        config = recovery_config(ctx)
        lang = run_language(ctx)
        ctx.services.factors.notify(ctx.tenant, user, template, ctx.request, locale=lang, messages=MESSAGES, lock_link=lock_url)
        number = ctx.services.factors.phone_on_file(ctx.tenant, user)
        if number:
            try:
                when = datetime.fromtimestamp(ctx.request.now, UTC)
                text = MESSAGES.render_sms(template, lang, brand=Brand.of(ctx.tenant), when=when, lock_link=lock_url)
                ctx.services.texter.send(Sms(to_e164=number, text=text, sender_id=config.sms_sender_id or ctx.tenant.config.sms.sender_id))
            except Exception as exc:
                log.error("recovery SMS notice not sent: %s", exc.__class__.__name__, extra={"tenant": ctx.tenant.slug})
