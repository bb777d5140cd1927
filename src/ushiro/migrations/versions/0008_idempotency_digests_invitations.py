"""idempotency keys: digests of the whole key and of the payload, unique per user;
invitations of existing accounts to another tenant

Keys were stored cut to 200 characters and unique per tenant. They are now SHA-256 hex
digests of the whole key, unique per (tenant, requester), beside a digest of the payload.
Stored keys are digested here so that a client retrying an old key (up to 200 characters,
as it was sent) still gets its request; their payload digest stays NULL (not known).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 16:30:00.000000
"""
import hashlib

from alembic import op
import sqlalchemy as sa
import ushiro.core.db


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_requests = sa.table('requests', sa.column('id', sa.Integer()),
                     sa.column('idempotency_key', sa.String()))


def _digest_stored_keys() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(_requests.c.id, _requests.c.idempotency_key)
                        .where(_requests.c.idempotency_key.is_not(None))).all()
    for row_id, key in rows:
        digest = hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()
        conn.execute(_requests.update().where(_requests.c.id == row_id)
                     .values(idempotency_key=digest))


def upgrade() -> None:
    op.create_table('invitations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('departments', sa.Text(), nullable=False),
    sa.Column('invited_by', sa.Integer(), nullable=True),
    sa.Column('created_at', ushiro.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invited_by'], ['users.id'], name=op.f('fk_invitations_invited_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenants.id'], name=op.f('fk_invitations_tenant_id_tenants'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_invitations_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invitations')),
    sa.UniqueConstraint('tenant_id', 'user_id', name=op.f('uq_invitations_tenant_id_user_id'))
    )
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitations_user_id'), ['user_id'], unique=False)
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.drop_constraint('uq_requests_tenant_id_idempotency_key', type_='unique')
    _digest_stored_keys()
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.alter_column('idempotency_key', existing_type=sa.String(length=200),
                              type_=sa.String(length=64), existing_nullable=True)
        batch_op.add_column(sa.Column('idempotency_payload', sa.String(length=64),
                                      nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f('uq_requests_tenant_id_requester_id_idempotency_key'),
            ['tenant_id', 'requester_id', 'idempotency_key'])


def downgrade() -> None:
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitations_user_id'))
    op.drop_table('invitations')
    # The original keys cannot be recovered from their digests: the digests stay as keys.
    with op.batch_alter_table('requests', schema=None) as batch_op:
        batch_op.drop_constraint('uq_requests_tenant_id_requester_id_idempotency_key',
                                 type_='unique')
        batch_op.drop_column('idempotency_payload')
        batch_op.alter_column('idempotency_key', existing_type=sa.String(length=64),
                              type_=sa.String(length=200), existing_nullable=True)
        batch_op.create_unique_constraint('uq_requests_tenant_id_idempotency_key',
                                          ['tenant_id', 'idempotency_key'])
