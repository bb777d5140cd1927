"""Enqueue inside the caller's transaction; run after commit, inline or by a worker.

Contract for a handler registered with :func:`handler`: it receives the runtime and the
job's JSON payload, must be idempotent (a job may run again after a crash), and raises
to signal failure; the job is then retried with back-off up to ``MAX_ATTEMPTS``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ushiro.core.clock import now
from ushiro.core.db import on_commit
from ushiro.core.runtime import Runtime
from ushiro.jobs.choices import CLAIMABLE, JobStatus
from ushiro.jobs.models import Job

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
# A claimed job is leased for this long; if its worker dies, another worker takes it over.
LEASE = timedelta(minutes=10)
Handler = Callable[[Runtime, dict[str, Any]], None]
_HANDLERS: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        _HANDLERS[kind] = func
        return func

    return register


def enqueue(session: Session, kind: str, payload: dict[str, Any],
            tenant_id: int | None = None) -> Job:
    """Store a job in the caller's transaction. When the runtime runs jobs inline, they run
    once that transaction has committed (never after a rollback); otherwise a worker
    takes them."""
    job = Job(kind=kind, payload=payload, tenant_id=tenant_id)
    session.add(job)
    session.flush()
    rt = session.info.get("runtime")
    if isinstance(rt, Runtime) and rt.settings.jobs_inline:
        on_commit(session, lambda: run_pending(rt), key="jobs.run_pending")
    return job


def _claim(rt: Runtime, limit: int) -> list[int]:
    claimed: list[int] = []
    with rt.db.transaction() as session:
        due = now()
        ids = session.scalars(select(Job.id).where(Job.status.in_(CLAIMABLE),
                                                   Job.run_after <= due)
                              .order_by(Job.id).limit(limit))
        for job_id in list(ids):
            # The guard on status and lease makes the claim safe when several workers race.
            result = session.execute(
                update(Job).where(Job.id == job_id, Job.status.in_(CLAIMABLE),
                                  Job.run_after <= due)
                .values(status=JobStatus.RUNNING.value, attempts=Job.attempts + 1, run_after=due + LEASE))
            if getattr(result, "rowcount", 0) == 1:
                claimed.append(job_id)
    return claimed


def _run_one(rt: Runtime, job_id: int) -> bool:
    with rt.db.reading() as session:
        job = session.get(Job, job_id)
        assert job is not None
        kind, payload, attempts = job.kind, dict(job.payload), job.attempts
    func = _HANDLERS.get(kind)
    error: str | None = None
    try:
        if func is None:
            raise LookupError(f"no handler for job kind {kind}")
        func(rt, payload)
    except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried
        log.warning("job %s (%s) failed: %s", job_id, kind, exc)
        error = f"{type(exc).__name__}: {exc}"
    with rt.db.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        if error is None:
            job.status, job.finished_at = JobStatus.DONE.value, now()
        elif attempts >= MAX_ATTEMPTS:
            job.status, job.last_error, job.finished_at = JobStatus.FAILED.value, error, now()
        else:
            job.status, job.last_error = JobStatus.PENDING.value, error
            job.run_after = now() + timedelta(seconds=30 * 2 ** attempts)
    return error is None


def run_pending(rt: Runtime, limit: int = 50) -> tuple[int, int]:
    """Run due jobs once. Returns (succeeded, failed)."""
    ok = failed = 0
    for job_id in _claim(rt, limit):
        if _run_one(rt, job_id):
            ok += 1
        else:
            failed += 1
    return ok, failed


def start_worker_thread(rt: Runtime, interval: float = 2.0) -> threading.Event:
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            try:
                run_pending(rt)
            except Exception:  # noqa: BLE001 - keep the worker alive; errors are logged
                log.exception("job worker iteration failed")
            stop.wait(interval)

    threading.Thread(target=loop, name="ushiro-worker", daemon=True).start()
    return stop
