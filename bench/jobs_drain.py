#!/usr/bin/env python
"""Job queue drain rate: the claim of before issue 14 against today's, side by side.

Enqueues ``--jobs`` (2000) no-op jobs, then starts 1, 4 and 8 worker processes at the
same moment and times how long they take to run every job. Two ways of working:

* ``old``: the worker loop of before issue 14, copied here: select 50 due ids, lease each
  with a guarded update (no ``SKIP LOCKED``), run them, sleep 2 s after every batch.
* ``new``: ``ushiro.jobs.Worker.drain``: ``FOR UPDATE SKIP LOCKED`` in batches of 10 on
  PostgreSQL (the guarded update on SQLite, whose writer lock serialises claims), no
  sleep while work waits.

Prints, per mode and number of workers: jobs/s, claims, the share of claims that came
back empty while jobs were still pending and, for ``old``, the share of selected rows lost to another
worker's update. Not a test. ``--db postgres`` uses a fresh schema in
127.0.0.1:5432/test (USHIRO_BENCH_PG_URL), dropped afterwards.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, delete, func, select, text, update

from ushiro import domains, jobs
from ushiro.core.clock import now
from ushiro.core.runtime import Runtime
from ushiro.core.settings import Settings
from ushiro.jobs.choices import CLAIMABLE, JobStatus
from ushiro.jobs.models import Job
from ushiro.migrations import upgrade

PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
OLD_BATCH, OLD_SLEEP = 50, 2.0


@jobs.handler("bench.noop")
def _noop(rt: Runtime, payload: dict[str, Any]) -> None:
    return None


@dataclass
class Tally:
    claims: int = 0
    empty: int = 0  # came back empty while work still waited
    selected: int = 0  # old: ids selected
    lost: int = 0  # old: selected ids another worker leased first
    ran: int = 0


def _runtime(url: str, data: Path) -> Runtime:
    return Runtime.from_settings(Settings(data_dir=data, database_url=url,
                                          secret_key="bench", jobs_inline=False,
                                          db_pool_size=2))


def _old_claim(rt: Runtime, tally: Tally) -> list[int]:
    """Before issue 14 (jobs/service.py at 7271ce2)."""
    claimed: list[int] = []
    with rt.db.transaction() as session:
        due = now()
        ids = list(session.scalars(select(Job.id).where(
            Job.status.in_(CLAIMABLE), Job.run_after <= due).order_by(Job.id).limit(OLD_BATCH)))
        for job_id in ids:
            result = session.execute(
                update(Job).where(Job.id == job_id, Job.status.in_(CLAIMABLE),
                                  Job.run_after <= due)
                .values(status=JobStatus.RUNNING.value, attempts=Job.attempts + 1,
                        run_after=due + timedelta(minutes=10)))
            if getattr(result, "rowcount", 0) == 1:
                claimed.append(job_id)
    tally.selected += len(ids)
    tally.lost += len(ids) - len(claimed)
    return claimed


def _old_run(rt: Runtime, job_id: int) -> None:
    with rt.db.reading() as session:
        job = session.get(Job, job_id)
        assert job is not None
        kind, payload = job.kind, dict(job.payload)
    _noop(rt, payload) if kind == "bench.noop" else None
    with rt.db.transaction() as session:
        job = session.get(Job, job_id)
        assert job is not None
        job.status, job.finished_at = JobStatus.DONE.value, now()


def _waiting(rt: Runtime) -> int:
    with rt.db.reading() as session:
        return int(session.scalar(select(func.count()).where(
            Job.status == JobStatus.PENDING.value)) or 0)


def _old_worker(rt: Runtime, tally: Tally) -> None:
    while True:
        claimed = _old_claim(rt, tally)
        tally.claims += 1
        if not claimed and _waiting(rt):
            tally.empty += 1
        for job_id in claimed:
            _old_run(rt, job_id)
        tally.ran += len(claimed)
        if not _waiting(rt):
            return
        time.sleep(OLD_SLEEP)


def _child(mode: str, url: str, data: str, start: float, out: Any) -> None:
    domains.load_models()
    rt = _runtime(url, Path(data))
    tally = Tally()
    time.sleep(max(0.0, start - time.time()))
    if mode == "old":
        _old_worker(rt, tally)
    else:
        worker = jobs.Worker(rt)
        worker.drain()  # ends at its first empty claim: did work still wait then?
        tally = Tally(claims=worker.claims, empty=1 if _waiting(rt) else 0, ran=worker.ran)
    out.put((time.time(), tally))
    rt.db.dispose()


def run_once(mode: str, workers: int, count: int, url: str, data: Path) -> dict[str, Any]:
    rt = _runtime(url, data)
    with rt.db.transaction() as session:
        session.execute(delete(Job))
    with rt.db.transaction() as session:
        for n in range(count):
            jobs.enqueue(session, "bench.noop", {"n": n})
    rt.db.dispose()
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    start = time.time() + 1.5
    procs = [ctx.Process(target=_child, args=(mode, url, str(data), start, out))
             for _ in range(workers)]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=900) for _ in procs]
    for proc in procs:
        proc.join()
    elapsed = max(t for t, _ in results) - start
    total = Tally()
    for _t, tally in results:
        for field in ("claims", "empty", "selected", "lost", "ran"):
            setattr(total, field, getattr(total, field) + getattr(tally, field))
    assert total.ran == count, (mode, workers, total)
    return {"mode": mode, "workers": workers, "seconds": elapsed, "jobs_per_s": count / elapsed,
            "claims": total.claims, "empty_share": total.empty / max(total.claims, 1),
            "lost_share": total.lost / total.selected if total.selected else None}


def _database(db: str, root: Path) -> tuple[str, str | None]:
    if db == "sqlite":
        return f"sqlite:///{root / 'bench.db'}", None
    schema = f"bench_{secrets.token_hex(6)}"
    engine = create_engine(PG_BASE)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return f"{PG_BASE}?options=-csearch_path%3D{schema}", schema


def _drop(schema: str) -> None:
    engine = create_engine(PG_BASE)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="postgres")
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--workers", default="1,4,8")
    parser.add_argument("--modes", default="old,new")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="jobs-drain-"))
    url, schema = _database(args.db, root)
    try:
        upgrade(url)
        print(f"{args.db}: {args.jobs} no-op jobs, {os.cpu_count()} cpus, load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)
        print(f"{'mode':<5} {'workers':>7} {'seconds':>8} {'jobs/s':>8} {'claims':>7} "
              f"{'empty':>7} {'lost rows':>9}", flush=True)
        for workers in (int(w) for w in args.workers.split(",")):
            for mode in args.modes.split(","):
                r = run_once(mode, workers, args.jobs, url, root)
                lost = "-" if r["lost_share"] is None else f"{r['lost_share']:.1%}"
                print(f"{mode:<5} {workers:>7} {r['seconds']:>8.2f} {r['jobs_per_s']:>8.0f} "
                      f"{r['claims']:>7} {r['empty_share']:>7.1%} {lost:>9}", flush=True)
        print(f"load average at the end {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        if schema:
            _drop(schema)
    return 0


if __name__ == "__main__":
    sys.exit(main())
