"""The SQL of the job queue: claims, finishing, release, pruning, the backlog.

PostgreSQL claims with ``FOR UPDATE SKIP LOCKED``: concurrent workers each take rows no
other claim holds, so no claim comes back empty while work waits. SQLite has one writer
at a time (core/db.py), so a select followed by a guarded update cannot collide there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, select, text, true, update
from sqlalchemy.orm import Session

from ushiro.jobs.choices import CLAIMABLE, JobStatus
from ushiro.jobs.models import Job

NOTIFY_CHANNEL = "ushiro_jobs"


@dataclass(frozen=True)
class Shard:
    """A worker's share of the tenants: those whose id % count == index (jobs without a
    tenant belong to shard 0)."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"I/N"`` (0 <= I < N) → the shard; ValueError otherwise."""
        index, slash, count = text.partition("/")
        if not slash or not index.strip().isdigit() or not count.strip().isdigit():
            raise ValueError(text)
        shard = cls(int(index), int(count))
        if shard.count < 1 or shard.index >= shard.count:
            raise ValueError(text)
        return shard

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owns(self, tenant_id: int | None) -> bool:
        return (tenant_id or 0) % self.count == self.index

    def condition(self) -> ColumnElement[bool]:
        if self.count == 1:
            return true()
        return func.coalesce(Job.tenant_id, 0) % self.count == self.index


ALL = Shard()


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int  # after this claim: the attempt being made


def _due(due: datetime, shard: Shard) -> ColumnElement[bool]:
    return and_(Job.status.in_(CLAIMABLE), Job.run_after <= due, shard.condition())


_COLUMNS = (Job.id, Job.kind, Job.payload, Job.attempts)


def relaxed_commit(session: Session) -> None:
    """PostgreSQL: this transaction's commit does not wait for the WAL flush. For the
    queue's own bookkeeping only (a claim, a job marked done): a database crash can lose
    the last few such commits, and then a job runs again — which handlers allow (they are
    idempotent) — while a worker no longer waits for a disk flush per job. The jobs'
    effects are committed by the handlers' own transactions, durably."""
    session.execute(text("SET LOCAL synchronous_commit TO OFF"))


def claim_skip_locked(session: Session, limit: int, due: datetime, lease_end: datetime,
                      shard: Shard) -> list[Claimed]:
    """PostgreSQL: lock up to ``limit`` due rows that no other transaction holds and lease
    them, in one statement."""
    chosen = (select(Job.id).where(_due(due, shard)).order_by(Job.id).limit(limit)
              .with_for_update(skip_locked=True).scalar_subquery())
    stmt = (update(Job).where(Job.id.in_(chosen))
            .values(status=JobStatus.RUNNING.value, attempts=Job.attempts + 1,
                    run_after=lease_end)
            .returning(*_COLUMNS))
    rows = session.execute(stmt).all()
    return sorted((Claimed(r.id, r.kind, dict(r.payload), r.attempts) for r in rows),
                  key=lambda c: c.id)


def claim_guarded(session: Session, limit: int, due: datetime, lease_end: datetime,
                  shard: Shard) -> list[Claimed]:
    """SQLite (one writer at a time): select the due rows, then lease each with an update
    that repeats the condition, so a row changed meanwhile is not taken."""
    ids = list(session.scalars(select(Job.id).where(_due(due, shard))
                               .order_by(Job.id).limit(limit)))
    claimed: list[int] = []
    for job_id in ids:
        result = session.execute(
            update(Job).where(Job.id == job_id, _due(due, shard))
            .values(status=JobStatus.RUNNING.value, attempts=Job.attempts + 1,
                    run_after=lease_end))
        if getattr(result, "rowcount", 0) == 1:
            claimed.append(job_id)
    if not claimed:
        return []
    rows = session.execute(select(*_COLUMNS).where(Job.id.in_(claimed)).order_by(Job.id))
    return [Claimed(r.id, r.kind, dict(r.payload), r.attempts) for r in rows]


def _ours(job: Claimed) -> ColumnElement[bool]:
    # Still this claim's: running, and not taken over by another worker after the lease
    # ran out (that claim raised attempts).
    return and_(Job.id == job.id, Job.status == JobStatus.RUNNING.value,
                Job.attempts == job.attempts)


def finish(session: Session, job: Claimed, **values: Any) -> None:
    session.execute(update(Job).where(_ours(job)).values(**values))


def release(session: Session, claimed: list[Claimed], at: datetime) -> int:
    """Claimed jobs that never started go back to pending, due at once, their attempt
    not counted."""
    released = 0
    for job in claimed:
        result = session.execute(update(Job).where(_ours(job)).values(
            status=JobStatus.PENDING.value, attempts=Job.attempts - 1, run_after=at))
        released += getattr(result, "rowcount", 0)
    return released


def prune(session: Session, status: str, before: datetime, limit: int) -> int:
    """Delete up to ``limit`` jobs in ``status`` finished before ``before``."""
    chosen = (select(Job.id).where(Job.status == status, Job.finished_at < before)
              .order_by(Job.id).limit(limit).scalar_subquery())
    result = session.execute(delete(Job).where(Job.id.in_(chosen)))
    return int(getattr(result, "rowcount", 0))


def notify(session: Session, tenant_id: int | None) -> None:
    """PostgreSQL: tell listening workers, when this transaction commits, that a job of
    this tenant waits (the payload lets a worker skip other shards' jobs)."""
    session.execute(select(func.pg_notify(NOTIFY_CHANNEL, str(tenant_id or 0))))


@dataclass(frozen=True)
class Counts:
    pending: int = 0
    running: int = 0
    failed: int = 0
    stranded: int = 0  # running with its lease over: its worker died
    oldest: datetime | None = None  # created_at of the oldest unfinished job


def counts(session: Session, now: datetime, tenant_id: int | None = None) -> Counts:
    scope = true() if tenant_id is None else Job.tenant_id == tenant_id
    by_status = dict(session.execute(
        select(Job.status, func.count()).where(scope, Job.status != JobStatus.DONE.value)
        .group_by(Job.status)).all())
    stranded = session.scalar(select(func.count()).where(
        scope, Job.status == JobStatus.RUNNING.value, Job.run_after < now)) or 0
    oldest = session.scalar(select(func.min(Job.created_at)).where(
        scope, Job.status.in_(CLAIMABLE)))
    return Counts(pending=by_status.get(JobStatus.PENDING.value, 0),
                  running=by_status.get(JobStatus.RUNNING.value, 0),
                  failed=by_status.get(JobStatus.FAILED.value, 0),
                  stranded=int(stranded), oldest=oldest)


def failed_jobs(session: Session, tenant_id: int, limit: int) -> list[Job]:
    return list(session.scalars(select(Job).where(
        Job.tenant_id == tenant_id, Job.status == JobStatus.FAILED.value)
        .order_by(Job.id.desc()).limit(limit)))
