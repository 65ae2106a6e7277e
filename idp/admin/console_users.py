"""The console's user pages: find, create, edit, roles, password, second factors, sessions, disable.

``/admin/console/realms/<tenant>/users[/<user id>]``. Every change goes through
:class:`~idp.admin.actions.AdminActions` exactly as the admin API's user operations do (the same
checks: the accounts service's, :func:`idp.admin.auth.check_roles` for roles, platform
administrators' accounts out of tenant admins' reach), and is audited there. A refusal that
names a field is shown next to it in the page's language and keeps what was typed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Response, redirect, request, url_for
from flask_babel import lazy_gettext as _l

from idp.accounts.users import UserError
from idp.admin import auth
from idp.admin.actions import AdminActions
from idp.admin.console import DONE, PAGE, REFUSALS, _actions, _offset, _page, _services, bp
from idp.admin.console_messages import translate
from idp.admin.console_settings import Field
from idp.oidc.consent import ConsentError
from idp.web import csrf
from idp.web.pages import render_page

LOCALES = (("", _l("The browser's language")), ("en", _l("English")), ("fr", _l("French")))
PROFILE = (
    Field("email", _l("Email"), "email"),
    Field("email_verified", _l("Email address verified"), "bool"),
    Field("phone", _l("Phone"), "tel", _l("International form, e.g. +33612345678.")),
    Field("given_name", _l("Given name")),
    Field("family_name", _l("Family name")),
    Field("locale", _l("Language"), "choice", choices=LOCALES),
)
USERNAME = Field("username", _l("Username"))
PASSWORD = Field("password", _l("Password"), "password", _l("Optional: without one, the user sets it through self-recovery."))
NEW_PASSWORD = Field("password", _l("New password"), "password")
ROLE_WORDS = {auth.TENANT_ADMIN: _l("Tenant administrator"), auth.PLATFORM_ADMIN: _l("Platform administrator")}

DONE.update(
    {
        "created": _l("The user was created."),
        "roles": _l("The user's roles were saved."),
        "password": _l("The password was set."),
        "factor_removed": _l("The second factor was removed."),
        "consent_revoked": _l("The consent was revoked; the application's tokens for this user no longer work."),
    }
)


def grantable_roles(do: AdminActions, slug: str) -> list[str]:
    """Roles this admin may see and hand out here: platform-admin only to platform admins, in master."""
    return [r for r in auth.ROLES if r != auth.PLATFORM_ADMIN or (slug == auth.MASTER and do.admin.platform)]


def _profile_values(form: Mapping[str, str]) -> dict[str, Any]:
    """The profile form as the accounts service takes it (an empty email, phone or language: none)."""
    values: dict[str, Any] = {f.path: form.get(f.path, "").strip() or None for f in PROFILE if f.kind != "bool"}
    values["email_verified"] = form.get("email_verified") == "on"
    values["given_name"] = values["given_name"] or ""
    values["family_name"] = values["family_name"] or ""
    return values


def _refusal(exc: Exception, fields: set[str]) -> tuple[dict[str, str], str]:
    """(errors by field, message for the top of the page) of a service's refusal."""
    field = getattr(exc, "field", "") or ""
    message = translate(str(exc), field, getattr(exc, "code", "") or "")
    if field in fields:
        return {field: message}, ""
    return {}, message


def _status(exc: Exception) -> int:
    return int(getattr(exc, "status", 400))


# -- the list, and creating a user ----------------------------------------------------------


@bp.get("/realms/<tenant>/users")
def users(tenant: str) -> Response:
    do = _actions(tenant)
    return _users_page(do, tenant)


def _users_page(do: AdminActions, slug: str, status: int = 200, values: Mapping[str, Any] | None = None, errors: Mapping[str, str] | None = None, refusal: str = "") -> Response:
    query, offset = request.args.get("q", "")[:100], _offset()
    found, total = _services().users.search(do.tenant(slug), query, offset, PAGE)
    return _page(
        "admin/users.html",
        do,
        slug,
        status=status,
        users=found,
        total=total,
        query=query,
        offset=offset,
        page=PAGE,
        fields=(USERNAME, *PROFILE, PASSWORD),
        values=values or {"email_verified": False, "locale": ""},
        errors=errors or {},
        refusal=refusal,
        roles=grantable_roles(do, slug),
        role_words=ROLE_WORDS,
        chosen_roles=(values or {}).get("roles", []),
    )


@bp.post("/realms/<tenant>/users")
def user_create(tenant: str) -> Response:
    csrf.protect()
    do = _actions(tenant)
    data = {**_profile_values(request.form), "username": request.form.get("username", "").strip(), "roles": request.form.getlist("roles")}
    data["password"] = request.form.get("password") or None
    try:
        created = do.create_user(tenant, {k: v for k, v in data.items() if v is not None})
    except REFUSALS as exc:
        errors, refusal = _refusal(exc, {"username", "password", "roles", *(f.path for f in PROFILE)})
        return _users_page(do, tenant, _status(exc), {**data, "password": ""}, errors, refusal)
    return redirect(url_for(".user", tenant=tenant, user_id=created.sub, done="created"), 303)  # type: ignore[return-value]


# -- one user -------------------------------------------------------------------------------


@bp.get("/realms/<tenant>/users/<user_id>")
def user(tenant: str, user_id: str) -> Response:
    do = _actions(tenant)
    return user_page(do, tenant, user_id)


def _current_profile(user: Any) -> dict[str, Any]:
    return {
        "email": user.email,
        "email_verified": bool(user.email_verified),
        "phone": user.phone,
        "given_name": user.given_name or "",
        "family_name": user.family_name or "",
        "locale": user.locale,
    }


def user_page(
    do: AdminActions,
    slug: str,
    user_id: str,
    status: int = 200,
    refusal: str = "",
    errors: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> Response:
    view = do.tenant(slug)
    try:
        found = do.user(view, user_id)
    except UserError:
        return render_page("404.html", status=404, tenant=view)
    services = _services()
    return _page(
        "admin/user.html",
        do,
        slug,
        status=status,
        user=found,
        factors=services.factors.active(view, found),
        history=[f for f in services.factors.history(view, found) if f.removed_at is not None],
        consents=services.consents.list_for_user(view, found.id),
        passkeys=services.factors.passkey_details(view, found),
        refusal=refusal,
        profile=PROFILE,
        new_password=NEW_PASSWORD,
        values={**_current_profile(found), **(values or {})},
        errors=errors or {},
        roles=grantable_roles(do, slug),
        role_words=ROLE_WORDS,
    )


@bp.post("/realms/<tenant>/users/<user_id>/profile")
def user_profile(tenant: str, user_id: str) -> Response:
    csrf.protect()
    do = _actions(tenant)
    values = _profile_values(request.form)
    try:
        current = _current_profile(do.user(do.tenant(tenant), user_id))
        changes = {k: v for k, v in values.items() if v != current[k]}
        if changes:
            do.update_user(tenant, user_id, changes)
    except REFUSALS as exc:
        errors, refusal = _refusal(exc, {f.path for f in PROFILE})
        return user_page(do, tenant, user_id, _status(exc), refusal, errors, values)
    return _back_to_user(tenant, user_id, "saved")


@bp.post("/realms/<tenant>/users/<user_id>/roles")
def user_roles(tenant: str, user_id: str) -> Response:
    csrf.protect()
    do = _actions(tenant)
    try:
        target = do.user(do.tenant(tenant), user_id)
        hidden = [r for r in (target.roles or []) if r not in grantable_roles(do, tenant)]  # kept as they are
        do.update_user(tenant, user_id, {"roles": hidden + request.form.getlist("roles")})
    except REFUSALS as exc:
        errors, refusal = _refusal(exc, {"roles"})
        return user_page(do, tenant, user_id, _status(exc), refusal, errors)
    return _back_to_user(tenant, user_id, "roles")


@bp.post("/realms/<tenant>/users/<user_id>/password")
def user_password(tenant: str, user_id: str) -> Response:
    csrf.protect()
    do = _actions(tenant)
    try:
        do.set_password(tenant, user_id, request.form.get("password", ""))
    except REFUSALS as exc:
        errors, refusal = _refusal(exc, {"password"})
        return user_page(do, tenant, user_id, _status(exc), refusal, errors)
    return _back_to_user(tenant, user_id, "password")


@bp.post("/realms/<tenant>/users/<user_id>/factors/<factor_id>")
def user_factor_remove(tenant: str, user_id: str, factor_id: str) -> Response:
    csrf.protect()
    do = _actions(tenant)
    try:
        do.remove_factor(tenant, user_id, factor_id)
    except REFUSALS as exc:
        return user_page(do, tenant, user_id, _status(exc), translate(str(exc)))
    return _back_to_user(tenant, user_id, "factor_removed")


#: The refusal when the consent was already revoked (e.g. in another tab).
NO_CONSENT = _l("This user has no consent to that application (any more).")


@bp.post("/realms/<tenant>/users/<user_id>/consents/<client_id>")
def user_consent_revoke(tenant: str, user_id: str, client_id: str) -> Response:
    """Revoke the user's consent to a third-party client (the admin API's ``DELETE .../consents/{client_id}``)."""
    csrf.protect()
    do = _actions(tenant)
    try:
        do.revoke_consent(tenant, user_id, client_id)
    except ConsentError:
        return user_page(do, tenant, user_id, 404, str(NO_CONSENT))
    except REFUSALS as exc:
        return user_page(do, tenant, user_id, _status(exc), translate(str(exc)))
    return _back_to_user(tenant, user_id, "consent_revoked")


USER_ACTIONS: dict[str, Callable[[AdminActions, str, str], Any]] = {
    "reset_factors": lambda do, t, u: do.reset_factors(t, u),
    "unlock": lambda do, t, u: do.unlock(t, u),
    "sessions_revoked": lambda do, t, u: do.revoke_sessions(t, u),
    "disabled": lambda do, t, u: do.set_enabled(t, u, False),
    "enabled": lambda do, t, u: do.set_enabled(t, u, True),
}
USER_DONE = {"reset_factors": "factors_reset", "unlock": "unlocked"}


@bp.post("/realms/<tenant>/users/<user_id>")
def user_change(tenant: str, user_id: str) -> Response:
    csrf.protect()
    do = _actions(tenant)
    action = request.form.get("action", "")
    if action not in USER_ACTIONS:
        return render_page("400.html", status=400)
    try:
        USER_ACTIONS[action](do, tenant, user_id)
    except REFUSALS as exc:
        return user_page(do, tenant, user_id, _status(exc), translate(str(exc)))
    return _back_to_user(tenant, user_id, USER_DONE.get(action, action))


def _back_to_user(slug: str, user_id: str, done: str) -> Response:
    return redirect(url_for(".user", tenant=slug, user_id=user_id, done=done), 303)  # type: ignore[return-value]
