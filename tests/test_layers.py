"""Data flows one way (HTTP → blueprint → flow engine → step → services → storage): an import that points back up fails here."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Below the HTTP layer nothing imports Flask, a blueprint or the web layer.
HTTP = ("flask", "werkzeug", "idp.web", "idp.web.oidc_endpoints", "idp.admin")
#: What each layer may not import (prefixes).
FORBIDDEN = {
    "idp/flowengine": HTTP + ("flows",),
    "flows": HTTP,
    "idp/accounts": HTTP + ("flows",),
    "idp/tenants": HTTP + ("flows",),
    "idp/security": HTTP + ("flows", "idp.accounts", "idp.tenants"),
    "idp/store": HTTP + ("flows", "idp.accounts", "idp.tenants", "idp.storage"),
    "idp/storage": HTTP + ("flows", "idp.accounts", "idp.tenants", "idp.store"),
}


def imports_of(path: Path) -> list[str]:
    """Modules ``path`` imports at run time (type-only imports under ``if TYPE_CHECKING:`` do not count)."""
    names: list[str] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_no_import_points_back_up(layer: str) -> None:
    bad = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for name in imports_of(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[layer]):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert bad == []


def test_the_rule_catches_a_violation(tmp_path: Path) -> None:
    """The scanner itself sees both import forms (a rule that cannot fail proves nothing)."""
    sample = tmp_path / "x.py"
    sample.write_text(
        "import flask\nfrom idp.web.flows import start_flow\nfrom . import sibling\n"
        "if TYPE_CHECKING:\n    from idp.admin import x\ndef f():\n    import werkzeug\n"
    )
    assert imports_of(sample) == ["flask", "idp.web.flows", "werkzeug"]


# -- the import graph as a whole (issue 13): no circle, rooms in layers, plugins on the contract alone ----------


def all_imports_of(path: Path) -> list[str]:
    """Every module ``path`` names in an import, type-only and function-local ones included: a circle
    through ``if TYPE_CHECKING:`` is still a circle to whoever reads the code."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules() -> dict[str, Path]:
    """Module name → file, for the core and the plugins (migrations included)."""
    out = {}
    for path in sorted([*(ROOT / "idp").rglob("*.py"), *(ROOT / "flows").rglob("*.py")]):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def module_graph() -> dict[str, set[str]]:
    """Module → the project modules it imports (``from a.b import c`` counts as ``a.b.c`` when that is a module)."""
    known = modules()

    def resolve(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in known}
    for module, path in known.items():
        for name in all_imports_of(path):
            target = resolve(name)
            if target and target != module and not module.startswith(target + "."):  # a package's own face
                graph[module].add(target)
    return graph


def room_of(module: str) -> str:
    """The room a module stands in: ``flows``, a package of ``idp`` (``idp.accounts``), or a module of ``idp``."""
    parts = module.split(".")
    return parts[0] if parts[0] == "flows" or len(parts) == 1 else ".".join(parts[:2])


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_imports_itself_back_through_others() -> None:
    """No import circle between modules (issue 13): each service takes what it uses in its constructor,
    built in one place (:mod:`idp.services`), so nothing reaches back up to a locator."""
    assert circles(module_graph()) == []


def test_rooms_stand_in_layers() -> None:
    """Between rooms (``idp.accounts``, ``idp.oidc``, ``idp.web``, ``flows`` ...) every import points one way:
    the rooms can be stacked so that none imports one above it (zero upward imports)."""
    rooms: dict[str, set[str]] = {}
    for module, targets in module_graph().items():
        rooms.setdefault(room_of(module), set()).update(room_of(t) for t in targets if room_of(t) != room_of(module))
    assert circles(rooms) == []


def test_plugins_import_only_the_public_contract() -> None:
    """``flows/`` and the example plugin (``examples/``) use the core through :mod:`idp.flowengine.contract`
    alone (its curated ``__all__``)."""
    import idp.flowengine.contract as contract

    bad = []
    for path in sorted([*(ROOT / "flows").rglob("*.py"), *(ROOT / "examples").rglob("*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "idp":
                if node.module != "idp.flowengine.contract":
                    bad.append(f"{path.relative_to(ROOT)} imports {node.module}")
                else:
                    bad.extend(f"{path.relative_to(ROOT)} uses {a.name}, not in the contract's __all__" for a in node.names if a.name not in contract.__all__)
            elif isinstance(node, ast.Import) and any(a.name.split(".")[0] == "idp" for a in node.names):
                bad.append(f"{path.relative_to(ROOT)} imports idp directly")
    assert bad == []


def test_the_graph_checks_catch_a_circle() -> None:
    """A circle of three, and one of rooms, are found (a check that cannot fail proves nothing)."""
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
    assert room_of("idp.accounts.users") == "idp.accounts"
    assert room_of("idp.services") == "idp.services"
    assert room_of("flows.steps.totp") == "flows"


def test_building_the_app_connects_to_nothing(make_settings: Any) -> None:
    """Services take their collaborators when built, yet building them opens no connection: a worker starts
    (and answers /healthz) while its Redis is unreachable; the store connects at its first call."""
    from idp import create_app

    app = create_app(make_settings(redis_url="redis+cluster://127.0.0.1:1"))
    services = app.extensions["idp"]
    assert "users" in services.__dict__ and "idp.oidc" in app.extensions  # built at start-up, with the store handed in
    assert not services.store.opened
    assert app.test_client().get("/healthz").status_code == 200
    assert not services.store.opened


def test_flow_packages_ship_their_own_pages_and_catalogs() -> None:
    """Issue 13, item 4: the pages and strings of the installed flows come from their packages, found by the
    registry (the flow's package, then its steps'); the core's templates/ holds none of them."""
    import re

    from idp.flowengine.registry import FlowRegistry

    registry = FlowRegistry()
    registry.load_entry_points()
    pages = registry.resource_dirs("templates")
    assert pages == [ROOT / "flows" / "steps" / "templates", ROOT / "flows" / "self_recovery" / "templates"]
    assert registry.resource_dirs("translations") == [ROOT / "flows" / "steps" / "translations", ROOT / "flows" / "self_recovery" / "translations"]
    named = set()
    for path in (ROOT / "flows").rglob("*.py"):
        named.update(re.findall(r"""["']((?:login|steps|recovery)/[a-z_]+\.html)["']""", path.read_text(encoding="utf-8")))
    assert len(named) >= 8, named
    for page in sorted(named):
        assert any((d / page).is_file() for d in pages), f"{page} is not shipped by a flow package"
        assert not (ROOT / "templates" / page).exists(), f"{page} is still in the core's templates/"
