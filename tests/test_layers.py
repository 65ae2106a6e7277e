"""Data flows one way (HTTP → blueprint → flow engine → step → services → storage): an import that points back up fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Below the HTTP layer nothing imports Flask, a blueprint or the web layer.
HTTP = ("flask", "werkzeug", "idp.web", "idp.oidc.blueprint", "idp.admin")
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
