"""The worker loop: drain while work waits, then wait for a notification or the poll.

A worker claims small batches until a claim comes back empty (no sleep while work
waits), then waits: on PostgreSQL on its own ``LISTEN ushiro_jobs`` connection, woken by
the notification :func:`ushiro.jobs.enqueue` sends when the enqueueing transaction
commits, with the poll interval as a timeout (retries that come due, a lost
connection); on SQLite it polls. Stopping (SIGTERM/SIGINT on ``ushiro worker``, the end
of ``ushiro serve``) lets the running job finish and gives the claimed jobs it has not
started back to the queue, so no job waits out a lease after a graceful restart.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ushiro.core.runtime import Runtime
from ushiro.jobs import service
from ushiro.jobs.repository import ALL, NOTIFY_CHANNEL, Claimed, Shard

log = logging.getLogger(__name__)
BATCH = 10  # small: a stopping worker gives back few, and other workers share the rest
POLL_SECONDS = 2.0
PRUNE_SECONDS = 3600.0
_SLICE = 0.5  # a wait looks at the stop flag this often


class Listener:
    """A PostgreSQL connection of its own, LISTENing for enqueued jobs of one shard."""

    def __init__(self, rt: Runtime, shard: Shard) -> None:
        self._shard = shard
        pooled = rt.db.engine.raw_connection()
        conn: Any = pooled.driver_connection  # a psycopg connection
        pooled.detach()  # ours for good: it sits in LISTEN, never back in the pool
        conn.autocommit = True
        conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        self._conn = conn

    def flush(self) -> None:
        """Forget notifications already received: the claim that follows sees their jobs."""
        for _note in self._conn.notifies(timeout=0):
            pass

    def wait(self, seconds: float, stopping: threading.Event) -> bool:
        """Until a job of our shard is announced (True), ``seconds`` pass or we stop."""
        deadline = time.monotonic() + seconds
        while not stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            for note in self._conn.notifies(timeout=min(left, _SLICE), stop_after=1):
                if self._owns(note.payload):
                    return True
        return False

    def _owns(self, payload: str) -> bool:
        try:
            return self._shard.owns(int(payload))
        except ValueError:
            return True

    def close(self) -> None:
        try:
            self._conn.close()
        except Exception:  # noqa: BLE001 - closing a broken connection
            log.debug("listener close failed", exc_info=True)


class Worker:
    """One worker: :meth:`run` until :meth:`stop`. Counts its claims (bench/jobs_drain.py)."""

    def __init__(self, rt: Runtime, *, shard: Shard = ALL, batch: int = BATCH,
                 poll_seconds: float = POLL_SECONDS, prune_seconds: float = PRUNE_SECONDS,
                 listen: bool = True) -> None:
        self.rt, self.shard, self.batch = rt, shard, batch
        self.poll_seconds, self.prune_seconds = poll_seconds, prune_seconds
        self.stopping = threading.Event()
        self.claims = self.empty_claims = self.ran = self.released = 0
        self._listen = listen and not rt.db.is_sqlite
        self._listener: Listener | None = None
        self._pruned_at = float("-inf")

    def stop(self) -> None:
        self.stopping.set()

    def drain(self) -> int:
        """Claim and run batches until a claim comes back empty (or we stop)."""
        ran = 0
        while not self.stopping.is_set():
            batch = service.claim(self.rt, self.batch, self.shard)
            self.claims += 1
            if not batch:
                self.empty_claims += 1
                break
            ran += self._run_batch(batch)
        return ran

    def _run_batch(self, batch: list[Claimed]) -> int:
        started = 0
        try:
            for job in batch:
                if self.stopping.is_set():
                    break
                started += 1
                service.run_one(self.rt, job)
        finally:
            # Stopping, or the database failed under us: what we did not start goes back.
            self.released += service.release(self.rt, batch[started:])
        self.ran += started
        return started

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    self._round()
                except Exception:  # noqa: BLE001 - keep the worker alive; errors are logged
                    log.exception("job worker round failed")
                    self._drop_listener()
                    self.stopping.wait(self.poll_seconds)
        finally:
            self._drop_listener()

    def _round(self) -> None:
        if time.monotonic() - self._pruned_at >= self.prune_seconds:
            self._pruned_at = time.monotonic()
            service.prune_finished(self.rt)
        listener = self._listener_or_none()
        if listener is not None:
            listener.flush()
        self.drain()
        if listener is not None:
            listener.wait(self.poll_seconds, self.stopping)
        else:
            self.stopping.wait(self.poll_seconds)

    def _listener_or_none(self) -> Listener | None:
        if self._listen and self._listener is None:
            try:
                self._listener = Listener(self.rt, self.shard)
            except Exception:  # noqa: BLE001 - polling still works without it
                log.warning("cannot LISTEN for jobs; polling every %ss", self.poll_seconds,
                            exc_info=True)
        return self._listener

    def _drop_listener(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None


class WorkerThread:
    """A worker on a daemon thread (``ushiro serve`` with ``worker_in_process``)."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self._thread = threading.Thread(target=worker.run, name="ushiro-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = 60.0) -> None:
        """Stop taking jobs, let the running one finish, give back the rest."""
        self.worker.stop()
        self._thread.join(timeout)


def start_worker_thread(rt: Runtime, interval: float = POLL_SECONDS,
                        shard: Shard = ALL) -> WorkerThread:
    return WorkerThread(Worker(rt, shard=shard, poll_seconds=interval))
