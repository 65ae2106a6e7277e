"""The enrolment step (``totp-setup``): « Enregistrer un nouveau deuxième facteur. » (seed screen 7).

The page shows the QR code of the ``otpauth://`` URI (issuer = tenant brand
name, label = username) as inline SVG made by ``qrcode`` (no external request,
no JavaScript), the key in groups of 4 for typing by hand, optional store links,
and a ``code`` field for the first code. The pending secret is kept encrypted in
the run's state (R-84) and nothing is saved until a first code from it is valid
(R-85). Every response of the flow pages carries ``Cache-Control: no-store``
(the header layer, R-56, R-85).

Two uses:

- **Login, required action** (default): the last alternative of the login flow's ``second-factor``
  sub-flow, configured for a user with no second factor at all: under the ``required`` policy (or an
  ``acr_values`` asking for MFA) they enrol an authenticator before the sign-in completes (Keycloak's
  "configure OTP"). Proves ``totp`` and ``factor_enrolled``.
- **Recovery, replace** (``Config(replace_existing=True)``, bound ``REQUIRED``): never runs before the
  emailed link, the password and an SMS code are proved, whatever its binding says
  (:meth:`TotpSetupStep.needs`); on a valid first code every earlier factor is removed and the new one
  saved in one transaction (R-85, R-98). Proves ``totp`` and ``factor_replaced``. Revoking
  sessions and sending the notices (R-15) belong to the recovery flow's end.

In both uses the page offers the other new factor, a passkey on this device (« Utiliser plutôt une clé
d'accès sur cet appareil », shown only where the browser can make one): a post with ``action=use_passkey``
steps aside (``Skip``) for the next alternative of its level, the ``passkey-setup`` step
(:mod:`flows.steps.passkey`). ``Config.offer_passkey`` turns it off (do so where no ``passkey-setup`` follows).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import qrcode  # type: ignore[import-untyped]
import qrcode.image.svg  # type: ignore[import-untyped]
from markupsafe import Markup

from flows.steps.errors import texts_of
from flows.steps.totp import enrolment_due, second_factor_amr
from idp.flowengine.contract import (
    AMR_OTP,
    Abort,
    Attempts,
    Challenge,
    ConfigError,
    FactorError,
    Failure,
    Outcome,
    Skip,
    Step,
    StepContext,
    Success,
    group_secret,
)

_XML_DECL = re.compile(r"^<\?xml[^>]*\?>\s*")


def qr_svg(data: str) -> Markup:
    """``data`` as an inline SVG QR code (scales with its container; no external request)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    svg = _XML_DECL.sub("", image.to_string(encoding="unicode"))
    svg = re.sub(r'\s(width|height)="[^"]*"', "", svg, count=2)
    svg = svg.replace("<svg ", '<svg class="qr" width="200" height="200" role="img" aria-label="QR code" ', 1)
    return Markup(svg)


class TotpSetupStep(Step):
    """Enrol an authenticator app: scan, then confirm with a first code."""

    name = "totp-setup"
    #: Its page has its own "Use a passkey on this device instead" button (shown with JavaScript only).
    hands_over = ("passkey-setup",)
    requires = ("password",)
    provides = ("totp", "factor_enrolled", "factor_replaced")
    template = "steps/totp_setup.html"
    errors = texts_of("code_expired")
    #: A wrong first code counts against the account's TOTP attempts (R-06); the saved factor is audited
    #: by the factor service, in the transaction that saves it.
    attempts = Attempts(factor="totp", ok_event="", failed_event="factor.enrolment_failed", notify=False)

    @dataclass(frozen=True)
    class Config:
        """Settings of the ``totp-setup`` step in a flow binding."""

        #: Recovery: remove every earlier factor in the transaction that saves the new one.
        replace_existing: bool = False
        #: Label of the new factor in listings.
        label: str = "Authenticator"
        #: Plain links to the app stores shown on the page (no third-party content).
        app_store_url: str = ""
        play_store_url: str = ""
        #: Name of the authenticator app the page recommends (empty: "an authenticator app").
        authenticator_name: str = ""
        #: Offer a passkey on this device instead (the ``passkey-setup`` step bound after this one).
        offer_passkey: bool = True

        def check(self, path: str) -> None:
            for name in ("app_store_url", "play_store_url"):
                value = getattr(self, name)
                if value and not value.startswith("https://"):
                    raise ConfigError(f"{path}.{name}", "must be an https URL")

    def _replace(self, ctx: StepContext) -> bool:
        return bool(getattr(ctx.config, "replace_existing", False))

    #: What replacing every factor needs proved first (R-17, R-33, R-97): no binding can drop these.
    REPLACE_NEEDS = ("email_link", "password", "sms")

    @classmethod
    def needs(cls, config: Any) -> tuple[str, ...]:
        return cls.REPLACE_NEEDS if getattr(config, "replace_existing", False) else ()

    def configured_for(self, ctx: StepContext) -> bool:
        """Enrolment is the way through for a user with no second factor (replacing: always)."""
        return self._replace(ctx) or enrolment_due(ctx)

    def challenge(self, ctx: StepContext) -> Outcome:
        user = ctx.user
        if user is None:
            return Abort("steps_out_of_order")
        factors = ctx.services.factors
        data = ctx.step_data
        if "pending" not in data:
            pending = factors.begin_totp_enrolment(ctx.tenant, user)
            data["pending"] = factors.seal_pending(pending.secret)
            secret = pending.secret
        else:
            secret = factors.open_pending(data["pending"])
        uri = factors.otpauth_uri(ctx.tenant, user, secret)
        config = ctx.config
        return Challenge(
            self.template,
            {
                "qr_svg": qr_svg(uri),
                "secret_groups": group_secret(secret),
                "issuer": ctx.tenant.brand_name,
                "account": user.username,
                "replace": self._replace(ctx),
                "app_store_url": getattr(config, "app_store_url", ""),
                "play_store_url": getattr(config, "play_store_url", ""),
                "authenticator_name": getattr(config, "authenticator_name", ""),
                "code_length": 6,
                "passkey_offered": bool(getattr(config, "offer_passkey", True)),
                "no_store": True,
            },
        )

    def attempt(self, ctx: StepContext, form: Mapping[str, str]) -> Any:
        """A first code tries the pending secret; with none pending (or "use a passkey"), nothing is tried."""
        if form.get("action") == "use_passkey":
            return None
        return ctx.user if "pending" in ctx.step_data else None

    def submit(self, ctx: StepContext, form: Mapping[str, str]) -> Outcome:
        user = ctx.user
        data = ctx.step_data
        if form.get("action") == "use_passkey" and getattr(ctx.config, "offer_passkey", True):
            data.pop("pending", None)
            return Skip()  # the next alternative of the level: a passkey on this device
        if user is None or "pending" not in data:
            return Failure("code_expired", counted=False)
        factors = ctx.services.factors
        replace = self._replace(ctx)
        try:
            factors.confirm_totp_enrolment(
                ctx.tenant,
                user,
                factors.open_pending(data["pending"]),
                form.get("code", ""),
                replace_existing=replace,
                label=getattr(ctx.config, "label", "") or "Authenticator",
                actor=f"user:{user.id}" if not replace else f"recovery:{user.id}",
                request=ctx.request,
            )
        except FactorError:
            return Failure("invalid_code")
        data.pop("pending", None)  # the secret leaves the run's state once saved
        proof = "factor_replaced" if replace else "factor_enrolled"
        return Success(proofs=("totp", proof), amr=second_factor_amr(ctx, AMR_OTP))
