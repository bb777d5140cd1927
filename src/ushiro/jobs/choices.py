"""The states of a durable job."""

from __future__ import annotations

from ushiro.core.choices import Choice, with_labels


@with_labels({"pending": "Waiting", "running": "Running", "done": "Done", "failed": "Failed"})
class JobStatus(Choice):
    PENDING = "pending"  # waiting for its run_after time (first run or a retry)
    RUNNING = "running"  # claimed by a worker; run_after is the end of its lease
    DONE = "done"
    FAILED = "failed"  # gave up after MAX_ATTEMPTS; last_error says why


CLAIMABLE = (JobStatus.PENDING.value, JobStatus.RUNNING.value)
