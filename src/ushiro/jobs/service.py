"""Enqueue inside the caller's transaction; run after commit, inline or by a worker.

Contract for a handler registered with :func:`handler`: it receives the runtime and the
job's JSON payload, must be idempotent (a job may run again after a crash), and raises
to signal failure; the job is then retried with back-off up to ``MAX_ATTEMPTS``.

Retention: a done job is deleted ``jobs_retention_days`` after it finished (7 by
default); a failed one ``FAILED_RETENTION_FACTOR`` times as long (28 days by default), so
that the admin page and ``ushiro doctor`` show it for weeks after it gave up.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ushiro.core.clock import now
from ushiro.core.db import on_commit
from ushiro.core.runtime import Runtime
from ushiro.jobs import repository
from ushiro.jobs.choices import JobStatus
from ushiro.jobs.models import Job
from ushiro.jobs.repository import ALL, Claimed, Shard

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
# A claimed job is leased for this long; if its worker dies, another worker takes it over.
LEASE = timedelta(minutes=10)
FAILED_RETENTION_FACTOR = 4
PRUNE_CHUNK = 1000  # rows deleted per transaction: the SQLite writer lock stays short
Handler = Callable[[Runtime, dict[str, Any]], None]
_HANDLERS: dict[str, Handler] = {}
_NOTIFIED = "ushiro.jobs.notified"


def handler(kind: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        _HANDLERS[kind] = func
        return func

    return register


def enqueue(session: Session, kind: str, payload: dict[str, Any],
            tenant_id: int | None = None) -> Job:
    """Store a job in the caller's transaction. When the runtime runs jobs inline, they run
    once that transaction has committed (never after a rollback); otherwise a worker
    takes them, woken on PostgreSQL by a notification sent when the transaction commits."""
    job = Job(kind=kind, payload=payload, tenant_id=tenant_id)
    session.add(job)
    session.flush()
    rt = session.info.get("runtime")
    if isinstance(rt, Runtime) and rt.settings.jobs_inline:
        on_commit(session, lambda: run_pending(rt), key="jobs.run_pending")
    elif session.get_bind().dialect.name == "postgresql":
        notified: set[int | None] = session.info.setdefault(_NOTIFIED, set())
        if tenant_id not in notified:  # one notification per tenant and transaction
            repository.notify(session, tenant_id)
            notified.add(tenant_id)
    return job


def _relaxed(rt: Runtime, session: Session) -> None:
    if not rt.db.is_sqlite:
        repository.relaxed_commit(session)


def claim(rt: Runtime, limit: int, shard: Shard = ALL) -> list[Claimed]:
    """Lease up to ``limit`` due jobs of ``shard`` to this worker."""
    take = repository.claim_guarded if rt.db.is_sqlite else repository.claim_skip_locked
    with rt.db.transaction() as session:
        _relaxed(rt, session)
        due = now()
        return take(session, limit, due, due + LEASE, shard)


def run_one(rt: Runtime, job: Claimed) -> bool:
    func = _HANDLERS.get(job.kind)
    error: str | None = None
    try:
        if func is None:
            raise LookupError(f"no handler for job kind {job.kind}")
        func(rt, dict(job.payload))
    except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried
        log.warning("job %s (%s) failed: %s", job.id, job.kind, exc)
        error = f"{type(exc).__name__}: {exc}"
    with rt.db.transaction() as session:
        _relaxed(rt, session)
        if error is None:
            repository.finish(session, job, status=JobStatus.DONE.value, finished_at=now())
        elif job.attempts >= MAX_ATTEMPTS:
            repository.finish(session, job, status=JobStatus.FAILED.value,
                              last_error=error, finished_at=now())
        else:
            repository.finish(session, job, status=JobStatus.PENDING.value, last_error=error,
                              run_after=now() + timedelta(seconds=30 * 2 ** job.attempts))
    return error is None


def release(rt: Runtime, claimed: list[Claimed]) -> int:
    """Give back claimed jobs this worker will not start (it is stopping): pending again,
    due at once, for another worker or the next start."""
    if not claimed:
        return 0
    with rt.db.transaction() as session:
        return repository.release(session, claimed, now())


def run_pending(rt: Runtime, limit: int = 50, shard: Shard = ALL) -> tuple[int, int]:
    """Run due jobs once (one claim of up to ``limit``). Returns (succeeded, failed)."""
    ok = failed = 0
    for job in claim(rt, limit, shard):
        if run_one(rt, job):
            ok += 1
        else:
            failed += 1
    return ok, failed


def prune_finished(rt: Runtime, at: datetime | None = None) -> int:
    """Delete done jobs older than the retention period and failed ones older than
    ``FAILED_RETENTION_FACTOR`` times it. Returns how many were deleted."""
    days = rt.settings.jobs_retention_days
    moment = at or now()
    deleted = 0
    for status, age in ((JobStatus.DONE, days), (JobStatus.FAILED, days * FAILED_RETENTION_FACTOR)):
        while True:
            with rt.db.transaction() as session:
                count = repository.prune(session, status.value, moment - timedelta(days=age),
                                         PRUNE_CHUNK)
            deleted += count
            if count < PRUNE_CHUNK:
                break
    return deleted


@dataclass(frozen=True)
class Backlog:
    pending: int
    running: int
    failed: int
    stranded: int  # running, but the lease has run out: the worker died
    oldest_age_seconds: float | None  # of the oldest job not finished yet


def backlog(session: Session, tenant_id: int | None = None) -> Backlog:
    """The queue's backlog: of one tenant, or of the whole instance."""
    moment = now()
    found = repository.counts(session, moment, tenant_id)
    age = None if found.oldest is None else max(0.0, (moment - found.oldest).total_seconds())
    return Backlog(found.pending, found.running, found.failed, found.stranded, age)


def failed_jobs(session: Session, tenant_id: int, limit: int = 50) -> list[Job]:
    """A tenant's jobs that gave up, newest first (kept 4 × the retention period)."""
    return repository.failed_jobs(session, tenant_id, limit)
