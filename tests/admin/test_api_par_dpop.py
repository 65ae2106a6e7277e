"""The admin API and the console's client page set a client's PAR (RFC 9126 §6) and DPoP (RFC 9449 §5.2)
requirements; responses match the OpenAPI schema; a non-boolean value is a 422 naming the field."""

from __future__ import annotations

from admin.console_support import console_session
from admin.support import AdminWorld


def test_api_sets_par_and_dpop_requirements(world: AdminWorld) -> None:
    acme = world.tenant()
    token = world.service_token(acme)
    base = f"/admin/realms/{acme.slug}/clients"
    r = world.call("POST", base, token, json={"client_id": "shop", "redirect_uris": ["https://shop.example.com/cb"], "dpop_bound_access_tokens": True})
    assert r.status_code == 201, r.text
    assert r.json()["client"]["dpop_bound_access_tokens"] is True and r.json()["client"]["require_pushed_authorization_requests"] is False
    r = world.call("PATCH", f"{base}/shop", token, json={"require_pushed_authorization_requests": True, "dpop_bound_access_tokens": False})
    assert r.status_code == 200 and r.json()["require_pushed_authorization_requests"] is True and r.json()["dpop_bound_access_tokens"] is False
    client = world.services.clients.get(acme.tenant, "shop")
    assert client.require_pushed_authorization_requests and not client.dpop_bound_access_tokens
    bad = world.call("PATCH", f"{base}/shop", token, json={"dpop_bound_access_tokens": "yes"}, check=False)
    assert bad.status_code == 422 and "dpop_bound_access_tokens" in bad.text
    assert world.services.clients.get(acme.tenant, "shop").require_pushed_authorization_requests is True


def test_console_client_page_sets_par_and_dpop_requirements(world: AdminWorld) -> None:
    realm = world.tenant()
    world.services.clients.create(realm.tenant, "shop", ["https://shop.example.com/cb"])
    console = console_session(world, realm)
    page = console.get("clients/shop")
    assert 'name="require_pushed_authorization_requests"' in page.text and 'name="dpop_bound_access_tokens"' in page.text
    form = {"name": "", "redirect_uris": "https://shop.example.com/cb", "post_logout_redirect_uris": "", "scope": "openid profile email address phone offline_access"}
    saved = console.post("clients/shop/edit", {**form, "require_pushed_authorization_requests": "on", "dpop_bound_access_tokens": "on"})
    assert saved.status_code == 303, saved.text
    client = world.services.clients.get(realm.tenant, "shop")
    assert client.require_pushed_authorization_requests and client.dpop_bound_access_tokens
    assert console.post("clients/shop/edit", form).status_code == 303  # unticked boxes clear them
    client = world.services.clients.get(realm.tenant, "shop")
    assert not client.require_pushed_authorization_requests and not client.dpop_bound_access_tokens


def test_console_tokens_settings_set_the_dpop_nonce_and_par_lifetime(world: AdminWorld) -> None:
    """The tenant-wide DPoP nonce requirement (RFC 9449 §8) and the request_uri lifetime (RFC 9126 §2.2)."""
    realm = world.tenant()
    console = console_session(world, realm)
    tokens = world.services.tenants.require(realm.slug).config.tokens
    form = {
        "tokens.signing_alg": tokens.signing_alg,
        "tokens.code_ttl": str(tokens.code_ttl),
        "tokens.access_token_ttl": str(tokens.access_token_ttl),
        "tokens.id_token_ttl": str(tokens.id_token_ttl),
        "tokens.refresh_token_ttl": str(tokens.refresh_token_ttl),
        "tokens.sso_idle_ttl": str(tokens.sso_idle_ttl),
        "tokens.sso_max_ttl": str(tokens.sso_max_ttl),
    }
    saved = console.post("settings/tokens", {**form, "tokens.par_ttl": "90", "tokens.dpop_nonce_required": "on"})
    assert saved.status_code == 303, saved.text
    tokens = world.services.tenants.require(realm.slug).config.tokens
    assert tokens.par_ttl == 90 and tokens.dpop_nonce_required is True
    refused = console.post("settings/tokens", {**form, "tokens.par_ttl": "601"})
    assert refused.status_code == 422
    assert world.services.tenants.require(realm.slug).config.tokens.par_ttl == 90


def test_api_and_console_set_a_clients_response_modes(world: AdminWorld) -> None:
    """R-64: ``response_modes`` through the API (a mode we do not serve is a 422 naming the field, nothing written) and
    the console's client page."""
    acme = world.tenant()
    token = world.service_token(acme)
    base = f"/admin/realms/{acme.slug}/clients"
    r = world.call("POST", base, token, json={"client_id": "shop", "redirect_uris": ["https://shop.example.com/cb"], "response_modes": ["query"]})
    assert r.status_code == 201 and r.json()["client"]["response_modes"] == ["query"]
    bad = world.call("PATCH", f"{base}/shop", token, json={"response_modes": ["fragment"]}, check=False)
    assert bad.status_code == 422 and "response_modes" in bad.text
    empty = world.call("PATCH", f"{base}/shop", token, json={"response_modes": []}, check=False)
    assert empty.status_code == 422 and "response_modes" in empty.text
    assert world.services.clients.get(acme.tenant, "shop").response_modes == ("query",)

    console = console_session(world, acme)
    page = console.get("clients/shop")
    assert 'name="response_modes"' in page.text and 'value="query"' in page.text
    form = {"name": "", "redirect_uris": "https://shop.example.com/cb", "post_logout_redirect_uris": "", "scope": "openid profile email address phone offline_access"}
    assert console.post("clients/shop/edit", {**form, "response_modes": "query form_post"}).status_code == 303
    assert world.services.clients.get(acme.tenant, "shop").response_modes == ("query", "form_post")
    refused = console.post("clients/shop/edit", {**form, "response_modes": "fragment"})
    assert refused.status_code == 400 and "fragment" in refused.text
    assert world.services.clients.get(acme.tenant, "shop").response_modes == ("query", "form_post")
