"""SQLite writers queue on one lock shared by every process on the same database file
(``serve --workers N`` and ``ushiro worker`` beside it), not on SQLite's busy polling."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from ushiro.core.db import Database
from ushiro.migrations import upgrade

pytestmark = pytest.mark.skipif(os.environ.get("USHIRO_TEST_DB", "sqlite") != "sqlite",
                                reason="PostgreSQL has no single-writer lock to queue on")

HOLDER = textwrap.dedent("""
    import sys, time
    from sqlalchemy import text
    from ushiro.core.db import Database
    db = Database(sys.argv[1])
    with db.transaction() as session:
        session.execute(text("INSERT INTO tenants (slug, name, created_at) "
                             "VALUES ('holder', 'holder', '2026-01-01')"))
        print("holding", flush=True)
        time.sleep(float(sys.argv[2]))
    print("released", flush=True)
""")


def _lock_is_free(path: Path) -> bool:
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops a lock taken here
    return True


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ushiro.db'}"
    upgrade(url)
    return url


def test_a_write_transaction_holds_the_file_lock(db_url: str, tmp_path: Path) -> None:
    """GIVEN a database file
    WHEN a write transaction is open (and also while it nests a second one)
    THEN the writer lock beside the database is taken, and free again after the commit."""
    lock = tmp_path / "ushiro.db.writer-lock"
    db = Database(db_url)
    try:
        with db.transaction():
            assert not _lock_is_free(lock)
            with db.transaction():
                assert not _lock_is_free(lock)
            assert not _lock_is_free(lock)  # the inner one does not release the outer
        assert _lock_is_free(lock)
    finally:
        db.dispose()


def test_a_writer_in_another_process_waits_its_turn(db_url: str) -> None:
    """GIVEN another process holding a write transaction for 0.6 s
    WHEN this process writes
    THEN it waits until the other one has committed, then sees its row: no "database is
    locked" error and no lost write."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, db_url, "0.6"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "holding"
    db = Database(db_url)
    try:
        started = time.monotonic()
        with db.transaction() as session:
            waited = time.monotonic() - started
            seen = session.execute(text("SELECT count(*) FROM tenants WHERE slug = 'holder'"))
            assert seen.scalar() == 1
            session.execute(text("INSERT INTO tenants (slug, name, created_at) "
                                 "VALUES ('after', 'after', '2026-01-01')"))
        assert waited > 0.3
    finally:
        db.dispose()
        assert holder.wait(timeout=30) == 0
