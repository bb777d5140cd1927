"""knowledge: the kind of a document (company rule, reference material, FAQ)

Every document stored before is one of the company's own rules (the default kind), which
is what search assumed of all of them until now.

Revision ID: 0009_document_kind
Revises: 0008
Create Date: 2026-12-04 20:30:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_document_kind'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('kb_documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='company',
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('kb_documents', schema=None) as batch_op:
        batch_op.drop_column('kind')
