"""Engines, sessions and the declarative base.

SQLite runs in WAL mode. Write transactions start with ``BEGIN IMMEDIATE`` so two writers
never both read the same audit-chain head and then collide at commit time; reads use a
plain deferred ``BEGIN`` and never wait for writers. PostgreSQL uses one engine for both
and serialises the chain with row locks.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from ushiro.core.clock import as_utc

try:
    import fcntl
except ImportError:  # not on Windows: only this process's writers are queued there
    fcntl = None  # type: ignore[assignment]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


_ON_COMMIT = "ushiro.on_commit"


def on_commit(session: Session, callback: Callable[[], object], *, key: str | None = None) -> None:
    """Run ``callback`` once the transaction of ``session`` has committed, never after a
    rollback. Callbacks run in order, outside the SQLite writer lock, so they may open
    transactions of their own; ``key`` registers a callback at most once per transaction."""
    pending: dict[str, Callable[[], object]] = session.info.setdefault(_ON_COMMIT, {})
    pending.setdefault(key or f"#{len(pending)}", callback)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out, on SQLite (naive storage) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        aware = as_utc(value)
        return aware.replace(tzinfo=None) if dialect.name == "sqlite" else aware

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


def _sqlite_engine(url: str, *, immediate: bool, pool_size: int) -> Engine:
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": 30},
        pool_size=pool_size,
        max_overflow=pool_size,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event, not the driver, decide when transactions start.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()
        _make_private(url)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _make_private(url: str) -> None:
    """The database file 0600 whatever the umask (SQLite creates it 0644 & ~umask); the
    -wal and -shm files SQLite creates later copy the database file's mode."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    for suffix in ("", "-wal", "-shm"):
        try:
            os.chmod(database + suffix, 0o600)
        except OSError:  # not there (yet), or not ours to change
            pass


class _SqliteWriters:
    """One SQLite writer at a time: across the threads of this process (a reentrant lock)
    and across processes (``serve --workers N``, ``ushiro worker``) through an advisory
    ``flock`` on a file beside the database. Waiting writers sleep in the kernel and wake
    as soon as the lock is free, instead of polling SQLite's busy handler, whose 1-100 ms
    sleeps made the latency tail long (bench/intake.py).

    ``flock`` hands the lock to whoever asks first after it is freed, and that is usually
    the process that just freed it, so another process could wait through many turns (p99
    over 100 ms with two workers). A second lock makes the handoff fair: a process takes
    the *queue* lock before the *writer* lock and lets go of it once it writes, so a
    process waiting for the writer lock holds the queue lock, and the one that just wrote
    cannot queue again until the waiter has had its turn."""

    def __init__(self, path: str | None) -> None:
        self._lock = threading.RLock()
        self._local = threading.local()
        self._path = path
        self._fds: tuple[int, int] | None = None
        self._pid = 0

    def _files(self) -> tuple[int, int] | None:
        if self._path is None or fcntl is None:
            return None
        if self._fds is None or self._pid != os.getpid():  # a forked child opens its own
            self._fds = (os.open(self._path + "-queue", os.O_RDWR | os.O_CREAT, 0o600),
                         os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600))
            self._pid = os.getpid()
        return self._fds

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._lock:
            depth: int = getattr(self._local, "depth", 0)
            fds = self._files() if depth == 0 else None
            if fds is not None:
                queue, writer = fds
                fcntl.flock(queue, fcntl.LOCK_EX)
                try:
                    fcntl.flock(writer, fcntl.LOCK_EX)
                finally:
                    fcntl.flock(queue, fcntl.LOCK_UN)
            self._local.depth = depth + 1
            try:
                yield
            finally:
                self._local.depth = depth
                if fds is not None:
                    fcntl.flock(fds[1], fcntl.LOCK_UN)


def _lock_path(url: str) -> str | None:
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return os.path.abspath(database) + ".writer-lock"


class Database:
    """Owns the engines and hands out sessions. One per process (or per test)."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine = _sqlite_engine(url, immediate=False, pool_size=pool_size)
            self.write_engine = _sqlite_engine(url, immediate=True, pool_size=pool_size)
        else:
            self.engine = create_engine(url, pool_size=pool_size, max_overflow=pool_size,
                                        pool_pre_ping=True)
            self.write_engine = self.engine
        # Copied into every session's ``info``: the runtime puts its settings here, so code
        # that is handed only a session (the audit log) can find the data directory.
        self.info: dict[str, Any] = {}
        self._read = sessionmaker(self.engine, expire_on_commit=False, info=self.info)
        self._write = sessionmaker(self.write_engine, expire_on_commit=False, info=self.info)
        # SQLite has one writer at a time: writers queue here (see _SqliteWriters).
        self._writers = _SqliteWriters(_lock_path(url)) if self.is_sqlite else None
        self._bound: Connection | None = None

    def session(self, *, write: bool = False) -> Session:
        return (self._write if write else self._read)()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A write unit of work: commits on success, rolls back on any error. What was
        registered with :func:`on_commit` runs after the commit, and only then."""
        with self._writers.hold() if self._writers is not None else nullcontext():
            session = self.session(write=True)
            try:
                with session.begin():
                    yield session
                callbacks = list(session.info.pop(_ON_COMMIT, {}).values())
            finally:
                session.info.pop(_ON_COMMIT, None)
                session.close()
        for callback in callbacks:
            callback()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        session = self.session()
        try:
            yield session
        finally:
            # close(), not rollback(): objects read here stay usable (detached, not expired).
            session.close()

    @contextmanager
    def reading_rows(self) -> Iterator[Connection]:
        """A plain connection for a read of plain columns on a hot path (the token behind
        every API call): no ORM session to build and tear down. Repositories accept it
        where they accept a session; it rolls back at the end."""
        if self._bound is not None:
            yield self._bound
            return
        with self.engine.connect() as conn:
            yield conn

    def bind_to_connection(self, conn: Connection) -> None:
        """Tests: every session joins ``conn``'s outer transaction through savepoints."""
        maker = sessionmaker(bind=conn, expire_on_commit=False, info=self.info,
                             join_transaction_mode="create_savepoint")
        self._read = maker
        self._write = maker
        self._bound = conn

    def unbind(self) -> None:
        self._bound = None
        self._read = sessionmaker(self.engine, expire_on_commit=False, info=self.info)
        self._write = sessionmaker(self.write_engine, expire_on_commit=False, info=self.info)

    def dispose(self) -> None:
        self.engine.dispose()
        if self.write_engine is not self.engine:
            self.write_engine.dispose()
