"""Finding and removing what the file store holds but no row needs.

A file is written before the row that names it commits (desk/service/, knowledge/
service.py), so a file younger than the grace period may belong to a transaction still
running: only older orphans and older ``.tmp-*`` partial writes are candidates.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ushiro.core.runtime import Runtime
from ushiro.maintenance import repository

GRACE_MINUTES = 60


@dataclass
class StoreReport:
    orphans: list[Path] = field(default_factory=list)
    partials: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # digests rows name, absent in the store
    young: int = 0  # unreferenced but within the grace period: left alone
    removed: int = 0
    freed_bytes: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"orphans": [str(p) for p in self.orphans],
                "partials": [str(p) for p in self.partials], "missing": self.missing,
                "young": self.young, "removed": self.removed, "freed_bytes": self.freed_bytes}


def inspect(rt: Runtime, grace_minutes: int = GRACE_MINUTES) -> StoreReport:
    with rt.db.reading() as session:
        wanted = repository.referenced_digests(session)
    cutoff = time.time() - grace_minutes * 60
    report = StoreReport()
    present: set[str] = set()
    for digest, path in rt.files.stored():
        present.add(digest)
        if digest in wanted:
            continue
        if path.stat().st_mtime < cutoff:
            report.orphans.append(path)
        else:
            report.young += 1
    for path in rt.files.partials():
        if path.stat().st_mtime < cutoff:
            report.partials.append(path)
    report.missing = sorted(wanted - present)
    return report


def collect(rt: Runtime, *, delete: bool, grace_minutes: int = GRACE_MINUTES) -> StoreReport:
    """The report of :func:`inspect`; with ``delete`` its orphans and partials removed.
    A file stored again or named by a new row since the inspection is kept."""
    report = inspect(rt, grace_minutes)
    if not delete:
        return report
    with rt.db.reading() as session:
        wanted = repository.referenced_digests(session)
    cutoff = time.time() - grace_minutes * 60
    for path in [*report.orphans, *report.partials]:
        if path.parent.name + path.name in wanted:
            continue
        try:
            stat = path.stat()
            if stat.st_mtime >= cutoff:  # stored again meanwhile (FileStore.put)
                continue
            size = stat.st_size
            path.unlink()
        except FileNotFoundError:
            continue
        report.removed += 1
        report.freed_bytes += size
    return report
