"""Backup: one consistent snapshot of every table (JSON Lines) plus the files it refers to.

The snapshot is a single read transaction (SQLite WAL snapshot, PostgreSQL REPEATABLE
READ), so it may be taken while the server is writing. Attachment files are written before
the row that refers to them commits, so copying the file store after the snapshot always
includes every file the snapshot needs. The same format restores into SQLite or PostgreSQL.
"""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Date, DateTime, Table, func, select, text
from sqlalchemy.engine import Connection

from ushiro.core.clock import now
from ushiro.core.db import Base
from ushiro.core.errors import ErrorCode, UshiroError
from ushiro.core.runtime import Runtime
from ushiro.migrations import upgrade

FORMAT = 1


def _tables() -> list[Table]:
    import ushiro.answers.models
    import ushiro.audit.models
    import ushiro.desk.models
    import ushiro.identity.models
    import ushiro.jobs.models
    import ushiro.knowledge.models  # noqa: F401 - registers every table

    return list(Base.metadata.sorted_tables)


def _encode(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value  # datetime is a date too


def _snapshot(conn: Connection, target: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    (target / "db").mkdir(parents=True)
    for table in _tables():
        count = 0
        with (target / "db" / f"{table.name}.jsonl").open("w", encoding="utf-8") as out:
            pk = list(table.primary_key.columns)
            for row in conn.execute(select(table).order_by(*pk)).mappings():
                out.write(json.dumps({k: _encode(v) for k, v in row.items()},
                                     ensure_ascii=False) + "\n")
                count += 1
        counts[table.name] = count
    return counts


def backup(rt: Runtime, target: Path) -> dict[str, Any]:
    if target.exists() and any(target.iterdir()):
        raise UshiroError(ErrorCode.BACKUP_FAILED,
                          f"バックアップ先 {target} は空ではありません。空のディレクトリを指定してください。")
    target.mkdir(parents=True, exist_ok=True)
    with rt.db.engine.connect() as conn:
        if not rt.db.is_sqlite:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            counts = _snapshot(conn, target)
    files = 0
    if rt.settings.files_dir.exists():
        shutil.copytree(rt.settings.files_dir, target / "files",
                        ignore=shutil.ignore_patterns(".tmp-*"))
        files = sum(1 for p in (target / "files").rglob("*") if p.is_file())
    secret = rt.settings.data_dir / "secret.key"
    if secret.exists():
        shutil.copy2(secret, target / "secret.key")
    manifest = {"format": FORMAT, "created_at": now().isoformat(), "tables": counts,
                "files": files}
    (target / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
    return manifest


def _decode(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    result = dict(row)
    for column in table.columns:
        value = result.get(column.name)
        if isinstance(value, str) and _is_datetime(column):
            result[column.name] = datetime.fromisoformat(value)
        elif isinstance(value, str) and isinstance(column.type, Date):
            result[column.name] = date.fromisoformat(value)
    return result


def _is_datetime(column: Any) -> bool:
    kind = column.type
    impl = getattr(kind, "impl", kind)
    return isinstance(impl, DateTime)


def _ensure_empty(conn: Connection) -> None:
    tenants = Base.metadata.tables["tenants"]
    if conn.scalar(select(func.count()).select_from(tenants)):
        raise UshiroError(ErrorCode.BACKUP_FAILED,
                          "復元先のデータベースは空ではありません。新しいデータディレクトリに復元してください。")


def restore(rt: Runtime, source: Path) -> dict[str, Any]:
    manifest_path = source / "manifest.json"
    if not manifest_path.exists():
        raise UshiroError(ErrorCode.BACKUP_FAILED,
                          f"{source} にバックアップ (manifest.json) が見つかりません。")
    manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    rt.settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(rt.settings.resolved_database_url)
    with rt.db.write_engine.begin() as conn:
        _ensure_empty(conn)
        for table in _tables():
            path = source / "db" / f"{table.name}.jsonl"
            rows = [_decode(table, json.loads(line)) for line in
                    path.read_text(encoding="utf-8").splitlines() if line]
            for start in range(0, len(rows), 1000):
                conn.execute(table.insert(), rows[start:start + 1000])
        if not rt.db.is_sqlite:
            _reset_sequences(conn)
    if (source / "files").exists():
        shutil.copytree(source / "files", rt.settings.files_dir, dirs_exist_ok=True)
    if (source / "secret.key").exists() and not rt.settings.secret_key:
        shutil.copy2(source / "secret.key", rt.settings.data_dir / "secret.key")
    return manifest


def _reset_sequences(conn: Connection) -> None:
    for table in _tables():
        if "id" in table.c and table.c.id.autoincrement is not False and \
                table.c.id.primary_key:
            conn.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"))
