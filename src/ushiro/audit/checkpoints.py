"""The audit key and the checkpoint file: what the database cannot vouch for itself.

``<data>/audit.key`` (32 random bytes, 0600, created on first use) keys the HMAC of every
new event, so whoever can write the database but not read the data directory cannot
recompute a chain after an edit. It is separate from ``secret.key`` so that rotating the
session key does not make the audit trail unverifiable.

``<data>/audit-checkpoints.jsonl`` (0600, append-only) records chain heads ``{chain, seq,
hash, v, at, mac}``; ``mac`` is the line's HMAC under the audit key. ``verify`` compares
the database with it, so deleting the newest events or a whole chain is noticed. To keep
the write path cheap a process appends after the commit of its first event, of a chain's
first event, then at most every ``EVERY`` events or ``SECONDS`` seconds, and at exit (no
fsync): events newer than the last checkpoint can be removed unnoticed; ``ushiro audit
checkpoint`` records the heads at once (run it from cron, keep its ``--print`` output).
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ushiro.audit.models import AuditHead
from ushiro.core.clock import now
from ushiro.core.files import open_private, private_dir
from ushiro.core.settings import Settings

KEY_FILE = "audit.key"
CHECKPOINT_FILE = FILE = "audit-checkpoints.jsonl"
EVERY = 200
SECONDS = 5.0
LEGACY, KEYED = 1, 2
log = logging.getLogger(__name__)


@lru_cache(maxsize=32)
def _key_at(data_dir: Path) -> bytes:
    path = data_dir / KEY_FILE
    if not path.exists():
        private_dir(data_dir)
        try:
            fd = open_private(path)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def audit_key(settings: Settings) -> bytes:
    return _key_at(settings.data_dir)


def forget_key() -> None:
    """After a restore replaced ``audit.key``: read it again."""
    _key_at.cache_clear()


def session_settings(session: Session) -> Settings:
    settings = session.info.get("settings")
    if not isinstance(settings, Settings):
        raise RuntimeError("audit: the session's Database has no runtime (Runtime(settings, db))")
    return settings


@dataclass(frozen=True)
class Checkpoint:
    chain: int
    seq: int
    hash: str
    version: int


def _mac(key: bytes, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def line(key: bytes, chain: int, seq: int, digest: str, version: int) -> bytes:
    fields: dict[str, Any] = {"chain": chain, "seq": seq, "hash": digest, "v": version,
                              "at": now().isoformat(timespec="seconds")}
    fields["mac"] = _mac(key, fields)
    return json.dumps(fields, sort_keys=True).encode() + b"\n"


def append(settings: Settings, heads: list[Checkpoint]) -> None:
    if not heads:
        return
    key = audit_key(settings)
    data = b"".join(line(key, h.chain, h.seq, h.hash, h.version) for h in heads)
    private_dir(settings.data_dir)
    fd = open_private(settings.data_dir / FILE, append=True)
    try:
        os.write(fd, data)  # one O_APPEND write: lines of processes never interleave
    finally:
        os.close(fd)


def read(settings: Settings) -> tuple[list[Checkpoint], list[tuple[int, str]]]:
    """The valid checkpoints, and (line number, reason) of each line that is not one."""
    path = settings.data_dir / FILE
    if not path.exists():
        return [], []
    key = audit_key(settings)
    good: list[Checkpoint] = []
    bad: list[tuple[int, str]] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                fields = json.loads(raw)
                mac = fields.pop("mac")
                point = Checkpoint(int(fields["chain"]), int(fields["seq"]),
                                   str(fields["hash"]), int(fields["v"]))
            except (ValueError, KeyError, TypeError, AttributeError):
                bad.append((number, "読み取れません"))
                continue
            if not hmac.compare_digest(str(mac), _mac(key, fields)):
                bad.append((number, "署名 (HMAC) が一致しません(書き換えられています)"))
            else:
                good.append(point)
    return good, bad


def lines_within(path: Path, heads: dict[int, int]) -> bytes:
    """The lines of ``path`` about chain states at or before ``heads`` (chain → seq)."""
    if not path.exists():
        return b""
    kept = []
    with path.open("rb") as handle:
        for raw in handle:
            try:
                fields = json.loads(raw)
                if int(fields["seq"]) <= heads.get(int(fields["chain"]), -1):
                    kept.append(raw if raw.endswith(b"\n") else raw + b"\n")
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # verify reports it on the live file; a backup keeps no garbage
    return b"".join(kept)


def db_heads(conn: Connection | Session) -> dict[int, int]:
    return {int(c): int(s) for c, s in conn.execute(select(AuditHead.chain, AuditHead.seq))}


class _Writer:
    """Per data directory and process: heads committed since the last line written."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lock = threading.Lock()
        self.pending: dict[int, tuple[int, str]] = {}
        self.events = 0
        self.written = False
        self.last = time.monotonic()

    def committed(self, heads: dict[int, tuple[int, str]]) -> None:
        with self.lock:
            for chain, head in heads.items():
                if head[0] > self.pending.get(chain, (0, ""))[0]:
                    self.pending[chain] = head
            self.events += len(heads)
            new_chain = any(seq == 1 for seq, _ in heads.values())
            if (not self.written or new_chain or self.events >= EVERY
                    or time.monotonic() - self.last >= SECONDS):
                self._flush()

    def _flush(self) -> None:
        pending, self.pending, self.events = self.pending, {}, 0
        self.written, self.last = True, time.monotonic()
        append(self.settings, [Checkpoint(c, s, h, KEYED) for c, (s, h) in pending.items()])

    def flush(self) -> None:
        with self.lock:
            if self.pending:
                self._flush()


_writers: dict[Path, _Writer] = {}
_writers_lock = threading.Lock()


def committed(settings: Settings, heads: dict[int, tuple[int, str]]) -> None:
    writer = _writers.get(settings.data_dir)
    if writer is None:
        with _writers_lock:
            writer = _writers.setdefault(settings.data_dir, _Writer(settings))
    try:
        writer.committed(heads)
    except OSError as error:  # the commit stands; verify reports what the file lacks
        log.warning("audit checkpoint not written to %s: %s", settings.data_dir / FILE, error)


@atexit.register
def _flush_all() -> None:
    for writer in list(_writers.values()):
        try:
            writer.flush()
        except OSError:
            pass
