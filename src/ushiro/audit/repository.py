"""Audit queries. Never commits."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ushiro.audit.models import AuditEvent, AuditHead

# Every write takes the head: the statement is built once (building it costs more than
# running it on SQLite).
_LOCK_HEAD = select(AuditHead).where(AuditHead.chain == bindparam("chain")).with_for_update()


def lock_head(session: Session, chain: int) -> AuditHead | None:
    return session.scalars(_LOCK_HEAD, {"chain": chain}).first()


def iter_events(session: Session, chain: int | None = None) -> Iterator[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.chain, AuditEvent.seq)
    if chain is not None:
        stmt = stmt.where(AuditEvent.chain == chain)
    yield from session.scalars(stmt.execution_options(yield_per=1000))


def heads(session: Session) -> dict[int, AuditHead]:
    return {h.chain: h for h in session.scalars(select(AuditHead))}


def recent(session: Session, chain: int, limit: int = 100,
           object_type: str | None = None, object_id: str | None = None) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.chain == chain)
    if object_type:
        stmt = stmt.where(AuditEvent.object_type == object_type)
    if object_id:
        stmt = stmt.where(AuditEvent.object_id == object_id)
    return list(session.scalars(stmt.order_by(AuditEvent.seq.desc()).limit(limit)))
