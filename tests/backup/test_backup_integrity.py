"""Backups restore every value, say exactly what is wrong with a damaged one, and
restore all or nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cli_support import cli_invoker
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from ushiro import identity
from ushiro.core.runtime import Runtime
from ushiro.core.settings import Settings
from ushiro.desk import service as desk_service
from ushiro.desk.choices import Channel
from ushiro.desk.schemas import RequestCreate

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mail"
TRICKY = "一行目\u2028二行目\u2029三\u0085四\r五\x1c六\x1d七\x1e八\x0b九\x0c十"


def _restore_env(cli_env: dict[str, str], tmp_path: Path, db_url_factory: Any) -> dict[str, str]:
    return {**cli_env, "USHIRO_DATA_DIR": str(tmp_path / "restored"),
            "USHIRO_DATABASE_URL": db_url_factory.new_url(migrate=False)}


def _bodies(url: str) -> list[str]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = [r[0] for r in conn.execute(text("SELECT body FROM requests ORDER BY id"))]
    engine.dispose()
    return rows


def _count(url: str, table: str) -> int:
    """Rows in ``table``; -1 when the table does not exist (nothing migrated yet)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
    except (OperationalError, ProgrammingError):
        return -1
    finally:
        engine.dispose()


def _flat(text: str) -> str:
    """Without whitespace: the error console wraps long lines."""
    return "".join(text.split())


def _runtime(env: dict[str, str]) -> Runtime:
    return Runtime.from_settings(Settings(data_dir=Path(env["USHIRO_DATA_DIR"]),
                                          database_url=env["USHIRO_DATABASE_URL"],
                                          secret_key=env["USHIRO_SECRET_KEY"]))


def _with_request(ushiro, cli_env: dict[str, str], body: str) -> None:
    """A desk with one request whose body is ``body``, submitted through the desk service
    as the API does."""
    ushiro("init", "--tenant", "sakura")
    ushiro("user", "add", "emp@example.co.jp", "--name", "社員", "--role", "admin")
    rt = _runtime(cli_env)
    try:
        tenant = identity.resolve_tenant(rt.db, "sakura")
        with rt.db.reading() as session:
            user = identity.user_by_email(session, "emp@example.co.jp")
            assert user is not None
        principal = identity.principal(rt.db, user.id, tenant.id)
        desk_service.submit(rt, principal, RequestCreate(title="備品\u2028の件", body=body),
                            channel=Channel.API)
    finally:
        rt.db.dispose()


def test_line_separators_in_a_body_restore(ushiro, cli_env, tmp_path, db_url_factory) -> None:
    """GIVEN a request body holding U+2028, U+2029, U+0085 and other characters that
    str.splitlines() treats as line ends WHEN it is backed up and restored THEN restore
    succeeds and the body is byte-for-byte the same (the reported failure: a
    JSONDecodeError traceback and an empty database)."""
    _with_request(ushiro, cli_env, TRICKY)
    assert ushiro("backup", str(tmp_path / "b")).exit_code == 0
    env = _restore_env(cli_env, tmp_path, db_url_factory)
    restored = cli_invoker(env)("restore", str(tmp_path / "b"))
    assert restored.exit_code == 0, restored.output
    assert _bodies(env["USHIRO_DATABASE_URL"]) == _bodies(cli_env["USHIRO_DATABASE_URL"])
    assert _bodies(env["USHIRO_DATABASE_URL"])[0].count("\u2028") == 1


def _backup(ushiro, cli_env, tmp_path: Path) -> Path:
    _with_request(ushiro, cli_env, "コピー用紙を 3 箱お願いします。" + TRICKY)
    attach = ushiro("mail", "import", str(FIXTURES / "utf8_attachment.eml"))
    assert attach.exit_code == 0, attach.output
    assert ushiro("backup", str(tmp_path / "b")).exit_code == 0
    return tmp_path / "b"


def _set_checksum(source: Path, name: str) -> None:
    manifest = json.loads((source / "manifest.json").read_text())
    manifest["checksums"][name] = hashlib.sha256((source / name).read_bytes()).hexdigest()
    (source / "manifest.json").write_text(json.dumps(manifest))


def _alter(source: Path) -> None:
    path = source / "db/requests.jsonl"
    path.write_bytes(path.read_bytes().replace(b"}\n", b"} \n", 1))


def _break_line(source: Path) -> None:
    path = source / "db/requests.jsonl"
    path.write_bytes(b'{"id": 1, "title": "\xe5\x82\x99\n')
    _set_checksum(source, "db/requests.jsonl")


def _unknown_format(source: Path) -> None:
    manifest = json.loads((source / "manifest.json").read_text())
    (source / "manifest.json").write_text(json.dumps({**manifest, "format": 9}))


def _duplicate_row(source: Path) -> None:
    """Valid JSON, valid checksum, but the last table's rows collide: only the database
    notices, after every earlier table was inserted."""
    path = source / "db/users.jsonl"
    first = path.read_bytes().splitlines(keepends=True)[0]
    path.write_bytes(path.read_bytes() + first)
    _set_checksum(source, "db/users.jsonl")


@pytest.mark.parametrize(("damage", "expected"), [
    (_alter, "ファイル db/requests.jsonl のチェックサムが一致しません"),
    (lambda s: (s / "db/messages.jsonl").unlink(), "テーブルファイル db/messages.jsonl がありません"),
    (lambda s: next((s / "files").rglob("*/*")).unlink(), "がありません(manifest.json に記載)"),
    (_break_line, "db/requests.jsonl の 1 行目を読み取れません"),
    (_unknown_format, "未知のバックアップ形式です (format: 9)"),
    (lambda s: (s / "manifest.json").unlink(), "バックアップ (manifest.json) が見つかりません"),
    (_duplicate_row, "db/users.jsonl の 1〜"),
])
def test_a_damaged_backup_is_refused_and_changes_nothing(
        ushiro, cli_env, tmp_path, db_url_factory, damage, expected: str) -> None:
    """GIVEN a backup damaged in one way WHEN it is restored THEN restore exits 2 with a
    Japanese message naming the file (and line), code backup_damaged, no traceback; the
    target database holds no row and the target file store no file."""
    source = _backup(ushiro, cli_env, tmp_path)
    damage(source)
    env = _restore_env(cli_env, tmp_path, db_url_factory)
    result = cli_invoker(env)("restore", str(source))
    assert result.exit_code == 2, result.output
    assert _flat(expected) in _flat(result.output) and "backup_damaged" in result.output
    assert "Traceback" not in result.output
    url = env["USHIRO_DATABASE_URL"]
    if url.startswith("sqlite") and not Path(url.removeprefix("sqlite:///")).exists():
        return  # refused before the database was even created
    for table in ("tenants", "users", "requests", "audit_events"):
        assert _count(url, table) in (0, -1), table
    files = tmp_path / "restored" / "files"
    assert not files.exists() or not any(p.is_file() for p in files.rglob("*"))


def test_verify_backup_restores_into_a_temporary_place(ushiro, cli_env, tmp_path) -> None:
    """GIVEN a desk WHEN `ushiro backup DIR --verify` runs THEN it reports the backup
    restorable with matching checksums; `ushiro verify-backup` on the same backup altered
    afterwards names the altered file and exits 2."""
    _with_request(ushiro, cli_env, TRICKY)
    made = ushiro("backup", str(tmp_path / "b"), "--verify", "--json")
    assert made.exit_code == 0, made.output
    checked = json.loads(made.stdout)["verify"]
    assert checked["ok"] is True and checked["rows"] > 0 and checked["problems"] == []
    again = ushiro("verify-backup", str(tmp_path / "b"))
    assert again.exit_code == 0 and "復元できることを確認しました" in again.output
    _alter(tmp_path / "b")
    damaged = ushiro("verify-backup", str(tmp_path / "b"))
    assert damaged.exit_code == 2
    assert _flat("db/requests.jsonl のチェックサムが一致しません") in _flat(damaged.output)


def test_a_format_1_backup_still_restores(ushiro, cli_env, tmp_path, db_url_factory) -> None:
    """GIVEN a backup in the old format (raw UTF-8 lines, U+2028 unescaped, no checksums)
    WHEN it is restored THEN it succeeds (read by '\\n' only) with the same bodies."""
    source = _backup(ushiro, cli_env, tmp_path)
    for path in (source / "db").iterdir():
        lines = path.read_bytes().splitlines()
        path.write_text("".join(json.dumps(json.loads(x), ensure_ascii=False) + "\n"
                                for x in lines), encoding="utf-8")
    manifest = json.loads((source / "manifest.json").read_text())
    (source / "manifest.json").write_text(json.dumps(
        {"format": 1, "created_at": manifest["created_at"], "tables": manifest["tables"],
         "files": manifest["files"]}))
    assert "\u2028".encode() in (source / "db/requests.jsonl").read_bytes()
    env = _restore_env(cli_env, tmp_path, db_url_factory)
    restored = cli_invoker(env)("restore", str(source))
    assert restored.exit_code == 0, restored.output
    assert _bodies(env["USHIRO_DATABASE_URL"]) == _bodies(cli_env["USHIRO_DATABASE_URL"])
