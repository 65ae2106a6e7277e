"""What the IdP's own built-in clients (the admin console, the account console) share as relying parties of a
tenant: redeeming their authorization code at the tenant's token endpoint over HTTP, like any relying party."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from flask import current_app


def redeem_code(tenant: Any, client_id: str, redirect_uri: str, code: str, verifier: str) -> dict[str, Any]:
    """The token response of ``tenant``'s token endpoint for a public client's code (PKCE), or ``{}`` when the
    endpoint could not be reached or answered no JSON (logged; the caller shows its "sign in again" page)."""
    data = urllib.parse.urlencode(
        {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "client_id": client_id, "code_verifier": verifier}
    ).encode()
    req = urllib.request.Request(f"{tenant.issuer}/protocol/openid-connect/token", data=data, method="POST")
    req.add_header("Content-Type", "application/x-www-form-urlencoded")
    req.add_header("Accept", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return dict(json.loads(response.read()))
    except (urllib.error.URLError, ValueError) as exc:
        current_app.logger.warning("%s: code redemption at %s failed: %s", client_id, tenant.slug, exc)
        return {}
