"""A passkey as the database keeps it, for tests of the listings (admin API, console, CLI): the ceremonies
themselves run in a real browser (tests/passkeys)."""

from __future__ import annotations

import secrets
from typing import Any

from idp.accounts.factor_results import random_uuid
from idp.storage.models import Factor, PasskeyCredential

AAGUID = "01020304-0506-0708-090a-0b0c0d0e0f10"


def stored_passkey(services: Any, tenant: Any, user: Any, label: str = "Laptop") -> Factor:
    """A passkey factor of ``user`` with its credential (a made-up public key: it will never sign anything)."""
    factor = Factor(id=random_uuid(), tenant_id=tenant.id, user_id=user.id, type="passkey", label=label, created_by="test")
    with services.db.session() as s:
        s.add(factor)
        s.flush()
        s.add(
            PasskeyCredential(
                tenant_id=tenant.id, user_id=user.id, factor_id=factor.id, credential_id=secrets.token_urlsafe(16),
                public_key=b"\xa5" * 77, user_handle=secrets.token_urlsafe(32), sign_count=7, backup_eligible=False,
                backed_up=False, transports=["internal"], aaguid=AAGUID,
            )
        )  # fmt: skip
    return factor
