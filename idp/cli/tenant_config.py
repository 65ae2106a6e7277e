"""``idp tenant config get|set|apply`` and ``idp tenant export|import``: tenant configuration as code.

Every change goes through the admin API's own path (:meth:`AdminActions.update_config`, as the
operator), so the CLI refuses exactly what a ``PATCH /admin/realms/{tenant}/config`` refuses, naming
the key. ``--check`` runs that same path inside a transaction that is rolled back. Documents are JSON.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints

import click

from idp.cli.base import CliError, emit, json_option, services
from idp.cli.operator import operator_actions
from idp.cli.tenants import tenant
from idp.oidc.clients import LOGOUT_FIELDS, ClientError
from idp.tenants.config import TenantConfig

#: The ``format`` of an export document; import refuses any other.
EXPORT_FORMAT = "idp-tenant/1"
#: Registered by the console itself on first use, with this deployment's URL: never exported.
CONSOLE_CLIENT = "admin-console"
#: The client fields an export document carries (never a secret, nor its hash).
CLIENT_FIELDS = (
    "client_id", "name", "public", "redirect_uris", "post_logout_redirect_uris", "grant_types", "scope", "token_endpoint_auth_method", "require_pkce",
    "consent_required", "response_modes",
    *LOGOUT_FIELDS,
)
DOCUMENT_FIELDS = ("format", "slug", "display_name", "experience", "config", "clients")


@tenant.group("config")
def config() -> None:
    """Read and change a tenant's configuration (the rules of the admin API apply)."""


# -- keys and values ----------------------------------------------------------------


def lookup(data: Any, key: str) -> Any:
    """The value at dotted ``key`` of a dumped configuration; a refusal naming the key when there is none."""
    value = data
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise CliError(f"{key}: is not a known setting")
        value = value[part]
    return value


def _hint(key: str) -> Any:
    """The declared type of dotted ``key`` in :class:`TenantConfig`, or None when it has none (free-form settings)."""
    hint: Any = TenantConfig
    for part in key.split("."):
        if dataclasses.is_dataclass(hint):
            hints = get_type_hints(hint)
            if part not in hints:
                return None
            hint = hints[part]
        elif get_origin(hint) in (Mapping, collections.abc.Mapping, dict) and len(get_args(hint)) == 2:
            hint = get_args(hint)[1]  # Mapping[str, X]: any name, then X
        else:
            return None
    return hint


def parse_value(key: str, raw: str) -> Any:
    """``raw`` as the setting's type: text for a text setting, else JSON (numbers, true/false, lists, objects),
    falling back to the text itself so the shared rule names the key when it is not the right kind."""
    if _hint(key) is str:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def assignments_patch(pairs: tuple[str, ...]) -> dict[str, Any]:
    """A nested patch from ``KEY=VALUE`` arguments with dotted keys (later ones win)."""
    patch: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise click.UsageError(f"expected KEY=VALUE (e.g. mfa.policy=required), got {pair!r}")
        node = patch
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = parse_value(key, raw)
    return patch


def changes(before: Any, after: Any, prefix: str = "") -> list[dict[str, Any]]:
    """Every setting whose value differs, by dotted key (lists compare whole)."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        out: list[dict[str, Any]] = []
        for key in list(before) + [k for k in after if k not in before]:
            out.extend(changes(before.get(key), after.get(key), f"{prefix}{key}."))
        return out
    if before == after:
        return []
    return [{"key": prefix.rstrip("."), "before": before, "after": after}]


def read_document(path: str) -> Any:
    """A JSON document from ``path`` (``-``: standard input); one line when it cannot be read."""
    try:
        text = click.get_text_stream("stdin").read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise CliError(f"{path} is not valid JSON: {exc}") from None


# -- config get / set / apply ---------------------------------------------------------


@config.command("get")
@click.argument("slug")
@click.argument("key", required=False)
@json_option
def get(slug: str, key: str | None, as_json: bool) -> None:
    """Print the configuration of tenant SLUG, or the setting KEY (dotted, e.g. branding.primary_color)."""
    data = services().tenants.require(slug).config.dump()
    value = lookup(data, key) if key else data
    if as_json or isinstance(value, (Mapping, list)):
        click.echo(json.dumps(value, indent=2))
    else:
        click.echo(json.dumps(value) if not isinstance(value, str) else value)


@config.command("set")
@click.argument("slug")
@click.argument("assignments", nargs=-1, required=True, metavar="KEY=VALUE...")
@click.option("--check", is_flag=True, help="Validate and print the changes without writing them.")
@json_option
def set_(slug: str, assignments: tuple[str, ...], check: bool, as_json: bool) -> None:
    """Change settings of tenant SLUG, e.g. mfa.policy=required branding.primary_color=#0a7d3b.

    Dotted keys reach nested settings; lists and objects are JSON (sms.allowed_country_codes='["33"]').
    """
    _change(slug, assignments_patch(assignments), check, as_json)


@config.command("apply")
@click.argument("slug")
@click.option("--file", "path", required=True, metavar="F", help="A JSON object of settings (- : standard input).")
@click.option("--check", is_flag=True, help="Validate and print the changes without writing them.")
@json_option
def apply(slug: str, path: str, check: bool, as_json: bool) -> None:
    """Merge the settings of file F into tenant SLUG's configuration (keys F leaves out keep their value)."""
    patch = read_document(path)
    if not isinstance(patch, dict):
        raise CliError(f"{path}: must be a JSON object of settings")
    _change(slug, patch, check, as_json)


def _change(slug: str, patch: dict[str, Any], check: bool, as_json: bool) -> None:
    """Apply ``patch`` through the admin API's path in one transaction (rolled back with ``check``); print what changed."""
    svc = services()
    before = svc.tenants.require(slug).config.dump()
    try:
        with svc.db.transaction(commit=not check):
            after = operator_actions().update_config(slug, patch).config.dump()
    finally:
        svc.tenants.invalidate(slug)
    _report(slug, changes(before, after), written=not check, as_json=as_json)


def _report(slug: str, diff: list[dict[str, Any]], written: bool, as_json: bool) -> None:
    if as_json:
        emit({"tenant": slug, "written": written and bool(diff), "changes": diff}, True)
        return
    for row in diff:
        click.echo(f"{row['key']}: {json.dumps(row['before'])} -> {json.dumps(row['after'])}")
    if not diff:
        click.echo("no change")
    elif not written:
        click.echo("checked: nothing written")


# -- export / import ------------------------------------------------------------------


@tenant.command("export")
@click.argument("slug")
def export(slug: str) -> None:
    """Print tenant SLUG as a JSON document: its configuration (flows included) and its clients, without secrets."""
    svc = services()
    t = svc.tenants.require(slug)
    clients = [{k: c.to_dict()[k] for k in CLIENT_FIELDS} for c in svc.clients.list(t) if c.client_id != CONSOLE_CLIENT]
    document = {
        "format": EXPORT_FORMAT,
        "slug": t.slug,
        "display_name": t.display_name,
        "experience": t.experience,
        "config": t.config.dump(),
        "clients": clients,
    }
    click.echo(json.dumps(document, indent=2))


@tenant.command("import")
@click.argument("path", metavar="FILE")
@click.option("--check", is_flag=True, help="Validate the whole document and print what would change, without writing.")
@json_option
def import_(path: str, check: bool, as_json: bool) -> None:
    """Create or update the tenant described by FILE (from `idp tenant export`), in one transaction.

    A new confidential client's generated secret is printed this once.
    """
    document = _checked_document(read_document(path))
    svc = services()
    slug = document["slug"]
    try:
        with svc.db.transaction(commit=not check):
            result = _import(document)
    finally:
        svc.tenants.invalidate(slug)
    result["written"] = not check
    if check:
        result["client_secrets"] = {}  # rolled back: those secrets were never stored
    if not as_json and result["client_secrets"]:
        click.echo("The secrets of new clients are shown this once; store them now.", err=True)
    emit(result, as_json)


def _checked_document(doc: Any) -> dict[str, Any]:
    """The document's shape, refused with one line naming the first wrong key."""
    if not isinstance(doc, dict):
        raise CliError("the document must be a JSON object (see `idp tenant export`)")
    for key in doc:
        if key not in DOCUMENT_FIELDS:
            raise CliError(f"{key}: is not a known field of a tenant document")
    if doc.get("format") != EXPORT_FORMAT:
        raise CliError(f"format: must be {EXPORT_FORMAT!r}")
    if not isinstance(doc.get("slug"), str):
        raise CliError("slug: must be the tenant's name")
    for key in ("display_name", "experience"):
        if key in doc and not isinstance(doc[key], str):
            raise CliError(f"{key}: must be a string")
    if not isinstance(doc.get("config", {}), dict):
        raise CliError("config: must be an object")
    clients = doc.get("clients", [])
    if not isinstance(clients, list):
        raise CliError("clients: must be a list")
    seen: set[str] = set()
    for i, client in enumerate(clients):
        if not isinstance(client, dict) or not isinstance(client.get("client_id"), str):
            raise CliError(f"clients[{i}].client_id: every client needs a client_id")
        for key in client:
            if key not in CLIENT_FIELDS:
                raise CliError(f"clients.{client['client_id']}.{key}: is not a known client field")
        if client["client_id"] in seen:
            raise CliError(f"clients.{client['client_id']}: appears twice")
        seen.add(client["client_id"])
    return doc


def _import(doc: dict[str, Any]) -> dict[str, Any]:
    """Create or update the tenant, its configuration and its clients (inside the caller's transaction)."""
    svc = services()
    actions = operator_actions()
    slug = doc["slug"]
    config = dict(doc.get("config", {}))
    existing = svc.tenants.get(slug)
    experience = doc.get("experience", "v2")
    if existing is None:
        # created without its flows, which the configuration change below then enables under the API's rules
        svc.tenants.create(slug, display_name=doc.get("display_name", ""), experience=experience, config={k: v for k, v in config.items() if k != "flows"}, actor="cli")
        svc.tenants.invalidate(slug)
        before: dict[str, Any] = {}
    else:
        if existing.experience != experience:
            raise CliError(f"experience: tenant {slug!r} is {existing.experience}, the document says {experience}; run `idp tenant migrate` first")
        before = existing.config.dump()
    after = actions.update_config(slug, config).config.dump()
    created, updated, secrets = [], [], {}
    for client in doc.get("clients", []):
        client_id = client["client_id"]
        try:
            if svc.clients.get(svc.tenants.require(slug), client_id) is None:
                _, secret = actions.create_client(slug, {k: v for k, v in client.items() if v is not None})
                created.append(client_id)
                if secret:
                    secrets[client_id] = secret
            else:
                fields = {k: v for k, v in client.items() if k not in ("client_id", "public")}
                if "public" in client:
                    fields.setdefault("token_endpoint_auth_method", "none" if client["public"] else "client_secret_basic")
                actions.update_client(slug, client_id, fields)
                updated.append(client_id)
        except ClientError as exc:
            raise CliError(f"clients.{client_id}: {exc}") from None
    return {
        "tenant": slug,
        "created": existing is None,
        "changes": changes(before, after) if existing is not None else [],
        "clients_created": created,
        "clients_updated": updated,
        "client_secrets": secrets,
    }
