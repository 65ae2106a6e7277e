"""Consents in the admin API (issue 15 item 3): ``GET /users/{id}/consents`` and ``DELETE /users/{id}/consents/{client_id}``.

R-76 (users' consents reviewed and revoked), R-44 (a tenant admin sees and revokes only their own tenant's), R-46
(the revocation is audited with the admin as actor); the revocation also revokes the client's refresh tokens.
"""

from __future__ import annotations

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from support.forms import find_form

from admin.support import REDIRECT_URI, AdminWorld, Realm


def consent_through_the_page(world: AdminWorld, realm: Realm, client_id: str, secret: str, scope: str) -> tuple[OAuth2Session, dict]:
    """The plain user allows ``client_id`` on its consent page (a signed-in browser, Authlib's RP); returns the RP and its token."""
    s = world.services
    browser = requests.Session()
    sso = s.sessions.establish(realm.tenant, realm.users["plain"].id, ["pwd"], "urn:idp:acr:pwd")
    browser.cookies.set("idp_sso", sso.token, path=f"/realms/{realm.slug}/")
    rp = OAuth2Session(client_id, secret, scope=scope, redirect_uri=REDIRECT_URI, code_challenge_method="S256")
    verifier = generate_token(48)
    base = f"{world.server.realm(realm.slug)}/protocol/openid-connect"
    url, _ = rp.create_authorization_url(f"{base}/auth", code_verifier=verifier)
    page = browser.get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 200 and "consent-scopes" in page.text
    form = find_form(page.text, 0)
    assert form is not None
    allowed = browser.post(requests.compat.urljoin(page.url, form.action), data={**form.fields, "decision": "allow"}, allow_redirects=False, timeout=10)
    assert allowed.status_code == 302, allowed.text[:300]
    token = rp.fetch_token(f"{base}/token", authorization_response=allowed.headers["Location"], code_verifier=verifier)
    return rp, dict(token)


def test_list_and_revoke_a_users_consents(world: AdminWorld) -> None:
    acme = world.tenant()
    s = world.services
    _, secret = s.clients.create(acme.tenant, "partner", [REDIRECT_URI], name="Partner", consent_required=True)
    rp, token = consent_through_the_page(world, acme, "partner", secret, "openid email offline_access")
    admin = world.service_token(acme)
    base = f"/admin/realms/{acme.slug}/users/{acme.users['plain'].sub}/consents"

    listed = world.call("GET", base, admin)
    assert listed.status_code == 200
    [consent] = listed.json()["consents"]
    assert (consent["client_id"], consent["client_name"], consent["scopes"]) == ("partner", "Partner", ["openid", "email", "offline_access"])
    assert consent["granted_at"]

    assert world.call("DELETE", f"{base}/partner", admin).status_code == 204
    assert world.call("GET", base, admin).json()["consents"] == []
    gone = world.call("DELETE", f"{base}/partner", admin)
    assert gone.status_code == 404 and gone.json()["field"] == "client_id"
    with pytest.raises(OAuthError) as refused:
        rp.refresh_token(world.token_endpoint(acme.slug), refresh_token=token["refresh_token"])
    assert refused.value.error == "invalid_grant"
    [event] = s.audit.query(acme.tenant.id, type="consent.revoked")
    assert event.actor == f"admin:{acme.slug}/service" and event.details["client_id"] == "partner" and event.details["tokens_revoked"] == 1


def test_another_tenants_admin_can_neither_see_nor_revoke(world: AdminWorld) -> None:
    """R-44: the consent of a user of tenant A is out of reach of tenant B's admin, by either tenant's URL."""
    acme, other = world.tenant(), world.tenant()
    _, secret = world.services.clients.create(acme.tenant, "partner", [REDIRECT_URI], consent_required=True)
    consent_through_the_page(world, acme, "partner", secret, "openid")
    intruder = world.service_token(other)
    sub = acme.users["plain"].sub
    assert world.call("GET", f"/admin/realms/{acme.slug}/users/{sub}/consents", intruder).status_code == 403
    assert world.call("DELETE", f"/admin/realms/{acme.slug}/users/{sub}/consents/partner", intruder).status_code == 403
    assert world.call("GET", f"/admin/realms/{other.slug}/users/{sub}/consents", intruder).status_code == 404  # not a user of B
    assert world.call("DELETE", f"/admin/realms/{other.slug}/users/{sub}/consents/partner", intruder).status_code == 404
    assert len(world.services.consents.list_for_user(acme.tenant, acme.users["plain"].id)) == 1


def test_the_client_flag_through_the_api(world: AdminWorld) -> None:
    """consent_required is false unless asked for, and can be set and cleared."""
    acme = world.tenant()
    admin = world.service_token(acme)
    made = world.call("POST", f"/admin/realms/{acme.slug}/clients", admin, json={"client_id": "third", "redirect_uris": [REDIRECT_URI]})
    assert made.status_code == 201 and made.json()["client"]["consent_required"] is False
    changed = world.call("PATCH", f"/admin/realms/{acme.slug}/clients/third", admin, json={"consent_required": True})
    assert changed.status_code == 200 and changed.json()["consent_required"] is True
    assert world.services.clients.get(acme.tenant, "third").consent_required is True
    bad = world.call("PATCH", f"/admin/realms/{acme.slug}/clients/third", admin, json={"consent_required": "yes"})
    assert bad.status_code == 422 and bad.json()["field"] == "consent_required"
