"""Consent for third-party clients (issue 15 item 3).

- ``clients.consent_required``: the client is a third party; users approve its scopes on a consent page
  (existing clients are first-party: false).
- ``consents``: the scopes each user granted each such client (:mod:`idp.oidc.consent`).

Revision ID: 0007_consents
Revises: 0006_passkeys
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_consents"
down_revision = "0006_passkeys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("consent_required", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "user_id", "client_id"),
    )
    op.create_index("ix_consents_user_id", "consents", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_consents_user_id", table_name="consents")
    op.drop_table("consents")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("consent_required")
