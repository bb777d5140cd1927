"""The backup format: one JSON Lines file per table, a manifest with a SHA-256 per file.

Format 2 writes every line with ``ensure_ascii=True``: each non-ASCII character, U+2028,
U+2029, U+0085, ``\\r`` and NUL included, is a ``\\uXXXX`` escape, so a line holds no byte
but printable ASCII and its final ``\\n``. Lines are read by ``\\n`` only (binary file
iteration), never ``str.splitlines()``, which also splits at U+2028 and friends; that is
why format 1 backups (written with ``ensure_ascii=False``) still read correctly here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Date, DateTime, LargeBinary, Table
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from ushiro.core.errors import ErrorCode, UshiroError

FORMAT = 2
READABLE_FORMATS = (1, 2)
MANIFEST = "manifest.json"


def damaged(message: str, *, field: str | None = None) -> UshiroError:
    return UshiroError(ErrorCode.BACKUP_DAMAGED, message, field=field)


def table_file(table: Table) -> str:
    return f"db/{table.name}.jsonl"


def _kind(column: Any) -> type | None:
    impl = getattr(column.type, "impl", column.type)
    for kind in (DateTime, Date, LargeBinary):
        if isinstance(impl, kind):
            return kind
    return None


def encode_line(row: dict[str, Any]) -> bytes:
    values = {k: (base64.b64encode(v).decode() if isinstance(v, bytes)
                  else v.isoformat() if isinstance(v, date) else v)  # datetime is a date too
              for k, v in row.items()}
    return json.dumps(values, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n"


def decode_row(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    for column in table.columns:
        value = row.get(column.name)
        if not isinstance(value, str):
            continue
        kind = _kind(column)
        if kind is DateTime:
            row[column.name] = datetime.fromisoformat(value)
        elif kind is Date:
            row[column.name] = date.fromisoformat(value)
        elif kind is LargeBinary:
            row[column.name] = base64.b64decode(value, validate=True)
    return row


def dump_table(conn: Connection, stmt: Select[Any], out: Any) -> tuple[int, str]:
    """Write the rows of ``stmt`` to the binary stream ``out``; (row count, sha256)."""
    digest, count = hashlib.sha256(), 0
    for row in conn.execute(stmt.execution_options(yield_per=1000)).mappings():
        line = encode_line(dict(row))
        digest.update(line)
        if out is not None:
            out.write(line)
        count += 1
    return count, digest.hexdigest()


def read_rows(table: Table, path: Path, name: str) -> Iterator[dict[str, Any]]:
    """The decoded rows of one table file; a broken line is reported with its number."""
    columns = set(table.columns.keys())
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
                if not isinstance(obj, dict):
                    raise ValueError("JSON のオブジェクトではありません")
                unknown = set(obj) - columns
                if unknown:
                    raise ValueError(f"未知の列 {', '.join(sorted(unknown))}")
                yield decode_row(table, obj)
            except (ValueError, binascii.Error) as error:  # JSONDecodeError and
                # UnicodeDecodeError are ValueErrors
                raise damaged(f"{name} の {number} 行目を読み取れません: {error}",
                              field=f"{name}:{number}") from error


def read_manifest(source: Path) -> dict[str, Any]:
    path = source / MANIFEST
    if not source.is_dir() or not path.is_file():
        raise damaged(f"{source} にバックアップ ({MANIFEST}) が見つかりません。"
                      "バックアップのディレクトリを指定してください。")
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except ValueError as error:
        raise damaged(f"{MANIFEST} が壊れています: {error}", field=MANIFEST) from error
    if not isinstance(manifest, dict) or not isinstance(manifest.get("tables"), dict):
        raise damaged(f"{MANIFEST} にテーブルの一覧 (tables) がありません。", field=MANIFEST)
    if manifest.get("format") not in READABLE_FORMATS:
        raise damaged(f"未知のバックアップ形式です (format: {manifest.get('format')!r})。"
                      f"このバージョンが読める形式は {', '.join(map(str, READABLE_FORMATS))} "
                      "です。", field=MANIFEST)
    return manifest


def check_files(source: Path, manifest: dict[str, Any], tables: list[Table]) -> None:
    """Before anything is written: every file the manifest names exists and matches its
    checksum (format 2), every table file is there, no table is unknown."""
    known = {t.name for t in tables}
    unknown = sorted(set(manifest["tables"]) - known)
    if unknown:
        raise damaged(f"このバージョンにないテーブル {', '.join(unknown)} が含まれています。"
                      "バックアップを作成したバージョン以降の Ushiro で復元してください。")
    for name in manifest["tables"]:
        if not (source / f"db/{name}.jsonl").is_file():
            raise damaged(f"テーブルファイル db/{name}.jsonl がありません。",
                          field=f"db/{name}.jsonl")
    checksums: dict[str, str] = manifest.get("checksums") or {}
    for name, expected in checksums.items():
        path = source / name
        if ".." in Path(name).parts or not path.is_file():
            raise damaged(f"ファイル {name} がありません(manifest.json に記載)。", field=name)
        with path.open("rb") as handle:
            actual = hashlib.file_digest(handle, "sha256").hexdigest()
        if actual != expected:
            raise damaged(f"ファイル {name} のチェックサムが一致しません"
                          f"(期待 {expected[:12]}…、実際 {actual[:12]}…)。", field=name)
