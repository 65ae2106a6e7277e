"""The account console's « Signing in » pages: second factors, recovery codes and the password.

Every page that changes credentials asks for a fresh authentication before it shows its form and again
when the form is posted (:func:`~idp.web.account_console.changing`, R-38, R-54); the form's CSRF token
is checked first (R-42). The factor list is generic over the factor kinds the factor service lists
(:data:`FACTOR_KINDS` only names them), and « Add a second factor » is the list :data:`ADD_ENTRIES`
(an authenticator app; a passkey where the tenant's sign-in can use one).

- ``GET /realms/<t>/account/security``: the factors, how many recovery codes are left, the entries.
- ``GET|POST .../security/factors/<id>/rename`` and ``.../remove``: under the ``required`` MFA policy the
  last second factor cannot be removed (409, a clear message, nothing changed).
- ``GET|POST .../security/authenticator``: QR code and key of a new secret (kept sealed in the store for
  this browser, R-84), saved once a first code from it is valid (R-85).
- ``GET|POST .../security/passkey``: a passkey on this device (WebAuthn, :mod:`idp.accounts.passkeys`): the
  page carries the registration options (the ceremony's id stays in the store for this browser), the
  browser posts its answer and a name; the server checks it against the challenge it kept for this user
  (R-43) and saves it; a refusal is audited (``factor.enrolment_failed``) and changes nothing. Offered only where
  the tenant's sign-in flow binds the ``passkey`` step, and only with JavaScript (WebAuthn needs it).
- ``GET|POST .../security/recovery-codes``: a new set voiding the old one, shown once (``no-store``).
- ``GET|POST .../security/password``: current password (R-26), new one twice (R-51), policy (R-04);
  wrong current passwords are throttled per account (R-06).
"""

from __future__ import annotations

import re
from typing import Any

import qrcode  # type: ignore[import-untyped]
import qrcode.image.svg  # type: ignore[import-untyped]
from flask import Response, abort, request, url_for
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from idp.accounts.factors import FactorError, group_secret
from idp.accounts.recovery_codes import RECOVERY_CODE
from idp.accounts.users import UserError
from idp.flowengine.contract import LOGIN
from idp.web.account_console_signin import Holder, back_to, bp, changing, holder, notify_change, page
from idp.web.context import current_services as _services
from idp.web.flows import request_info
from idp.web.messages import message_for

#: How the page names each factor kind the factor service lists; an unnamed kind shows its type.
FACTOR_KINDS = {
    "totp": _l("Authenticator app"),
    "sms": _l("Text message (SMS)"),
    "passkey": _l("Passkey"),
    RECOVERY_CODE: _l("Recovery codes"),
}

#: « Add a second factor »: (endpoint, title, description).
ADD_ENTRIES: list[tuple[str, Any, Any]] = [
    ("account_console.add_authenticator", _l("An authenticator app"), _l("A 6-digit code from an app on your phone.")),
]
#: The passkey's entry, listed where the tenant's sign-in uses passkeys (shown only with JavaScript).
PASSKEY_ENTRY = (
    "account_console.add_passkey",
    _l("A passkey"),
    _l("Sign in with this device's screen lock (fingerprint, face or PIN) or a security key."),
)

#: The console's own refusals (the password policy's come from :mod:`idp.web.messages`).
ERRORS = {
    "invalid_label": _l("The name must have 1 to 60 characters."),
    "last_second_factor": _l("Your organisation requires a second factor: add another one before you remove this one."),
    "wrong_password": _l("Your current password is not right."),
    "password_mismatch": _l("The two new passwords are not the same."),
    "code_expired": _l("This page has expired. Please start again."),
    "passkey_failed": _l("No passkey was created. Try again."),
    "passkey_exists": _l("This passkey is already registered."),
}

#: Wrong current passwords per account before the form pauses (R-06), and the pause (seconds).
PASSWORD_TRIES = 5
PASSWORD_PAUSE = 900
#: How long a new authenticator's secret waits for its first code (seconds).
PENDING_TTL = 600

_XML_DECL = re.compile(r"^<\?xml[^>]*\?>\s*")


def error_text(code: str) -> str:
    return str(ERRORS[code]) if code in ERRORS else message_for(code)


def kind_name(type_: str) -> str:
    return str(FACTOR_KINDS.get(type_, type_))


def qr_svg(data: str) -> Markup:
    """``data`` as an inline SVG QR code (no external request, no JavaScript)."""
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    svg = _XML_DECL.sub("", image.to_string(encoding="unicode"))
    svg = re.sub(r'\s(width|height)="[^"]*"', "", svg, count=2)
    svg = svg.replace("<svg ", f'<svg class="qr" width="200" height="200" role="img" aria-label="{_l("QR code")}" ', 1)
    return Markup(svg)


def _url(endpoint: str, tenant: str, **values: Any) -> str:
    return url_for(f"account_console.{endpoint}", tenant=tenant, **values)


# -- the list ---------------------------------------------------------------------------------


@bp.get("/realms/<tenant>/account/security")
def security(tenant: str) -> Response:
    who = holder(tenant)
    return _security_page(who)


def _security_page(who: Holder, status: int = 200, refusal: str = "") -> Response:
    services = _services()
    factors = services.factors.active(who.tenant, who.user)
    listed = [
        {"id": f.id, "type": f.type, "kind": kind_name(f.type), "label": f.label, "created_at": f.created_at, "last_used_at": f.last_used_at}
        for f in factors
        if f.type != RECOVERY_CODE
    ]
    return page(
        "account/security.html",
        who,
        status=status,
        factors=listed,
        codes_left=services.factors.recovery_codes_left(who.tenant, who.user),
        has_codes=any(f.type == RECOVERY_CODE for f in factors),
        add_entries=ADD_ENTRIES,
        passkey_entry=PASSKEY_ENTRY if _passkeys_offered(who) else None,
        mfa_required=who.tenant.config.mfa.policy == "required",
        local_password=bool(who.tenant.config.local_passwords and who.user.password_hash),
        refusal=refusal,
        offer_sign_out=request.args.get("done") in ("password", "removed", "added", "passkey_added"),
    )


def _factor(who: Holder, factor_id: str) -> Any:
    found = _services().factors.get(who.tenant, who.user, factor_id[:64])
    if found is None or found.removed_at is not None:
        abort(404)
    return found


# -- rename, remove ------------------------------------------------------------------------------


@bp.route("/realms/<tenant>/account/security/factors/<factor_id>/rename", methods=["GET", "POST"])
def rename_factor(tenant: str, factor_id: str) -> Response:
    here = _url("rename_factor", tenant, factor_id=factor_id)
    who = changing(tenant, here) if request.method == "POST" else holder(tenant, fresh=True)
    factor = _factor(who, factor_id)
    if request.method == "GET":
        return page("account/factor_rename.html", who, factor=factor, kind=kind_name(factor.type), label=factor.label)
    label = request.form.get("label", "")
    try:
        _services().factors.rename_factor(who.tenant, who.user, factor.id, label, actor=f"user:{who.user.id}", request=request_info())
    except FactorError as exc:
        return page("account/factor_rename.html", who, status=exc.status, factor=factor, kind=kind_name(factor.type), label=label[:200], error=error_text(exc.code))
    return back_to(".security", "renamed", tenant=tenant)


@bp.route("/realms/<tenant>/account/security/factors/<factor_id>/remove", methods=["GET", "POST"])
def remove_factor(tenant: str, factor_id: str) -> Response:
    here = _url("remove_factor", tenant, factor_id=factor_id)
    who = changing(tenant, here) if request.method == "POST" else holder(tenant, fresh=True)
    factor = _factor(who, factor_id)
    if request.method == "GET":
        return page("account/factor_remove.html", who, factor=factor, kind=kind_name(factor.type))
    try:
        _services().factors.remove_own_factor(who.tenant, who.user, factor.id, request=request_info())
    except FactorError as exc:
        return _security_page(who, status=exc.status, refusal=error_text(exc.code))
    notify_change(who, "factor_removed")
    return back_to(".security", "removed", tenant=tenant)


# -- add an authenticator app (R-13, R-85) -----------------------------------------------------------------


def _pending_key(who: Holder) -> str:
    from idp.web.browser import browser_binding

    return f"{who.tenant.slug}:account-totp:{who.user.id}:{_services().secrets.digest(browser_binding(), 'account-totp')}"


def _pending_secret(who: Holder, start: bool) -> str | None:
    """This browser's secret waiting for its first code (sealed in the store, R-84); a new one when ``start``."""
    services = _services()
    record = services.store.find(_pending_key(who))
    if record is not None:
        return services.factors.open_pending(record["sealed"])
    if not start:
        return None
    secret = services.factors.begin_totp_enrolment(who.tenant, who.user).secret
    services.store.upsert(_pending_key(who), {"sealed": services.factors.seal_pending(secret)}, PENDING_TTL)
    return secret


def _authenticator_page(who: Holder, secret: str, status: int = 200, error: str = "", label: str = "") -> Response:
    uri = _services().factors.otpauth_uri(who.tenant, who.user, secret)
    return page(
        "account/authenticator.html",
        who,
        status=status,
        qr_svg=qr_svg(uri),
        secret_groups=group_secret(secret),
        issuer=who.tenant.brand_name,
        account=who.user.username,
        error=error,
        label=label,
    )


@bp.route("/realms/<tenant>/account/security/authenticator", methods=["GET", "POST"])
def add_authenticator(tenant: str) -> Response:
    here = _url("add_authenticator", tenant)
    if request.method == "GET":
        who = holder(tenant, fresh=True)
        secret = _pending_secret(who, start=True)
        assert secret is not None
        return _authenticator_page(who, secret)
    who = changing(tenant, here)
    secret = _pending_secret(who, start=False)
    label = " ".join(request.form.get("label", "").split())[:60] or str(_l("Authenticator app"))
    if secret is None:
        return _authenticator_page(who, _pending_secret(who, start=True) or "", status=400, error=error_text("code_expired"))
    try:
        _services().factors.confirm_totp_enrolment(
            who.tenant, who.user, secret, request.form.get("code", ""), label=label, actor=f"user:{who.user.id}", request=request_info()
        )
    except FactorError:
        return _authenticator_page(who, secret, status=422, error=error_text("invalid_code"), label=label)
    _services().store.destroy(_pending_key(who))  # the secret leaves the store once saved
    notify_change(who, "factor_added")
    return back_to(".security", "added", tenant=tenant)


# -- add a passkey (WebAuthn) ---------------------------------------------------------------------------------


def _passkeys_offered(who: Holder) -> bool:
    return bool(_services().engine.offers_step(who.tenant, LOGIN, "passkey"))


def _ceremony_key(who: Holder) -> str:
    from idp.web.browser import browser_binding

    return f"{who.tenant.slug}:account-passkey:{who.user.id}:{_services().secrets.digest(browser_binding(), 'account-passkey')}"


def _passkey_page(who: Holder, status: int = 200, error: str = "", label: str = "") -> Response:
    """A new registration ceremony; its id stays server-side for this browser (the page never names it)."""
    services = _services()
    options = services.factors.begin_passkey_registration(who.tenant, who.user)
    services.store.upsert(_ceremony_key(who), {"ceremony": options.ceremony}, PENDING_TTL)
    response = page("account/passkey.html", who, status=status, passkey_options=options.options_json, error=error, label=label)
    response.headers["Cache-Control"] = "no-store"  # a single-use ceremony
    return response


@bp.route("/realms/<tenant>/account/security/passkey", methods=["GET", "POST"])
def add_passkey(tenant: str) -> Response:
    here = _url("add_passkey", tenant)
    who = holder(tenant, fresh=True) if request.method == "GET" else changing(tenant, here)
    if not _passkeys_offered(who):
        abort(404)
    if request.method == "GET":
        return _passkey_page(who)
    services = _services()
    label = " ".join(request.form.get("label", "").split())[:60] or str(_l("Passkey"))
    kept = services.store.take(_ceremony_key(who))
    try:
        services.factors.finish_passkey_registration(
            who.tenant,
            who.user,
            str((kept or {}).get("ceremony", "")),
            request.form.get("credential", ""),
            label=label,
            actor=f"user:{who.user.id}",
            request=request_info(),
        )
    except FactorError as exc:
        info = request_info()
        services.audit.record(
            who.tenant.id, "factor.enrolment_failed", user_id=who.user.id, client_ip=info.client_ip, user_agent=info.user_agent,
            factor="passkey", reason=exc.code, source="account-console",
        )  # fmt: skip
        if exc.code == "passkey_expired":
            return _passkey_page(who, status=400, error=error_text("code_expired"), label=label)
        code = "passkey_exists" if exc.code == "passkey_exists" else "passkey_failed"
        return _passkey_page(who, status=exc.status if exc.status != 400 else 422, error=error_text(code), label=label)
    notify_change(who, "factor_added")
    return back_to(".security", "passkey_added", tenant=tenant)


# -- recovery codes ------------------------------------------------------------------------------------------


@bp.route("/realms/<tenant>/account/security/recovery-codes", methods=["GET", "POST"])
def recovery_codes(tenant: str) -> Response:
    here = _url("recovery_codes", tenant)
    if request.method == "GET":
        who = holder(tenant, fresh=True)
        left = _services().factors.recovery_codes_left(who.tenant, who.user)
        return page("account/recovery_codes.html", who, codes=[], left=left)
    who = changing(tenant, here)
    codes = _services().factors.generate_recovery_codes(who.tenant, who.user, actor=f"user:{who.user.id}", request=request_info())
    notify_change(who, "recovery_codes")
    return page("account/recovery_codes.html", who, codes=codes, left=len(codes))  # shown once; no-store


# -- password (R-26, R-04, R-51) ------------------------------------------------------------------------------


def _tries_key(who: Holder) -> str:
    return f"{who.tenant.slug}:account-password-tries:{who.user.id}"


def _password_page(who: Holder, status: int = 200, errors: dict[str, str] | None = None) -> Response:
    policy = _services().users.policy(who.tenant)
    return page("account/password.html", who, status=status, errors=errors or {}, min_length=policy.min_length)


@bp.route("/realms/<tenant>/account/security/password", methods=["GET", "POST"])
def password(tenant: str) -> Response:
    here = _url("password", tenant)
    who = holder(tenant, fresh=True) if request.method == "GET" else changing(tenant, here)
    if not (who.tenant.config.local_passwords and who.user.password_hash):
        abort(404)  # no local password here (a federating tenant): nothing to change
    if request.method == "GET":
        return _password_page(who)
    services = _services()
    if services.store.counter(_tries_key(who)) >= PASSWORD_TRIES:
        return _password_page(who, status=429, errors={"current_password": message_for("too_many_attempts")})
    new, again = request.form.get("new_password", ""), request.form.get("new_password_again", "")
    if new != again:
        return _password_page(who, status=422, errors={"new_password_again": error_text("password_mismatch")})
    try:
        services.users.change_password(who.tenant, who.user, request.form.get("current_password", ""), new, request_info())
    except UserError as exc:
        if exc.field == "current_password":
            services.store.incr(_tries_key(who), PASSWORD_PAUSE)
            return _password_page(who, status=exc.status, errors={"current_password": error_text("wrong_password")})
        code = exc.code if exc.code.startswith("password_") else f"password_{exc.code}"  # the policy's reason
        return _password_page(who, status=exc.status, errors={"new_password": error_text(code)})
    services.store.destroy(_tries_key(who))
    notify_change(who, "password")
    return back_to(".security", "password", tenant=tenant)
