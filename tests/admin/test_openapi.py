"""The OpenAPI 3.1 document at /admin/openapi.json stays true: it is a valid document, it lists
exactly the admin API's routes, and Schemathesis finds no 5xx and no response off its schema."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests
from openapi_spec_validator import validate

from admin.support import AdminWorld
from idp.admin.api import bp, flask_rule


def test_the_document_is_valid_openapi_3_1(world: AdminWorld) -> None:
    r = requests.get(f"{world.server.url}/admin/openapi.json", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    document = r.json()
    validate(document)
    assert document["openapi"] == "3.1.0" and document["servers"] == [{"url": world.server.url}]


def test_every_admin_route_is_in_the_document_and_nothing_else(world: AdminWorld) -> None:
    documented = {(flask_rule(path), method.upper()) for path, item in world.document["paths"].items() for method in item}
    served = {
        (rule.rule, method)
        for rule in world.server.app.url_map.iter_rules()
        if rule.endpoint.startswith(f"{bp.name}.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert served == documented
    for path, item in world.document["paths"].items():
        for method, op in item.items():
            names = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert names == {seg[1:-1] for seg in path.split("/") if seg.startswith("{")}, (method, path)
            assert {"401", "403", "422"} <= set(op["responses"]) or op["security"] == []


def test_schemathesis_finds_no_server_error_and_no_response_off_schema(world: AdminWorld, tmp_path: Path) -> None:
    """Bounded run (a few examples per operation) with a platform admin's token, on a real tenant's paths."""
    acme = world.tenant()
    world.services.tenants.update_config("master", {"tokens": {"access_token_ttl": 3600}})
    token = world.service_token(world.master)
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f'[parameters]\n"path.tenant" = "{acme.slug}"\n"path.user_id" = "{acme.users["victim"].sub}"\n"path.client_id" = "console-rp"\n"path.flow" = "self-recovery"\n'
    )
    run = subprocess.run(
        [
            sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run", f"{world.server.url}/admin/openapi.json",
            "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            "--mode", "positive", "--phases", "examples,fuzzing", "--max-examples", "4", "--seed", "5", "--workers", "1",
            "--header", f"Authorization: Bearer {token}", "--request-timeout", "20",
        ],
        capture_output=True, text=True, timeout=900, cwd=tmp_path, check=False,
    )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
