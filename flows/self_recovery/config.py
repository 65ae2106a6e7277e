"""Settings of the self-recovery flow, and the proof-chain check run when a tenant's configuration loads."""

from __future__ import annotations

from dataclasses import dataclass

from idp.flowengine.contract import DAY, ConfigError, bounded

#: Proofs a path must hold before its final step changes the account (R-17, R-18, R-33, R-97).
SECOND_FACTOR_PATH_NEEDS = ("email_link", "password", "sms")
#: The password path needs one of these (a second factor the user has), proved after the link (R-18, R-32).
PASSWORD_PATH_NEEDS_ONE_OF = ("passkey", "totp", "sms", "recovery_code")
#: The steps a second-factor path may end with (one or both, in this order): they save the new factor.
NEW_FACTOR_STEPS = ("totp-setup", "passkey-setup")


@dataclass(frozen=True)
class SelfRecoveryConfig:
    """``flows.self-recovery.settings`` of a tenant."""

    #: Lifetime of the emailed link, seconds (R-16: at most 24 h by email; the product says 5 minutes).
    link_ttl: int = bounded(300, 60, DAY, "seconds")
    #: Offer "Reset my password" (the second factor is still proved, R-18, R-32).
    offer_password_reset: bool = True
    #: Offer "Reset my second authentication factor".
    offer_second_factor_reset: bool = True
    #: Steps of the second-factor path, in order; must prove the link, the password and an SMS code before the new factor,
    #: and end with the new factors offered: the QR-code authenticator (``totp-setup``, the default screen), a passkey
    #: on this device (``passkey-setup``), or both.
    second_factor_path: tuple[str, ...] = ("password", "sms", "totp-setup", "passkey-setup")
    #: Steps of the password path, in order; must prove a second factor before the new password: the alternatives
    #: ``verify-passkey`` (one of the user's passkeys, user verification required), ``verify-totp``, ``verify-sms`` and
    #: ``verify-recovery-code`` (the first the user has runs, the others are offered as other ways), then ``new-password``.
    password_path: tuple[str, ...] = ("verify-passkey", "verify-totp", "verify-sms", "verify-recovery-code", "new-password")
    #: Sender ID of the recovery SMS (empty: the tenant's ``sms.sender_id``).
    sms_sender_id: str = ""
    #: Support contact shown when recovery cannot proceed (empty: the tenant's ``branding.support_url``).
    support_url: str = ""
    #: Store links shown on the enrolment page (plain links, no third-party content).
    app_store_url: str = ""
    play_store_url: str = ""
    #: Name of the authenticator app the enrolment page recommends.
    authenticator_name: str = ""
    #: Requests per login (username or email) and per client IP per hour (R-48); more are silently dropped.
    max_requests_per_login_per_hour: int = bounded(5, 1, 1000)
    max_requests_per_ip_per_hour: int = bounded(30, 1, 100000)

    def check(self, path: str) -> None:
        if not (self.offer_password_reset or self.offer_second_factor_reset):
            raise ConfigError(f"{path}.offer_password_reset", "at least one recovery path must be offered")
        for url_field in ("support_url", "app_store_url", "play_store_url"):
            value = getattr(self, url_field)
            if value and not value.startswith(("https://", "mailto:")):
                raise ConfigError(f"{path}.{url_field}", "must be an https or mailto: URL")
        second, password = _path_proofs("reset-second-factor"), _path_proofs("reset-password")
        _check_path(f"{path}.second_factor_path", second, self.second_factor_path, NEW_FACTOR_STEPS, "factor replaced", SECOND_FACTOR_PATH_NEEDS, ())
        _check_path(f"{path}.password_path", password, self.password_path, ("new-password",), "password replaced", ("email_link",), PASSWORD_PATH_NEEDS_ONE_OF)


def _path_proofs(sub_flow: str) -> dict[str, tuple[str, ...]]:
    """What each binding of the recovery sub-flow ``sub_flow`` proves, read from its default bindings."""
    from flows.self_recovery import SelfRecoveryFlow, recovery_bindings

    catalog = {step.name: step for step in SelfRecoveryFlow.steps}
    (bound,) = [b for b in recovery_bindings(SelfRecoveryConfig()) if b.id == sub_flow]
    return {b.id: catalog[b.step].provides for b in bound.walk() if b.step}


def _check_path(
    field: str, provides: dict[str, tuple[str, ...]], steps: tuple[str, ...], finals: tuple[str, ...], outcome: str, needs: tuple[str, ...], one_of: tuple[str, ...]
) -> None:
    """Refuse a path whose final step can run without every proof it needs; name the missing proof.

    The steps of a path always run in the flow's order; a path only says which of its sub-flow's
    bindings run (the others are DISABLED).
    """
    for name in steps:
        if name not in provides:
            raise ConfigError(field, f"unknown step {name!r} (known: {', '.join(sorted(provides))})")
    if len(set(steps)) != len(steps):
        raise ConfigError(field, "names a step twice")
    before = list(steps)
    while before and before[-1] in finals:
        before.pop()
    if not steps or steps[-1] not in finals or any(name in finals for name in before):
        raise ConfigError(field, f"must end with the {' or '.join(repr(f) for f in finals)} step")
    proofs = {"email_link", "identified"}
    for name in before:
        proofs.update(provides[name])
    missing = [p for p in needs if p not in proofs]
    if one_of and not any(p in proofs for p in one_of):
        missing.append(" or ".join(one_of))
    if missing:
        raise ConfigError(field, f"reaches '{outcome}' without proving: {', '.join(missing)}")
