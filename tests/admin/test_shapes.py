"""One model per shape (issue 13, item 6): the admin API's bodies and responses are the pydantic models of
idp.admin.shapes; the OpenAPI document's schemas are theirs, generated, and a hand-written one fails here."""

from __future__ import annotations

import pytest

from admin.support import AdminWorld
from idp.admin import openapi, shapes

#: The only components no model generates: the tenant configuration's, generated from TenantConfig (its own single source).
FROM_TENANT_CONFIG = {"TenantConfig", "TenantConfigPatch"}


def test_the_user_component_is_the_models_generated_schema(world: AdminWorld) -> None:
    generated = shapes.User.model_json_schema(ref_template="#/components/schemas/{model}", schema_generator=shapes.Schema)
    assert world.document["components"]["schemas"]["User"] == {k: v for k, v in generated.items() if k != "$defs"}
    assert generated["$defs"]["Address"] == world.document["components"]["schemas"]["Address"]


def test_every_component_is_generated(world: AdminWorld) -> None:
    """A component is a model's schema or the configuration's; a hand-written schema (or one edited by hand) fails."""
    components = world.document["components"]["schemas"]
    assert set(components) == set(shapes.MODELS) | FROM_TENANT_CONFIG
    for name, model in shapes.MODELS.items():
        assert components[name] == shapes.json_schema(model), name
    assert components["TenantConfig"] == openapi._config_schema(openapi.TenantConfig, partial=False)


def test_every_operation_takes_and_gives_a_model() -> None:
    for op in openapi.OPERATIONS:
        for name in (op.body, op.response):
            assert not name or name in shapes.MODELS or (name in FROM_TENANT_CONFIG and op.id in ("patch_config", "get_config")), (op.id, name)


def test_only_a_new_client_secret_is_ever_a_member() -> None:
    members = {(name, field) for name, model in shapes.MODELS.items() for field in model.model_fields}
    secretive = {(n, f) for n, f in members if any(w in f.lower() for w in ("secret", "hash", "password", "otp", "seed"))}
    assert secretive == {("ClientCreated", "client_secret"), ("Secret", "client_secret"), ("UserCreate", "password"), ("Password", "password")}


@pytest.mark.parametrize(
    "path,body,field,words",
    [
        ("clients", {"client_id": "x", "redirect_uris": ["https://a.example.com/cb", 7]}, "redirect_uris.1", "redirect_uris.1: input should be a valid string"),
        ("clients", {"redirect_uris": []}, "client_id", "client_id: is required"),
        ("clients", {"client_id": "x", "public": "yes"}, "public", "public: input should be a valid boolean"),
        ("clients", {"client_id": "x", "secret": "mine"}, "secret", "secret: is not a known member"),
        ("users", {"username": "u", "locale": "de"}, "locale", "locale: input should be 'en' or 'fr'"),
        ("users", {"username": "u", "email": None}, "email", "email: input should be a valid string"),
        ("users", {"username": "u", "roles": ["root"]}, "roles.0", "roles.0: input should be 'tenant-admin' or 'platform-admin'"),
    ],
)
def test_a_bad_body_is_a_422_naming_the_member(world: AdminWorld, path: str, body: dict[str, object], field: str, words: str) -> None:
    acme = world.tenant()
    token = world.service_token(acme)
    r = world.call("POST", f"/admin/realms/{acme.slug}/{path}", token, json=body)
    assert r.status_code == 422 and r.json() == {"error": words, "field": field}, r.text
