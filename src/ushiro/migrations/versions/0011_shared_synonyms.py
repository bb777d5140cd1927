"""shared synonyms: a tenant stores only its changes to the shipped list

Revision ID: 0011_shared_synonyms
Revises: 0010_signatures
Create Date: 2026-12-06 21:00:00.000000

Until now every tenant held a full copy of data/synonyms.tsv in ``kb_synonyms``. From here
the shipped list is read from the package and ``kb_synonyms`` holds a tenant's changes to
it: ``op`` ``add`` (a pair the list lacks) or ``remove`` (a shipped pair taken out). Each
tenant's copy is folded into those changes, so its effective set (shipped ∪ added −
removed) is exactly the set it had; an untouched copy leaves no rows.
``kb_state.synonyms_digest`` names the set its passages were analysed with (the same set:
the digest is stored so that the first use does not re-analyse them).
"""
from collections.abc import Iterable

import sqlalchemy as sa
from alembic import op

from ushiro.knowledge.retrieval.synonyms import default_pairs, digest_of

revision = '0011_shared_synonyms'
down_revision = '0010_signatures'
branch_labels = None
depends_on = None

Pair = tuple[str, str]

_synonyms = sa.table('kb_synonyms', sa.column('id', sa.Integer), sa.column('tenant_id', sa.Integer),
                     sa.column('canonical', sa.String), sa.column('variant', sa.String),
                     sa.column('op', sa.String))
_state = sa.table('kb_state', sa.column('tenant_id', sa.Integer),
                  sa.column('synonyms_seeded', sa.Boolean),
                  sa.column('synonyms_digest', sa.String))


def upgrade() -> None:
    op.add_column('kb_synonyms', sa.Column('op', sa.String(length=6), server_default='add',
                                           nullable=False))
    op.add_column('kb_state', sa.Column('synonyms_digest', sa.String(length=64), nullable=True))
    conn = op.get_bind()
    shipped = list(dict.fromkeys(default_pairs()))
    known = set(shipped)
    untouched = digest_of(known)
    # Read one tenant at a time (at thousands of tenants the copies are millions of rows),
    # keep only the changes, then empty the table at once and store them: deleting the
    # copies tenant by tenant costs an index lookup per row.
    changes: list[tuple[int, list[Pair], list[Pair]]] = []
    for tenant_id in _tenants(conn):
        pairs = _pairs(conn, tenant_id)
        have = set(pairs)
        conn.execute(_state.update().where(_state.c.tenant_id == tenant_id)
                     .values(synonyms_digest=untouched if have == known else digest_of(have)))
        if have == known:
            continue
        changes.append((tenant_id, [p for p in dict.fromkeys(pairs) if p not in known],
                        [p for p in shipped if p not in have]))
    if conn.dialect.name == 'postgresql':
        op.execute('TRUNCATE kb_synonyms')
    else:
        op.execute('DELETE FROM kb_synonyms')  # SQLite empties a table without WHERE at once
    for tenant_id, added, removed in changes:
        _insert(conn, tenant_id, added, 'add')
        _insert(conn, tenant_id, removed, 'remove')


def downgrade() -> None:
    conn = op.get_bind()
    shipped = list(dict.fromkeys(default_pairs()))
    known = set(shipped)
    changes: dict[int, dict[Pair, str]] = {}
    for tenant_id, canonical, variant, change in conn.execute(
            sa.select(_synonyms.c.tenant_id, _synonyms.c.canonical, _synonyms.c.variant,
                      _synonyms.c.op).order_by(_synonyms.c.id)):
        changes.setdefault(tenant_id, {})[(canonical, variant)] = change
    for tenant_id in _seeded(conn):
        own = changes.get(tenant_id, {})
        # The copy as it would have been: the shipped pairs first, then the tenant's own.
        copy = [p for p in shipped if own.get(p) != 'remove'] + [
            p for p, change in own.items() if change == 'add' and p not in known]
        conn.execute(_synonyms.delete().where(_synonyms.c.tenant_id == tenant_id))
        _insert(conn, tenant_id, copy, 'add')
    op.drop_column('kb_state', 'synonyms_digest')
    with op.batch_alter_table('kb_synonyms') as batch_op:
        batch_op.drop_column('op')


def _seeded(conn: sa.Connection) -> list[int]:
    return [row[0] for row in conn.execute(
        sa.select(_state.c.tenant_id).where(_state.c.synonyms_seeded.is_(True)))]


def _tenants(conn: sa.Connection) -> list[int]:
    """Tenants set up (a copy, possibly emptied) or holding rows."""
    stored = [row[0] for row in conn.execute(sa.select(_synonyms.c.tenant_id).distinct())]
    return sorted(set(_seeded(conn)) | set(stored))


def _pairs(conn: sa.Connection, tenant_id: int) -> list[Pair]:
    return [(c, v) for c, v in conn.execute(
        sa.select(_synonyms.c.canonical, _synonyms.c.variant)
        .where(_synonyms.c.tenant_id == tenant_id).order_by(_synonyms.c.id)).all()]


def _insert(conn: sa.Connection, tenant_id: int, pairs: Iterable[Pair], change: str) -> None:
    rows = [{'tenant_id': tenant_id, 'canonical': c, 'variant': v, 'op': change}
            for c, v in pairs]
    if rows:
        conn.execute(_synonyms.insert(), rows)
