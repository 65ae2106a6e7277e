"""Recovery codes: the single-use codes of a user's recovery-code set (a factor of type ``recovery_code``).

Revision ID: 0005_recovery_codes
Revises: 0004_logout_and_address
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_recovery_codes"
down_revision = "0004_logout_and_address"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("factor_id", sa.String(length=36), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["factor_id"], ["factors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_recovery_codes_lookup", "recovery_codes", ["tenant_id", "user_id", "digest"], unique=False)
    op.create_index("ix_recovery_codes_factor_id", "recovery_codes", ["factor_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_recovery_codes_factor_id", table_name="recovery_codes")
    op.drop_index("ix_recovery_codes_lookup", table_name="recovery_codes")
    op.drop_table("recovery_codes")
