"""One namespace of canonical sign-in identifiers per tenant (issue 12, items 2 and 3).

Creates ``user_identifiers`` (unique per tenant on the canonical value) and files every existing user's
username and email in it:

- a username gets its RFC 8265 form (:func:`idp.identifiers.canonical_username`); a username the
  new rules refuse (mixed scripts, invisible or disallowed characters) is kept working as a
  ``legacy-username`` in its lenient form (NFKC, case folded), which only such rows can match;
- an email gets its comparison form (local part and domain lower-cased).

When two existing users of a tenant would hold the same identifier (a username equal to another user's
email, ``Bob`` beside ``bob``...), the migration stops before writing anything and names each collision
(tenant slug, identifier, user ids); rename or merge those accounts, then run ``idp init`` again.

Revision ID: 0002_unique_identifiers
Revises: 0001
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from idp.identifiers import EMAIL, LEGACY_USERNAME, USERNAME, IdentifierError, canonical_email, canonical_username, lenient_username

revision = "0002_unique_identifiers"
down_revision = "0001"
branch_labels = None
depends_on = None


class IdentifierCollision(RuntimeError):
    """Existing users already share an identifier: the migration cannot make it unique by itself."""


def _username_form(username: str) -> tuple[str, str]:
    try:
        return USERNAME, canonical_username(username)
    except IdentifierError:
        return LEGACY_USERNAME, lenient_username(username)


def _email_form(email: str) -> str:
    try:
        return canonical_email(email)
    except IdentifierError:
        return email.strip().lower()


def identifier_rows(users: list[tuple[int, int, str, str, str | None]]) -> list[dict[str, object]]:
    """The identifier rows of ``(user_id, tenant_id, tenant_slug, username, email)``; raises on any collision."""
    rows: list[dict[str, object]] = []
    holders: dict[tuple[int, str], set[int]] = defaultdict(set)
    slugs: dict[int, str] = {}
    for user_id, tenant_id, slug, username, email in users:
        slugs[tenant_id] = slug
        kind, value = _username_form(username)
        claims = [(kind, value)]
        if email:
            claims.append((EMAIL, _email_form(email)))
        if len(claims) == 2 and claims[0][1] == claims[1][1]:
            claims = claims[:1]  # a user whose username is their own email holds it once, as the username
        for kind, value in claims:
            holders[(tenant_id, value)].add(user_id)
            rows.append({"tenant_id": tenant_id, "user_id": user_id, "kind": kind, "value": value})
    collisions = sorted((slugs[t], v, sorted(ids)) for (t, v), ids in holders.items() if len(ids) > 1)
    if collisions:
        listed = "; ".join(f"tenant {slug!r}: {value!r} is held by users {ids}" for slug, value, ids in collisions)
        raise IdentifierCollision(
            f"cannot make sign-in identifiers unique, existing accounts collide ({listed}); "
            "rename or merge them, then run the migration again"
        )
    return rows


def upgrade() -> None:
    # every row is computed, and every collision found, before anything is created: a refusal writes nothing
    bind = op.get_bind()
    users = bind.execute(
        sa.text("SELECT u.id, u.tenant_id, t.slug, u.username, u.email FROM users u JOIN tenants t ON t.id = u.tenant_id ORDER BY u.id")
    ).all()
    rows = identifier_rows([tuple(r) for r in users])  # type: ignore[misc]
    table = op.create_table(
        "user_identifiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "value"),
    )
    with op.batch_alter_table("user_identifiers", schema=None) as batch_op:
        batch_op.create_index("ix_user_identifiers_user", ["user_id", "kind"], unique=False)
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    with op.batch_alter_table("user_identifiers", schema=None) as batch_op:
        batch_op.drop_index("ix_user_identifiers_user")
    op.drop_table("user_identifiers")
