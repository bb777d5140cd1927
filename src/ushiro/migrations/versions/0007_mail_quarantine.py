"""mail quarantine, mail receipts, room for encrypted mail passwords

The passwords themselves are encrypted by the application on first use (the instance key
is not available to a migration): see desk/mail/account.py::credentials.

Revision ID: 0007
Revises: 0005
Create Date: 2026-12-03 16:20:59.394755
"""
from alembic import op
import sqlalchemy as sa
import ushiro.core.db


revision = '0007'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mail_quarantine',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sender', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('code', sa.String(length=50), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('created_at', ushiro.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_mail_quarantine_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_quarantine'))
    )
    with op.batch_alter_table('mail_quarantine', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_quarantine_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('mail_receipts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('from_address', sa.String(length=254), nullable=False),
    sa.Column('authentication', sa.Text(), nullable=True),
    sa.Column('authentication_failed', sa.Boolean(), nullable=False),
    sa.Column('warnings', sa.Text(), nullable=False),
    sa.Column('created_at', ushiro.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_mail_receipts_message_id_messages'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['request_id'], ['requests.id'], name=op.f('fk_mail_receipts_request_id_requests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_mail_receipts_tenant_id_tenants'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_receipts'))
    )
    with op.batch_alter_table('mail_receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_receipts_request_id'), ['request_id'], unique=False)

    with op.batch_alter_table('mail_accounts', schema=None) as batch_op:
        batch_op.alter_column('imap_password',
               existing_type=sa.VARCHAR(length=500),
               type_=sa.String(length=1000),
               existing_nullable=False)
        batch_op.alter_column('smtp_password',
               existing_type=sa.VARCHAR(length=500),
               type_=sa.String(length=1000),
               existing_nullable=False)



def downgrade() -> None:
    with op.batch_alter_table('mail_accounts', schema=None) as batch_op:
        batch_op.alter_column('smtp_password',
               existing_type=sa.String(length=1000),
               type_=sa.VARCHAR(length=500),
               existing_nullable=False)
        batch_op.alter_column('imap_password',
               existing_type=sa.String(length=1000),
               type_=sa.VARCHAR(length=500),
               existing_nullable=False)

    with op.batch_alter_table('mail_receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_receipts_request_id'))

    op.drop_table('mail_receipts')
    with op.batch_alter_table('mail_quarantine', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_quarantine_tenant_id'))

    op.drop_table('mail_quarantine')
