"""Durable background work (mail sending, polling, indexing)."""

from ushiro.jobs.choices import JobStatus
from ushiro.jobs.service import enqueue, handler, run_pending, start_worker_thread

__all__ = ["JobStatus", "enqueue", "handler", "run_pending", "start_worker_thread"]
