"""Durable background work (mail sending, polling, indexing, drafts)."""

from ushiro.jobs.choices import JobStatus
from ushiro.jobs.repository import Shard
from ushiro.jobs.service import (
    FAILED_RETENTION_FACTOR,
    Backlog,
    backlog,
    enqueue,
    failed_jobs,
    handler,
    prune_finished,
    run_pending,
)
from ushiro.jobs.worker import Worker, WorkerThread, start_worker_thread

__all__ = ["FAILED_RETENTION_FACTOR", "Backlog", "JobStatus", "Shard", "Worker", "WorkerThread", "backlog", "enqueue",
           "failed_jobs", "handler", "prune_finished", "run_pending", "start_worker_thread"]
