"""Durable jobs: run after commit, retried on failure, taken over when a worker dies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from ushiro import jobs
from ushiro.core.clock import now
from ushiro.core.db import on_commit
from ushiro.core.runtime import Runtime
from ushiro.jobs.models import Job

CALLS: list[dict[str, Any]] = []




@jobs.handler("test.record")
def _record(rt: Runtime, payload: dict[str, Any]) -> None:
    if payload.get("fail"):
        raise RuntimeError("boom")
    CALLS.append(payload)


def _enqueue(rt: Runtime, payload: dict[str, Any]) -> int:
    with rt.db.transaction() as session:
        return jobs.enqueue(session, "test.record", payload).id


def _job(rt: Runtime, job_id: int) -> Job:
    with rt.db.reading() as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def test_job_runs_once_and_is_done(queued: Runtime) -> None:
    rt = queued
    CALLS.clear()
    job_id = _enqueue(rt, {"n": 1})
    assert jobs.run_pending(rt) == (1, 0)
    assert jobs.run_pending(rt) == (0, 0)
    assert CALLS == [{"n": 1}] and _job(rt, job_id).status == "done"


def test_failed_job_is_retried_later_with_the_error_kept(queued: Runtime) -> None:
    """GIVEN a job whose handler fails WHEN the worker runs THEN the job waits for a retry
    with the error recorded, and is not run again before its back-off has passed."""
    rt = queued
    job_id = _enqueue(rt, {"fail": True})
    assert jobs.run_pending(rt) == (0, 1)
    job = _job(rt, job_id)
    assert job.status == "pending" and "boom" in (job.last_error or "")
    assert job.run_after > now()
    assert jobs.run_pending(rt) == (0, 0)


def test_job_of_a_dead_worker_is_taken_over_after_its_lease(queued: Runtime) -> None:
    rt = queued
    CALLS.clear()
    job_id = _enqueue(rt, {"n": 2})
    with rt.db.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.status, job.run_after = "running", now() + timedelta(minutes=5)
    assert jobs.run_pending(rt) == (0, 0)  # still leased by the (dead) worker
    with rt.db.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.run_after = now() - timedelta(seconds=1)
    assert jobs.run_pending(rt) == (1, 0)
    assert CALLS == [{"n": 2}]


def test_inline_jobs_run_after_the_commit_that_enqueued_them(rt: Runtime) -> None:
    """GIVEN a runtime that runs jobs inline WHEN a transaction enqueues a job and commits
    THEN the job has run by the time the transaction block has returned, once, and the
    caller did nothing to start it."""
    CALLS.clear()
    job_id = _enqueue(rt, {"n": 3})
    assert CALLS == [{"n": 3}] and _job(rt, job_id).status == "done"
    assert jobs.run_pending(rt) == (0, 0)


def test_nothing_runs_after_a_rollback(rt: Runtime) -> None:
    """GIVEN a transaction that enqueues a job WHEN it fails and rolls back THEN the job
    neither runs nor stays in the table."""
    CALLS.clear()
    with pytest.raises(RuntimeError), rt.db.transaction() as session:
        jobs.enqueue(session, "test.record", {"n": 4})
        raise RuntimeError("the service failed after enqueueing")
    assert CALLS == []
    with rt.db.reading() as session:
        assert session.query(Job).filter(Job.kind == "test.record").count() == 0
    assert jobs.run_pending(rt) == (0, 0)


def test_on_commit_callbacks_run_in_order_and_only_after_commit(rt: Runtime) -> None:
    """GIVEN callbacks registered in a transaction WHEN it commits THEN they run after
    it, in order, once per key; WHEN another rolls back THEN its callbacks never run."""
    seen: list[str] = []
    with rt.db.transaction() as session:
        on_commit(session, lambda: seen.append("first"))
        on_commit(session, lambda: seen.append("second"), key="k")
        on_commit(session, lambda: seen.append("again"), key="k")
        assert seen == []
    assert seen == ["first", "second"]
    with pytest.raises(ValueError), rt.db.transaction() as session:
        on_commit(session, lambda: seen.append("rolled back"))
        raise ValueError
    assert seen == ["first", "second"]
