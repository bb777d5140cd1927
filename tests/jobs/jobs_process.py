"""A process of its own for the queue tests: the test job handlers, then either the real
`ushiro` command (``jobs_process.py ushiro worker …``) or one drain of the queue started
at a given moment (``jobs_process.py drain START BATCH``), so that several processes
claim at once. Settings come from the environment (USHIRO_DATABASE_URL …)."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from ushiro import jobs
from ushiro.core.runtime import Runtime


def mark(payload: dict[str, Any], event: str) -> None:
    """One line per event in the test's log file; O_APPEND keeps lines whole across
    processes."""
    fd = os.open(payload["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{event} {payload['n']} {os.getpid()}\n".encode())
    finally:
        os.close(fd)


@jobs.handler("test.mark")
def _mark(rt: Runtime, payload: dict[str, Any]) -> None:
    time.sleep(float(payload.get("sleep", 0)))
    mark(payload, "ran")


@jobs.handler("test.slow")
def _slow(rt: Runtime, payload: dict[str, Any]) -> None:
    mark(payload, "started")
    time.sleep(float(payload["sleep"]))
    mark(payload, "ran")


def drain(start: float, batch: int) -> None:
    from ushiro.core.settings import Settings

    rt = Runtime.from_settings(Settings())
    worker = jobs.Worker(rt, batch=batch)
    time.sleep(max(0.0, start - time.time()))
    worker.drain()
    print(worker.claims, worker.empty_claims, worker.ran)  # noqa: T201 - read by the test
    rt.db.dispose()


if __name__ == "__main__":
    if sys.argv[1] == "drain":
        drain(float(sys.argv[2]), int(sys.argv[3]))
    else:
        from ushiro.cli import app

        app(sys.argv[2:], prog_name="ushiro")
