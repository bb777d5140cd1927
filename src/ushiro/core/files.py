"""Content-addressed file storage under the data directory, and private file modes.

Everything under the data directory and in a backup is readable by its owner only (0700
directories, 0600 files), whatever the process umask: the database holds personal data
and the directory holds the keys.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
TMP_PREFIX = ".tmp-"


def private_dir(path: Path) -> Path:
    """``path`` set to 0700, created with any missing parents (those 0700 too)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(exist_ok=True)
        directory.chmod(DIR_MODE)
    path.chmod(DIR_MODE)
    return path


def open_private(path: Path, *, append: bool = False) -> int:
    """A descriptor for writing ``path`` created 0600 (O_EXCL unless appending)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_EXCL)
    fd = os.open(path, flags, FILE_MODE)
    os.fchmod(fd, FILE_MODE)  # an existing file keeps its mode otherwise; umask is ignored
    return fd


def write_private(path: Path, data: bytes) -> None:
    """Write ``path`` atomically (temp file + rename), 0600."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


class FileStore:
    """Stores bytes by SHA-256. Writing the same content twice stores it once; a write is
    atomic (temp file + rename), so a crash never leaves a half file under a real name."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:]

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.exists():
            # Fresh again: `files gc` spares young files, so it cannot remove this one
            # between now and the commit of the row that will name it.
            os.utime(target)
            return digest
        if not self.root.exists():
            private_dir(self.root)
        if not target.parent.exists():
            private_dir(target.parent)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=TMP_PREFIX)  # mkstemp: 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def read(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def stored(self) -> Iterator[tuple[str, Path]]:
        """(digest, path) of every complete file in the store."""
        if not self.root.exists():
            return
        for sub in sorted(self.root.iterdir()):
            if sub.is_dir() and len(sub.name) == 2:
                for path in sorted(sub.iterdir()):
                    if path.is_file() and not path.name.startswith(TMP_PREFIX):
                        yield sub.name + path.name, path

    def partials(self) -> Iterator[Path]:
        """Leftover temp files of writes that never finished (a killed upload)."""
        if self.root.exists():
            yield from (p for p in self.root.rglob(TMP_PREFIX + "*") if p.is_file())
