"""Per-client PAR and DPoP requirements (RFC 9126 §6, RFC 9449 §5.2).

- ``clients.require_pushed_authorization_requests``: only pushed authorization requests are accepted;
- ``clients.dpop_bound_access_tokens``: every token request must carry a DPoP proof.

Existing clients get neither (false).

Revision ID: 0009_par_dpop
Revises: 0007_consents
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_par_dpop"
down_revision = "0007_consents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("require_pushed_authorization_requests", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("dpop_bound_access_tokens", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("dpop_bound_access_tokens")
        batch.drop_column("require_pushed_authorization_requests")
