"""The console's settings pages: one form per part of the tenant configuration, no JSON to type.

``/admin/console/realms/<tenant>/settings/<section>``: branding, sign-in (MFA policy, language,
local passwords), passwords, SMS, mail, tokens, and one page per flow that has settings
(self-recovery). Each form's fields are named by their configuration path
(``sms.per_tenant_daily_cap``, ``flows.self-recovery.settings.link_ttl``); a post becomes the
same configuration patch the admin API's ``PATCH /admin/realms/{tenant}/config`` takes, holding
only the values that changed, and goes through :meth:`AdminActions.update_config` (the tenant
service validates it: nothing is checked here). A refusal names its field: the page shows the
rule next to that field, in the page's language (:mod:`idp.admin.console_messages`), and keeps
what was typed. Numbers are sent as typed when they are not whole numbers, so the service's own
"must be a whole number" answers.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_origin, get_type_hints

from flask import Response, redirect, request, url_for
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

from idp.admin.actions import AdminActions
from idp.admin.console import REFUSALS, _actions, _page, _services, bp
from idp.admin.console_messages import translate
from idp.flowengine.settings import flow_settings
from idp.tenants import logos
from idp.tenants.service import TenantView
from idp.web import csrf
from idp.web.pages import render_page

#: Largest value a number field passes on as a number (longer strings go as typed, and are refused).
_WHOLE = re.compile(r"^-?\d{1,12}$")


@dataclass(frozen=True)
class Field:
    """One setting: its configuration path (also the form field's name), label, kind and hint."""

    path: str
    label: str | LazyString
    #: ``text``, ``url``, ``int``, ``bool``, ``choice``, ``list`` (comma- or space-separated) or ``colour``.
    kind: str = "text"
    hint: str | LazyString = ""
    choices: tuple[tuple[str, str | LazyString], ...] = ()

    @property
    def id(self) -> str:
        """The HTML id of the input (its hint and error use it as their prefix)."""
        return "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.path)


@dataclass(frozen=True)
class Section:
    """One settings page: its URL name, title and fields."""

    name: str
    title: str | LazyString
    fields: tuple[Field, ...]
    #: For a flow's settings page: the flow's name (values are read through the flow's ``Config``).
    flow: str = ""
    #: The form also takes a logo file (branding).
    upload: bool = False


SECONDS = _l("In seconds.")

BRANDING = Section(
    "branding",
    _l("Branding"),
    (
        Field("branding.display_name", _l("Display name"), hint=_l("Shown on pages, in messages and in authenticator apps. Empty: the tenant's name.")),
        Field("branding.logo_url", _l("Logo address"), "url", _l("An https address. Or upload a logo below.")),
        Field("branding.primary_color", _l("Primary colour"), "colour", _l("Buttons and links, e.g. #1f4fd1.")),
        Field("branding.support_url", _l("Support address"), "url", _l("Where « Contact support » points: an https or mailto: address. Empty hides the link.")),
    ),
    upload=True,
)

SIGN_IN = Section(
    "sign-in",
    _l("Sign-in"),
    (
        Field(
            "mfa.policy",
            _l("Second factor"),
            "choice",
            choices=(
                ("off", _l("Off: asked only when an application requires it")),
                ("optional", _l("Optional: users who have one prove it")),
                ("required", _l("Required: every user proves one, enrolling first if needed")),
            ),
        ),
        Field("default_locale", _l("Default language"), "choice", choices=(("en", _l("English")), ("fr", _l("French")))),
        Field("local_passwords", _l("Users have passwords here"), "bool", _l("Untick for a tenant whose every sign-in is federated.")),
    ),
)

PASSWORDS = Section(
    "passwords",
    _l("Password policy"),
    (
        Field("passwords.min_length", _l("Minimum length"), "int", _l("In characters, 8 or more.")),
        Field("passwords.max_length", _l("Maximum length"), "int", _l("In characters, at most 1024.")),
    ),
)

SMS = Section(
    "sms",
    _l("SMS"),
    (
        Field("sms.allowed_as_second_factor", _l("Allow SMS codes as a second factor"), "bool", _l("Always offered next to an authenticator app.")),
        Field("sms.sender_id", _l("Sender ID"), hint=_l("1 to 11 letters or digits, where the country allows it.")),
        Field("sms.allowed_country_codes", _l("Allowed country calling codes"), "list", _l("e.g. 33, 32, 41. Empty: any country.")),
        Field("sms.per_number_daily_cap", _l("Codes per phone number per day"), "int"),
        Field("sms.per_account_daily_cap", _l("Codes per account per day"), "int"),
        Field("sms.per_tenant_daily_cap", _l("Codes for the whole tenant per day"), "int"),
        Field("sms.resend_cooldown", _l("Wait before a new code"), "int", SECONDS),
        Field("sms.code_ttl", _l("Code lifetime"), "int", _l("In seconds, at most 600.")),
        Field("sms.max_attempts", _l("Attempts per code"), "int", _l("1 to 10.")),
    ),
)

MAIL = Section(
    "mail",
    _l("Mail"),
    (
        Field("mail.from_address", _l("Sender address"), hint=_l("Empty: the server's default sender.")),
        Field("mail.configuration_set", _l("SES configuration set"), hint=_l("Empty: none.")),
    ),
)

TOKENS = Section(
    "tokens",
    _l("Tokens and sessions"),
    (
        Field("tokens.signing_alg", _l("Signing algorithm"), "choice", choices=(("RS256", "RS256"), ("ES256", "ES256"))),
        Field("tokens.code_ttl", _l("Authorization code lifetime"), "int", _l("In seconds, at most 600.")),
        Field("tokens.access_token_ttl", _l("Access token lifetime"), "int", SECONDS),
        Field("tokens.id_token_ttl", _l("ID token lifetime"), "int", SECONDS),
        Field("tokens.refresh_token_ttl", _l("Refresh token lifetime"), "int", SECONDS),
        Field("tokens.sso_idle_ttl", _l("Session idle timeout"), "int", SECONDS),
        Field("tokens.sso_max_ttl", _l("Session absolute timeout"), "int", SECONDS),
        Field("tokens.par_ttl", _l("Pushed authorization request lifetime"), "int", _l("In seconds, at most 600.")),
        Field(
            "tokens.dpop_nonce_required",
            _l("Require server nonces in DPoP proofs"),
            "bool",
            _l("Applications using DPoP must first fetch a nonce from this server; a proof without a fresh one is refused."),
        ),
    ),
)

def _kind(hint: Any, name: str) -> str:
    if hint is bool:
        return "bool"
    if hint is int:
        return "int"
    if get_origin(hint) is tuple:
        return "list"
    return "url" if name.endswith("_url") else "text"


def flow_section(flow: Any) -> Section | None:
    """The settings page of a flow whose ``Config`` has fields, built from those fields; None without any."""
    cls = flow.Config
    if not dataclasses.is_dataclass(cls) or not dataclasses.fields(cls):
        return None
    hints = get_type_hints(cls)
    words = flow.setting_words  # English, translated from the flow package's own catalog
    fields = []
    for f in dataclasses.fields(cls):
        label, hint = words.get(f.name, ("", ""))
        fields.append(Field(f"flows.{flow.name}.settings.{f.name}", _l(label) if label else f.name, _kind(hints[f.name], f.name), _l(hint) if hint else ""))
    return Section(flow.name, _l(flow.title) if flow.title else flow.name, tuple(fields), flow=flow.name)


def sections() -> list[Section]:
    """Every settings page, the flows' last."""
    flows = [flow_section(f) for f in sorted(_services().registry, key=lambda f: f.name)]
    return [BRANDING, SIGN_IN, PASSWORDS, SMS, MAIL, TOKENS] + [s for s in flows if s is not None]


def section_named(name: str) -> Section | None:
    return next((s for s in sections() if s.name == name), None)


# -- values ------------------------------------------------------------------------------


def current_values(tenant: TenantView, section: Section) -> dict[str, Any]:
    """The values in force, by path (a flow's defaults when the tenant set none)."""
    flow = _services().registry.get(section.flow) if section.flow else None
    if flow is not None:  # a flow's section exists only for a registered flow
        config = flow_settings(tenant, flow)
        return {f.path: _plain(getattr(config, f.path.rsplit(".", 1)[1])) for f in section.fields}
    dumped = tenant.config.dump()
    out = {}
    for f in section.fields:
        value: Any = dumped
        for key in f.path.split("."):
            value = value.get(key) if isinstance(value, Mapping) else None
        out[f.path] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def submitted(section: Section, form: Mapping[str, str]) -> dict[str, Any]:
    """The form's values by path, as the configuration takes them (a bad number stays as typed)."""
    out: dict[str, Any] = {}
    for f in section.fields:
        raw = form.get(f.path, "")
        if f.kind == "bool":
            out[f.path] = raw == "on"
        elif f.kind == "int":
            raw = raw.strip()
            out[f.path] = int(raw) if _WHOLE.match(raw) else raw
        elif f.kind == "list":
            out[f.path] = [part for part in re.split(r"[\s,;]+", raw) if part]
        else:
            out[f.path] = raw.strip()
    return out


def patch_of(changes: Mapping[str, Any]) -> dict[str, Any]:
    """``{"sms.code_ttl": 60}`` → ``{"sms": {"code_ttl": 60}}``: the admin API's configuration patch."""
    patch: dict[str, Any] = {}
    for path, value in changes.items():
        *parents, leaf = path.split(".")
        node = patch
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return patch


def shown(section: Section, values: Mapping[str, Any]) -> dict[str, Any]:
    """Values as the inputs show them (lists joined)."""
    return {f.path: ", ".join(values[f.path]) if f.kind == "list" and isinstance(values[f.path], list) else values[f.path] for f in section.fields}


# -- pages -------------------------------------------------------------------------------


def _settings_page(
    do: AdminActions, slug: str, section: Section, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None, status: int = 200, refusal: str = ""
) -> Response:
    tenant = do.tenant(slug)
    values = values if values is not None else current_values(tenant, section)
    return _page(
        "admin/settings.html",
        do,
        slug,
        status=status,
        sections=sections(),
        section=section,
        values=shown(section, values),
        errors=errors or {},
        refusal=refusal,
        logo=logos.FIELD,
        logo_max_kb=logos.MAX_BYTES // 1024,
    )


@bp.get("/realms/<tenant>/settings")
def settings(tenant: str) -> Response:
    _actions(tenant)
    return redirect(url_for(".settings_section", tenant=tenant, section=BRANDING.name), 303)  # type: ignore[return-value]


@bp.get("/realms/<tenant>/settings/<section>")
def settings_section(tenant: str, section: str) -> Response:
    do = _actions(tenant)
    found = section_named(section)
    if found is None:
        return render_page("404.html", status=404)
    return _settings_page(do, tenant, found)


def _uploaded_logo() -> bytes | None:
    """The logo file of the branding form, if one was chosen (read up to one byte over the limit)."""
    upload = request.files.get(logos.FIELD)
    if upload is None or not upload.filename:
        return None
    return upload.stream.read(logos.MAX_BYTES + 1)


def _save(do: AdminActions, slug: str, section: Section, changes: dict[str, Any]) -> None:
    """Send the changes (and, on the branding page, the logo) the way the admin API would."""
    if section.upload:
        uploaded = do.tenant(slug).config.branding.uploaded_logo
        if changes.get("branding.logo_url") and uploaded:
            changes["branding.uploaded_logo"] = ""  # a logo address replaces an uploaded logo
        if request.form.get("branding.remove_logo") == "on":
            changes.update({"branding.uploaded_logo": "", "branding.logo_url": ""})
        data = _uploaded_logo()
        if data is not None:
            do.upload_logo(slug, data, patch_of(changes))
            return
    if changes:
        do.update_config(slug, patch_of(changes))


#: Largest branding form accepted (the app's limit is smaller): a logo over :data:`logos.MAX_BYTES`
#: but under this is refused next to its field rather than by a bare 413.
UPLOAD_FORM_LIMIT = 1024 * 1024


@bp.post("/realms/<tenant>/settings/<section>")
def settings_save(tenant: str, section: str) -> Response:
    do = _actions(tenant)  # the console session first (its cookie only): no large body is read for a stranger
    if section == BRANDING.name:
        request.max_content_length = UPLOAD_FORM_LIMIT
    csrf.protect()
    found = section_named(section)
    if found is None:
        return render_page("404.html", status=404)
    values = submitted(found, request.form)
    current = current_values(do.tenant(tenant), found)
    changes = {path: value for path, value in values.items() if value != current[path]}
    try:
        _save(do, tenant, found, changes)
    except REFUSALS as exc:
        field = getattr(exc, "field", "") or ""
        message = translate(str(exc), field, getattr(exc, "code", "") or "")
        if any(f.path == field for f in found.fields) or (found.upload and field == logos.FIELD):
            return _settings_page(do, tenant, found, values, {field: message}, status=int(exc.status))
        return _settings_page(do, tenant, found, values, status=int(exc.status), refusal=f"{field}: {message}" if field else message)
    return redirect(url_for(".settings_section", tenant=tenant, section=found.name, done="saved"), 303)  # type: ignore[return-value]
