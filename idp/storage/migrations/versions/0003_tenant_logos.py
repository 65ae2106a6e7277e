"""tenant logos uploaded through the console

Revision ID: 0003_tenant_logos
Revises: 0002_unique_identifiers
Create Date: 2026-12-05 12:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_tenant_logos'
down_revision = '0002_unique_identifiers'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tenant_logos',
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('content_type', sa.String(length=32), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tenant_id', 'digest')
    )


def downgrade() -> None:
    op.drop_table('tenant_logos')
