"""Built search indexes on disk: saved once per tenant stamp, loaded memory-mapped.

Layout under ``Settings.index_dir`` (derived data: never backed up, rebuilt when missing)::

    <index_dir>/<database key>/<tenant id>/lock
    <index_dir>/<database key>/<tenant id>/<stamp>.<variant>/manifest.json, *.npy, <bm25s dirs>

The database key is the backend and a digest of the database's identity (the URL without
its password; a SQLite file's absolute path), so two databases never share a directory; the
manifest repeats the identity, the tenant id and the stamp, and a directory whose manifest
does not name the database, tenant and stamp asked for is never loaded. The variant says
what the index was built with (``bm25``, or the embedding model's digest).

An index is a set of named parts, each an object with ``__getstate__``/``__setstate__``
whose state holds numpy arrays (one ``.npy`` file each, loaded with ``mmap_mode="r"``: the
pages are the file's, shared by every process and kept by the kernel's page cache), bm25s
indexes (``BM25.save``, ``BM25.load(mmap=True)``), and plain numbers and strings (in the
manifest). The manifest also carries ``FORMAT`` and the size and SHA-256 of every file.

Written into a temporary directory beside the final one and renamed into place, so a
reader sees a whole index or none; files are not fsynced: a crash can leave a file short or
wrong after the rename, which the checksums catch at the next load (a rebuild). Writers of
one tenant take ``flock`` on its lock file, so after a document change one process builds
and the others wait and load what it wrote. The writer removes the directories of older
stamps; a process still mapping their files keeps them until it lets go (POSIX unlink).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from ushiro.core.files import FILE_MODE, TMP_PREFIX, open_private, private_dir

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: no lock between processes
    fcntl = None  # type: ignore[assignment]

# The version of what a persisted index holds. Bump it when the state of a part changes
# (an array added to or changed in a backend, a scoring change baked into its arrays): the
# indexes saved before are then rebuilt once, instead of loaded without the new field.
# A part added or removed is caught without it (the manifest lists the parts).
FORMAT = 1
MANIFEST = "manifest.json"
LOCK = "lock"
_PLAIN = (int, float, str, bool, type(None))
_SAFE_STAMP = re.compile(r"^[0-9A-Za-z_-]{1,64}$")


class Damaged(Exception):
    """A persisted index that cannot be used (truncated, altered, another format …)."""


@dataclass(frozen=True)
class Place:
    """Where one tenant's indexes of one database and variant live."""

    root: Path
    database: str
    tenant_id: int
    variant: str

    def directory(self, stamp: str) -> Path:
        safe = stamp if _SAFE_STAMP.match(stamp) else hashlib.sha256(stamp.encode()).hexdigest()
        return self.root / f"{safe}.{self.variant}"


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def database_identity(url: str) -> str:
    """The database an index was built from: its URL without the password (a SQLite file
    by its absolute path, however the URL spelled it)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        parsed = parsed.set(database=os.path.abspath(str(parsed.database)))
    return parsed.render_as_string(hide_password=True)


def place(index_dir: Path, url: str, tenant_id: int, variant: str) -> Place:
    identity = database_identity(url)
    key = f"{make_url(url).get_backend_name()}-{digest(identity)}"
    return Place(index_dir / key / str(int(tenant_id)), identity, tenant_id, variant)


@contextmanager
def locked(where: Place) -> Iterator[None]:
    """The tenant's lock between processes (and between threads: each holds its own
    descriptor), held while an index is checked, built and written."""
    private_dir(where.root)
    fd = os.open(where.root / LOCK, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def save(where: Place, stamp: str, parts: Mapping[str, object | None],
         extra: Mapping[str, Any]) -> Path:
    """Write an index (parts and JSON-able ``extra``) for ``stamp``; the caller holds
    :func:`locked`. Removes the directories of other stamps. Returns the directory."""
    final = where.directory(stamp)
    private_dir(where.root)
    tmp = Path(tempfile.mkdtemp(dir=where.root, prefix=TMP_PREFIX))  # 0700
    try:
        components = {name: None if part is None else _save_part(tmp, name, part)
                      for name, part in parts.items()}
        manifest = {"format": FORMAT, "database": where.database, "tenant": where.tenant_id,
                    "stamp": stamp, "variant": where.variant, "components": components,
                    "extra": dict(extra), "files": _checksums(tmp)}
        with os.fdopen(open_private(tmp / MANIFEST), "w", encoding="utf-8") as out:
            json.dump(manifest, out, ensure_ascii=False)
        if final.exists():
            shutil.rmtree(final)  # damaged (the caller found it so) or of another format
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    prune(where, keep=stamp)
    return final


def _save_part(tmp: Path, name: str, part: object) -> dict[str, Any]:
    import bm25s
    import numpy as np

    entry: dict[str, Any] = {"class": type(part).__qualname__, "arrays": {}, "bm25s": {},
                             "values": {}}
    for attr, value in part.__getstate__().items():  # type: ignore[attr-defined]
        if isinstance(value, np.ndarray):
            file = f"{name}.{attr}.npy"
            with os.fdopen(open_private(tmp / file), "wb") as out:
                np.save(out, np.ascontiguousarray(value), allow_pickle=False)
            entry["arrays"][attr] = file
        elif isinstance(value, bm25s.BM25):
            folder = f"{name}.{attr}"
            value.save(str(tmp / folder))
            for path in (tmp / folder).iterdir():
                path.chmod(FILE_MODE)
            entry["bm25s"][attr] = folder
        elif isinstance(value, _PLAIN):
            entry["values"][attr] = value
        else:
            raise TypeError(f"{name}.{attr}: {type(value).__name__} cannot be persisted")
    return entry


def _checksums(folder: Path) -> dict[str, dict[str, Any]]:
    return {path.relative_to(folder).as_posix(): {"bytes": path.stat().st_size,
                                                  "sha256": _sha256(path)}
            for path in sorted(folder.rglob("*")) if path.is_file()}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def prune(where: Place, keep: str) -> None:
    """Remove what the tenant's directory holds besides the indexes of stamp ``keep``:
    older stamps, and temporary directories of writes that never finished (the caller
    holds the lock, so no write is under way)."""
    kept = where.directory(keep).name.split(".")[0]
    for child in where.root.iterdir():
        if child.is_dir() and (child.name.startswith(TMP_PREFIX)
                               or child.name.split(".")[0] != kept):
            shutil.rmtree(child, ignore_errors=True)


def remove(where: Place, stamp: str) -> None:
    shutil.rmtree(where.directory(stamp), ignore_errors=True)


def others(where: Place, stamp: str) -> list[str]:
    """Names of the tenant's index directories of other stamps (stale ones)."""
    if not where.root.is_dir():
        return []
    mine = where.directory(stamp).name.split(".")[0]
    return sorted(c.name for c in where.root.iterdir() if c.is_dir()
                  and not c.name.startswith(TMP_PREFIX) and c.name.split(".")[0] != mine)


# Directories whose checksums this process has verified, with the size and mtime of each of
# their files then: loading the same directory again (the cache dropped it) skips hashing.
_verified: dict[Path, tuple[tuple[str, int, int], ...]] = {}
VERIFIED_KEPT = 10_000  # directories remembered (older stamps' entries are never asked again)


def load(where: Place, stamp: str, classes: Mapping[str, type]
         ) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(parts, extra) of the index saved for ``stamp``, None when there is none; raises
    :class:`Damaged` for one that cannot be used."""
    folder = where.directory(stamp)
    if not folder.is_dir():
        return None
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        _check(manifest, where, stamp)
        if set(manifest["components"]) != set(classes):
            raise Damaged(f"parts {sorted(manifest['components'])}, expected {sorted(classes)}")
        _verify(folder, manifest["files"])
        parts = {name: None if entry is None else _load_part(folder, classes[name], entry)
                 for name, entry in manifest["components"].items()}
        return parts, manifest["extra"]
    except FileNotFoundError:
        if not folder.exists():
            return None  # removed since we looked: a newer stamp was written
        raise Damaged(f"{folder}: a file is missing") from None
    except Damaged:
        raise
    except Exception as error:  # whatever a bad file makes json, numpy or bm25s raise
        raise Damaged(f"{folder}: {type(error).__name__}: {error}") from error


def _check(manifest: Any, where: Place, stamp: str) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise Damaged(f"format {manifest.get('format') if isinstance(manifest, dict) else '?'}"
                      f", expected {FORMAT}")
    expected = {"database": where.database, "tenant": where.tenant_id, "stamp": stamp,
                "variant": where.variant}
    wrong = [key for key, value in expected.items() if manifest.get(key) != value]
    if wrong:
        raise Damaged(f"manifest names another {', '.join(wrong)}")


def _inside(folder: Path, name: str) -> Path:
    """``folder / name`` for a name a manifest gives, which must stay inside the folder."""
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise Damaged(f"{name!r}: not a file of the index")
    return folder / relative


def _verify(folder: Path, files: Mapping[str, Mapping[str, Any]]) -> None:
    for name in files:
        _inside(folder, name)
    stats = tuple(sorted((name, (folder / name).stat().st_size,
                          (folder / name).stat().st_mtime_ns) for name in files))
    if _verified.get(folder) == stats:
        return
    for name, size, _mtime in stats:
        if size != files[name]["bytes"]:
            raise Damaged(f"{name}: {size} bytes, expected {files[name]['bytes']}")
        if _sha256(folder / name) != files[name]["sha256"]:
            raise Damaged(f"{name}: checksum differs")
    if len(_verified) >= VERIFIED_KEPT:
        _verified.clear()
    _verified[folder] = stats


def _load_part(folder: Path, cls: type, entry: Mapping[str, Any]) -> object:
    import bm25s
    import numpy as np

    if entry["class"] != cls.__qualname__:
        raise Damaged(f"{entry['class']} where {cls.__qualname__} was expected")
    state: dict[str, Any] = dict(entry["values"])
    for attr, file in entry["arrays"].items():
        array = np.load(_inside(folder, file), mmap_mode="r", allow_pickle=False)
        state[attr] = array if array.size else np.array(array)  # nothing to map
    for attr, sub in entry["bm25s"].items():
        state[attr] = bm25s.BM25.load(str(_inside(folder, sub)), mmap=True)
    part: Any = object.__new__(cls)
    part.__setstate__(state)
    return part
