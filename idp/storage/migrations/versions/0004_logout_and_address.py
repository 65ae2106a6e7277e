"""Front- and back-channel logout registrations of clients, their delivery queue, and the users' address.

- ``clients``: ``frontchannel_logout_uri`` / ``frontchannel_logout_session_required`` (OpenID Connect
  Front-Channel Logout 1.0 §2) and ``backchannel_logout_uri`` / ``backchannel_logout_session_required``
  (Back-Channel Logout 1.0 §2.2); existing clients get none.
- ``backchannel_logout_deliveries``: logout tokens still to be POSTed (:mod:`idp.oidc.backchannel_queue`).
- ``users.address``: the OIDC Core §5.1.1 address claim (JSON), empty for existing users.

Revision ID: 0004_logout_and_address
Revises: 0003_tenant_logos
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_logout_and_address"
down_revision = "0003_tenant_logos"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("frontchannel_logout_uri", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("frontchannel_logout_session_required", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("backchannel_logout_uri", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("backchannel_logout_session_required", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("address", sa.JSON(), nullable=True))
    op.create_table(
        "backchannel_logout_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("sub", sa.String(length=36), nullable=False),
        sa.Column("sid", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=400), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_backchannel_due", "backchannel_logout_deliveries", ["next_attempt_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_backchannel_due", table_name="backchannel_logout_deliveries")
    op.drop_table("backchannel_logout_deliveries")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("address")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("backchannel_logout_session_required")
        batch.drop_column("backchannel_logout_uri")
        batch.drop_column("frontchannel_logout_session_required")
        batch.drop_column("frontchannel_logout_uri")
