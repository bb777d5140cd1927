"""Audit queries. Never commits."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session

from ushiro.audit.models import AuditEvent, AuditHead

# Every write of every domain appends here, so these statements are built once (building
# one costs SQLAlchemy more than SQLite takes to run it) and run as plain Core statements:
# no ORM objects to flush (bench/intake.py).
_EVENTS: Table = AuditEvent.__table__  # type: ignore[assignment]
_HEADS: Table = AuditHead.__table__  # type: ignore[assignment]
_LOCK_HEAD = (select(_HEADS.c.seq, _HEADS.c.hash).where(_HEADS.c.chain == bindparam("chain"))
              .with_for_update())
_ADD_HEAD = insert(_HEADS)
_ADD_EVENT = insert(_EVENTS)
_MOVE_HEAD = (update(_HEADS).where(_HEADS.c.chain == bindparam("head_chain"))
              .values(seq=bindparam("head_seq"), hash=bindparam("head_hash")))


def lock_head(session: Session, chain: int) -> tuple[int, str] | None:
    """The chain's last (seq, hash), row-locked until the transaction ends (PostgreSQL;
    SQLite has one writer anyway)."""
    row = session.execute(_LOCK_HEAD, {"chain": chain}).first()
    return None if row is None else (row[0], row[1])


def add_head(session: Session, chain: int, genesis: str) -> None:
    session.execute(_ADD_HEAD, {"chain": chain, "seq": 0, "hash": genesis})


def append(session: Session, event: dict[str, Any]) -> None:
    """Insert ``event`` (the columns of :class:`AuditEvent` but ``id``) and move the head."""
    session.execute(_ADD_EVENT, event)
    session.execute(_MOVE_HEAD, {"head_chain": event["chain"], "head_seq": event["seq"],
                                 "head_hash": event["hash"]})


def iter_events(session: Session, chain: int | None = None) -> Iterator[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.chain, AuditEvent.seq)
    if chain is not None:
        stmt = stmt.where(AuditEvent.chain == chain)
    yield from session.scalars(stmt.execution_options(yield_per=1000))


def heads(session: Session, chain: int | None = None) -> dict[int, AuditHead]:
    stmt = select(AuditHead)
    if chain is not None:
        stmt = stmt.where(AuditHead.chain == chain)
    return {h.chain: h for h in session.scalars(stmt)}


def recent(session: Session, chain: int, limit: int = 100,
           object_type: str | None = None, object_id: str | None = None) -> list[AuditEvent]:
    stmt = select(AuditEvent).where(AuditEvent.chain == chain)
    if object_type:
        stmt = stmt.where(AuditEvent.object_type == object_type)
    if object_id:
        stmt = stmt.where(AuditEvent.object_id == object_id)
    return list(session.scalars(stmt.order_by(AuditEvent.seq.desc()).limit(limit)))
