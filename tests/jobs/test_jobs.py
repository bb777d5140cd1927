"""Durable jobs: run after commit, retried on failure, taken over when a worker dies."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ushiro import jobs
from ushiro.core.clock import now
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


def test_job_runs_once_and_is_done(rt: Runtime) -> None:
    CALLS.clear()
    job_id = _enqueue(rt, {"n": 1})
    assert jobs.run_pending(rt) == (1, 0)
    assert jobs.run_pending(rt) == (0, 0)
    assert CALLS == [{"n": 1}] and _job(rt, job_id).status == "done"


def test_failed_job_is_retried_later_with_the_error_kept(rt: Runtime) -> None:
    """GIVEN a job whose handler fails WHEN the worker runs THEN the job waits for a retry
    with the error recorded, and is not run again before its back-off has passed."""
    job_id = _enqueue(rt, {"fail": True})
    assert jobs.run_pending(rt) == (0, 1)
    job = _job(rt, job_id)
    assert job.status == "pending" and "boom" in (job.last_error or "")
    assert job.run_after > now()
    assert jobs.run_pending(rt) == (0, 0)


def test_job_of_a_dead_worker_is_taken_over_after_its_lease(rt: Runtime) -> None:
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
