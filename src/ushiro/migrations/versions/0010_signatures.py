"""reply signatures: the tenant's, and each member's own

Revision ID: 0010_signatures
Revises: 0009_document_kind
Create Date: 2026-12-04 20:30:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0010_signatures'
down_revision = '0009_document_kind'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tenants') as batch_op:
        batch_op.add_column(sa.Column('reply_signature', sa.Text(), nullable=True))
    with op.batch_alter_table('memberships') as batch_op:
        batch_op.add_column(sa.Column('reply_signature', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('memberships') as batch_op:
        batch_op.drop_column('reply_signature')
    with op.batch_alter_table('tenants') as batch_op:
        batch_op.drop_column('reply_signature')
