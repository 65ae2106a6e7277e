"""Per-client response modes (R-64: each client gets only the response modes it needs).

- ``clients.response_modes``: the ``response_mode`` values the client may ask for at the authorization
  endpoint, a JSON list of ``query`` and ``form_post``.

Existing clients keep what they could do until now: both.

Revision ID: 0010_response_modes
Revises: 0009_par_dpop
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_response_modes"
down_revision = "0009_par_dpop"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("response_modes", sa.JSON(), nullable=False, server_default=sa.text("'[\"query\", \"form_post\"]'")))


def downgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("response_modes")
