"""Durable background work (mail sending, polling, indexing)."""

from ushiro.jobs.service import after_commit, enqueue, handler, run_pending, start_worker_thread

__all__ = ["after_commit", "enqueue", "handler", "run_pending", "start_worker_thread"]
