"""Backup: one consistent snapshot of every table (JSON Lines) plus the files it refers to.

The snapshot is a single read transaction (SQLite WAL snapshot, PostgreSQL REPEATABLE
READ), so it may be taken while the server is writing. Attachment files are written before
the row that refers to them commits, so copying the file store after the snapshot always
includes every file the snapshot needs. The same format restores into SQLite or PostgreSQL.

Restore checks every checksum before it writes anything, inserts every table in one
transaction (a failure leaves the target database empty), and copies files only after
that transaction committed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from ushiro import domains
from ushiro.audit import CHECKPOINT_FILE, KEY_FILE, db_heads, forget_key, lines_within
from ushiro.audit import write_checkpoint as audit_checkpoint
from ushiro.backup.format import (
    FORMAT,
    MANIFEST,
    check_files,
    damaged,
    dump_table,
    read_manifest,
    read_rows,
    table_file,
)
from ushiro.core.clock import now
from ushiro.core.db import Base
from ushiro.core.errors import ErrorCode, UshiroError
from ushiro.core.files import (
    TMP_PREFIX,
    file_sha256,
    open_private,
    private_dir,
    write_private,
)
from ushiro.core.runtime import Runtime
from ushiro.core.settings import Settings
from ushiro.migrations import upgrade

# Files of the data directory a restored instance needs besides the database and store.
KEYS = ("secret.key", KEY_FILE)
BATCH = 500


def _tables() -> list[Table]:
    return domains.tables()


def _ordered(table: Table) -> Any:
    return select(table).order_by(*table.primary_key.columns)


def _snapshot(conn: Connection, target: Path) -> tuple[dict[str, int], dict[str, str]]:
    counts: dict[str, int] = {}
    sums: dict[str, str] = {}
    private_dir(target / "db")
    for table in _tables():
        name = table_file(table)
        with os.fdopen(open_private(target / name), "wb") as out:
            counts[table.name], sums[name] = dump_table(conn, _ordered(table), out)
    return counts, sums


def _copy(source: Path, target: Path) -> str:
    """Copy ``source`` to ``target`` (0600), returning the SHA-256 of what was copied."""
    digest = hashlib.sha256()
    with source.open("rb") as src, os.fdopen(open_private(target), "wb") as out:
        while chunk := src.read(1 << 20):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _copy_store(rt: Runtime, target: Path) -> dict[str, str]:
    sums: dict[str, str] = {}
    for digest, path in rt.files.stored():
        name = f"files/{digest[:2]}/{digest[2:]}"
        private_dir(target / "files" / digest[:2])
        sums[name] = _copy(path, target / name)
    return sums


def _copy_keys(rt: Runtime, target: Path, heads: dict[int, int]) -> dict[str, str]:
    sums: dict[str, str] = {}
    for name in KEYS:
        if (rt.settings.data_dir / name).is_file():
            sums[name] = _copy(rt.settings.data_dir / name, target / name)
    # Checkpoints written after the snapshot began name events the backup does not hold.
    kept = lines_within(rt.settings.data_dir / CHECKPOINT_FILE, heads)
    if kept:
        with os.fdopen(open_private(target / CHECKPOINT_FILE), "wb") as out:
            out.write(kept)
        sums[CHECKPOINT_FILE] = hashlib.sha256(kept).hexdigest()
    return sums


def backup(rt: Runtime, target: Path) -> dict[str, Any]:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UshiroError(ErrorCode.BACKUP_FAILED,
                          f"バックアップ先 {target} は空ではありません。空のディレクトリを指定してください。")
    private_dir(target)
    with rt.db.engine.connect() as conn:
        if not rt.db.is_sqlite:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            counts, sums = _snapshot(conn, target)
            revision = conn.scalar(text("SELECT version_num FROM alembic_version"))
            heads = db_heads(conn)
    files = _copy_store(rt, target)
    sums.update(files)
    sums.update(_copy_keys(rt, target, heads))
    manifest = {"format": FORMAT, "created_at": now().isoformat(), "revision": revision,
                "tables": counts, "files": len(files), "checksums": sums}
    # Written last and atomically: a backup cut short has no manifest and is not one.
    write_private(target / MANIFEST, json.dumps(manifest, ensure_ascii=False,
                                                indent=2).encode())
    return manifest


def _ensure_empty(conn: Connection) -> None:
    tenants = Base.metadata.tables["tenants"]
    if conn.scalar(select(func.count()).select_from(tenants)):
        raise UshiroError(ErrorCode.BACKUP_FAILED,
                          "復元先のデータベースは空ではありません。新しいデータディレクトリに復元してください。")


def _load_table(conn: Connection, table: Table, source: Path) -> None:
    name = table_file(table)
    batch: list[dict[str, Any]] = []
    first = 1
    for line, row in enumerate(read_rows(table, source / name, name), start=1):
        batch.append(row)
        if len(batch) == BATCH:
            _insert(conn, table, batch, name, first)
            batch, first = [], line + 1
    if batch:
        _insert(conn, table, batch, name, first)


def _insert(conn: Connection, table: Table, rows: list[dict[str, Any]], name: str,
            first: int) -> None:
    try:
        conn.execute(table.insert(), rows)
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", error)).splitlines()[0][:300]
        raise damaged(f"{name} の {first}〜{first + len(rows) - 1} 件目 (空行を除く) を"
                      f"データベースに書き込めません: {reason}", field=name) from error


def _load(rt: Runtime, source: Path, manifest: dict[str, Any]) -> None:
    with rt.db.write_engine.begin() as conn:
        _ensure_empty(conn)
        for table in _tables():
            if table.name in manifest["tables"]:  # an older backup lacks newer tables
                _load_table(conn, table, source)
        if not rt.db.is_sqlite:
            _reset_sequences(conn)


def _install_files(rt: Runtime, source: Path, manifest: dict[str, Any]) -> None:
    """After the commit: the store (atomically per file), the keys and checkpoints."""
    private_dir(rt.settings.files_dir)
    if (source / "files").is_dir():
        for path in sorted((source / "files").rglob("*")):
            if path.is_file() and not path.name.startswith(TMP_PREFIX):
                target = rt.settings.files_dir / path.relative_to(source / "files")
                private_dir(target.parent)
                write_private(target, path.read_bytes())
    for name in (*KEYS, CHECKPOINT_FILE):
        if not (source / name).is_file():
            continue
        if name == "secret.key" and rt.settings.secret_key:
            continue  # the configured key wins; the copied file would never be read
        write_private(rt.settings.data_dir / name, (source / name).read_bytes())
    forget_key()


def restore(rt: Runtime, source: Path) -> dict[str, Any]:
    manifest = read_manifest(source)
    check_files(source, manifest, _tables())
    private_dir(rt.settings.data_dir)
    upgrade(rt.settings.resolved_database_url)
    _load(rt, source, manifest)
    _install_files(rt, source, manifest)
    # A backup without checkpoints (format 1) gets them now, as `ushiro init` would.
    audit_checkpoint(rt, new_chains_only=True)
    return manifest


def verify_backup(source: Path) -> dict[str, Any]:
    """Restore ``source`` into a temporary SQLite data directory, then compare the row
    count and the checksum of every table, re-read from there, and of every file."""
    manifest = read_manifest(source)
    with tempfile.TemporaryDirectory(prefix="ushiro-verify-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", database_url=None,
                            secret_key="verify-only")
        rt = Runtime.from_settings(settings)
        try:
            restore(rt, source)
            problems = _compare(rt, manifest)
        finally:
            rt.db.dispose()
    return {"ok": not problems, "format": manifest["format"], "tables": len(manifest["tables"]),
            "rows": sum(manifest["tables"].values()), "files": manifest.get("files", 0),
            "problems": problems}


def _compare(rt: Runtime, manifest: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    sums: dict[str, str] = manifest.get("checksums") or {}
    with rt.db.engine.connect() as conn:
        for table in _tables():
            expected = manifest["tables"].get(table.name, 0)
            count, digest = dump_table(conn, _ordered(table), None)
            if count != expected:
                problems.append(f"テーブル {table.name}: 復元後 {count} 行 (バックアップ {expected} 行)")
            name = table_file(table)
            if name in sums and sums[name] != digest:
                problems.append(f"テーブル {table.name}: 復元後の内容がチェックサムと一致しません")
    for name, expected in sums.items():
        if name.startswith("files/"):
            path = rt.settings.files_dir / name.removeprefix("files/")
            if not path.is_file() or file_sha256(path) != expected:
                problems.append(f"ファイル {name}: 復元後の内容がチェックサムと一致しません")
    return problems


def _reset_sequences(conn: Connection) -> None:
    for table in _tables():
        if "id" in table.c and table.c.id.autoincrement is not False and \
                table.c.id.primary_key:
            conn.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"))


__all__ = ["backup", "restore", "verify_backup"]
