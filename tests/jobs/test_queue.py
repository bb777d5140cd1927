"""The queue under load: concurrent claims, graceful shutdown, wake-up, pruning, shards.

These tests commit for real on a database of their own (``live``): workers in other
threads and processes must see the jobs, and PostgreSQL sends notifications only on
commit.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import jobs_process  # noqa: F401 - registers test.mark and test.slow here too
import pytest
from cli_support import cli_invoker
from fastapi.testclient import TestClient
from sqlalchemy import select

import ushiro
from ushiro import jobs
from ushiro.app import create_app, with_job_worker
from ushiro.core.clock import now
from ushiro.core.db import Database
from ushiro.core.runtime import Runtime
from ushiro.core.settings import Settings
from ushiro.jobs import Shard
from ushiro.jobs.models import Job

HERE = Path(__file__).resolve().parent
SRC = Path(ushiro.__file__).resolve().parent.parent
RAN: list[int] = []
RAN_LOCK = threading.Lock()
SLOW_STARTED = threading.Event()


@jobs.handler("test.count")
def _count(rt: Runtime, payload: dict[str, Any]) -> None:
    time.sleep(float(payload.get("sleep", 0)))
    with RAN_LOCK:
        RAN.append(int(payload["n"]))


@jobs.handler("test.slow_thread")
def _slow_thread(rt: Runtime, payload: dict[str, Any]) -> None:
    SLOW_STARTED.set()
    time.sleep(float(payload["sleep"]))
    with RAN_LOCK:
        RAN.append(int(payload["n"]))


@pytest.fixture
def live(db_url_factory: Any, tmp_path: Path) -> Iterator[Runtime]:
    """A runtime on a database of its own that commits for real, jobs left to workers."""
    settings = Settings(data_dir=tmp_path / "data", database_url=db_url_factory.new_url(),
                        secret_key="test-secret-key", jobs_inline=False,
                        worker_in_process=False)
    rt = Runtime(settings, Database(settings.resolved_database_url, pool_size=10))
    RAN.clear()
    SLOW_STARTED.clear()
    yield rt
    rt.db.dispose()


def _enqueue(rt: Runtime, kind: str, payloads: list[dict[str, Any]],
             tenant_id: int | None = None) -> list[int]:
    with rt.db.transaction() as session:
        return [jobs.enqueue(session, kind, p, tenant_id=tenant_id).id for p in payloads]


def _statuses(rt: Runtime) -> dict[int, str]:
    with rt.db.reading() as session:
        return dict(session.execute(select(Job.id, Job.status)).all())


def _jobs(rt: Runtime) -> dict[int, Job]:
    with rt.db.reading() as session:
        return {job.id: job for job in session.scalars(select(Job))}


def _env(rt: Runtime) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), str(HERE)]),
            "USHIRO_DATABASE_URL": rt.settings.resolved_database_url,
            "USHIRO_DATA_DIR": str(rt.settings.data_dir), "USHIRO_SECRET_KEY": "test-secret-key",
            "USHIRO_JOBS_INLINE": "false", "USHIRO_WORKER_IN_PROCESS": "false"}


def _runs(log: Path) -> Counter[int]:
    lines = log.read_text().split("\n") if log.exists() else []
    return Counter(int(line.split()[1]) for line in lines if line.startswith("ran "))


def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_threads_claiming_at_once_run_every_job_exactly_once(live: Runtime) -> None:
    """GIVEN 240 waiting jobs WHEN six workers in threads drain the queue at the same
    moment, in batches of five THEN every job ran exactly once and is done."""
    ids = _enqueue(live, "test.count", [{"n": n} for n in range(240)])
    workers = [jobs.Worker(live, batch=5) for _ in range(6)]
    start = threading.Barrier(len(workers))

    def drain(worker: jobs.Worker) -> None:
        start.wait()
        worker.drain()

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert Counter(RAN) == Counter(range(240))
    assert set(_statuses(live).values()) == {"done"} and len(_statuses(live)) == len(ids)
    assert sum(w.ran for w in workers) == 240


def test_processes_claiming_at_once_run_every_job_exactly_once(live: Runtime,
                                                               tmp_path: Path) -> None:
    """GIVEN 300 waiting jobs WHEN four worker processes start draining at the same
    moment THEN each job ran exactly once (its handler logged one run), all are done,
    and the work was shared (more than one process ran jobs)."""
    log = tmp_path / "runs.log"
    _enqueue(live, "test.mark", [{"n": n, "log": str(log), "sleep": 0.01} for n in range(300)])
    start = time.time() + 8  # every process has imported by then
    procs = [subprocess.Popen([sys.executable, str(HERE / "jobs_process.py"), "drain",
                               str(start), "5"], env=_env(live), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err[-2000:] for _, err in outputs]
    assert _runs(log) == Counter(range(300))
    assert set(_statuses(live).values()) == {"done"}
    pids = {line.split()[2] for line in log.read_text().splitlines()}
    assert len(pids) > 1


def test_sigterm_lets_the_running_job_finish_and_gives_back_the_rest(live: Runtime,
                                                                     tmp_path: Path) -> None:
    """GIVEN `ushiro worker` running a slow job with five more claimed behind it WHEN it
    receives SIGTERM THEN it exits (status 0) after the slow job finished; the slow job is
    done and the five are pending again, due now, their attempt not counted — no job is
    left running for the lease to run out."""
    log = tmp_path / "runs.log"
    slow = _enqueue(live, "test.slow", [{"n": 0, "log": str(log), "sleep": 2}])[0]
    rest = _enqueue(live, "test.mark", [{"n": n, "log": str(log)} for n in range(1, 6)])
    proc = subprocess.Popen([sys.executable, str(HERE / "jobs_process.py"), "ushiro",
                             "worker"], env=_env(live), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert _wait_for(lambda: log.exists() and "started 0" in log.read_text(), 60)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-2000:]
    found = _jobs(live)
    assert found[slow].status == "done" and _runs(log) == Counter({0: 1})
    assert {found[i].status for i in rest} == {"pending"}
    assert {found[i].attempts for i in rest} == {0}
    assert all(found[i].run_after <= now() for i in rest)
    assert "待ちに戻したジョブ 5 件" in err


def test_stopping_the_server_gives_back_its_worker_threads_claims(live: Runtime) -> None:
    """GIVEN the app served with its job worker thread (``worker_in_process``), the worker
    in a slow job with three more claimed WHEN the server shuts down THEN the slow job
    finishes and the three are pending again."""
    slow = _enqueue(live, "test.slow_thread", [{"n": 0, "sleep": 1}])[0]
    rest = _enqueue(live, "test.count", [{"n": n} for n in range(1, 4)])
    with TestClient(with_job_worker(create_app(rt=live), live)) as client:
        assert client.get("/login").status_code == 200
        assert SLOW_STARTED.wait(30)
    statuses = _statuses(live)
    assert statuses[slow] == "done" and {statuses[i] for i in rest} == {"pending"}
    assert RAN == [0]


def test_serve_without_jobs_leaves_them_to_the_workers(live: Runtime) -> None:
    """GIVEN a waiting job WHEN `ushiro serve --no-jobs` runs (answering pages) THEN the
    job stays waiting: no worker thread in the web process."""
    job_id = _enqueue(live, "test.count", [{"n": 1}])[0]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "ushiro.cli", "serve", "--no-jobs",
                             "--port", str(port)], env=_env(live), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert _wait_for(lambda: _answers(port), 60)
        time.sleep(jobs.worker.POLL_SECONDS + 1)
        assert _statuses(live)[job_id] == "pending"
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert "ジョブはこのプロセスでは実行しません" in out


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/login", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.skipif(os.environ.get("USHIRO_TEST_DB") != "postgres",
                    reason="LISTEN/NOTIFY is PostgreSQL's; SQLite workers poll")
def test_a_notification_wakes_a_waiting_worker_before_its_poll(live: Runtime) -> None:
    """GIVEN a worker waiting with a poll interval of 30 s WHEN a job is enqueued and
    committed THEN the worker runs it within a second or two: the commit's notification
    woke it; and it stops within a second when asked."""
    thread = jobs.WorkerThread(jobs.Worker(live, poll_seconds=30))
    time.sleep(1.5)  # its first round: an empty claim, then the wait
    enqueued = time.monotonic()
    _enqueue(live, "test.count", [{"n": 7}], tenant_id=3)
    assert _wait_for(lambda: RAN == [7], 10)
    assert time.monotonic() - enqueued < 3
    stopping = time.monotonic()
    thread.stop()
    assert time.monotonic() - stopping < 2


def test_finished_jobs_are_pruned_after_the_retention_period(live: Runtime) -> None:
    """GIVEN done jobs finished 8 and 6 days ago, failed ones 8 and 29 days ago and an old
    pending job, with the default retention of 7 days WHEN the queue is pruned THEN only
    the done job of 8 days ago and the failed one of 29 days ago (past 4 × 7) are gone."""
    ids = _enqueue(live, "test.count", [{"n": n} for n in range(5)])
    ages = [("done", 8), ("done", 6), ("failed", 8), ("failed", 29), ("pending", 40)]
    with live.db.transaction() as session:
        for job_id, (status, days) in zip(ids, ages, strict=True):
            job = session.get(Job, job_id)
            assert job is not None
            job.status, job.created_at = status, now() - timedelta(days=days + 1)
            job.finished_at = None if status == "pending" else now() - timedelta(days=days)
    assert jobs.prune_finished(live) == 2
    assert sorted(_statuses(live)) == [ids[1], ids[2], ids[4]]
    assert jobs.prune_finished(live) == 0


@pytest.mark.parametrize(("shard", "tenants"), [
    ("0/3", [None, 3, 6]), ("1/3", [1, 4]), ("2/3", [2, 5]), ("0/1", [None, 1, 2, 3, 4, 5, 6])])
def test_a_sharded_worker_runs_only_its_tenants_jobs(live: Runtime, shard: str,
                                                     tenants: list[int | None]) -> None:
    """GIVEN jobs of tenants 1–6 and one without a tenant WHEN a worker of shard I/N runs
    THEN it runs exactly the jobs whose tenant id % N == I (no tenant: shard 0)."""
    for tenant_id in [None, 1, 2, 3, 4, 5, 6]:
        _enqueue(live, "test.count", [{"n": tenant_id or 0}], tenant_id=tenant_id)
    assert jobs.run_pending(live, shard=Shard.parse(shard)) == (len(tenants), 0)
    assert sorted(RAN) == sorted(t or 0 for t in tenants)


@pytest.mark.parametrize("text", ["3/3", "1", "a/2", "1/0", "-1/2", ""])
def test_a_shard_must_be_index_over_count(text: str) -> None:
    with pytest.raises(ValueError):
        Shard.parse(text)


def test_worker_command_runs_its_shard_and_refuses_a_bad_one(live: Runtime) -> None:
    """GIVEN jobs of tenants 1 and 2 WHEN `ushiro worker --once --shard 1/2` runs THEN only
    tenant 1's job ran; WHEN the shard is malformed THEN the command refuses (status 2)."""
    _enqueue(live, "test.count", [{"n": 1}], tenant_id=1)
    _enqueue(live, "test.count", [{"n": 2}], tenant_id=2)
    env = {k: v for k, v in _env(live).items() if k.startswith("USHIRO_")}
    run = cli_invoker(env)
    result = run("worker", "--once", "--shard", "1/2")
    assert result.exit_code == 0 and "成功 1 件" in result.stdout
    assert RAN == [1]
    assert run("worker", "--once", "--shard", "2/2").exit_code == 2
