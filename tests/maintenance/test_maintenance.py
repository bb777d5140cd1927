"""Private file modes, `ushiro files gc` and `ushiro doctor`, through the command line."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cli_support import cli_invoker
from sqlalchemy import create_engine, make_url, text

from ushiro.core.files import FileStore

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mail"
HOUR_AGO = time.time() - 3600 * 2


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _desk(ushiro) -> None:
    assert ushiro("init", "--tenant", "sakura").exit_code == 0
    ushiro("user", "add", "emp@example.co.jp", "--name", "社員", "--role", "admin")
    imported = ushiro("mail", "import", str(FIXTURES / "utf8_attachment.eml"))
    assert imported.exit_code == 0, imported.output


def test_data_directory_and_backup_are_private(cli_env, tmp_path, umask_022) -> None:
    """GIVEN a umask of 022 (files 0644 by default) WHEN a desk is initialised, used and
    backed up THEN the data directory, the file store and the backup are 0700 and every
    file in them (keys, checkpoints, SQLite database) 0600."""
    env = {k: v for k, v in cli_env.items() if k != "USHIRO_SECRET_KEY"}
    ushiro = cli_invoker(env)
    _desk(ushiro)
    assert ushiro("backup", str(tmp_path / "b")).exit_code == 0
    data = Path(env["USHIRO_DATA_DIR"])
    database = make_url(env["USHIRO_DATABASE_URL"]).database or ""
    paths = [data, *data.rglob("*"), tmp_path / "b", *(tmp_path / "b").rglob("*")]
    if env["USHIRO_DATABASE_URL"].startswith("sqlite"):
        paths += [Path(database + s) for s in ("", "-wal", "-shm") if Path(database + s).exists()]
    loose = {str(p): oct(_mode(p)) for p in paths
             if _mode(p) != (0o700 if p.is_dir() else 0o600)}
    assert loose == {}
    assert (data / "secret.key").exists() and (data / "audit.key").exists()
    assert (tmp_path / "b" / "audit-checkpoints.jsonl").exists()


def _store(env: dict[str, str]) -> FileStore:
    return FileStore(Path(env["USHIRO_DATA_DIR"]) / "files")


def _aged(path: Path) -> Path:
    os.utime(path, (HOUR_AGO, HOUR_AGO))
    return path


def _leftovers(env: dict[str, str]) -> tuple[Path, Path, Path]:
    """An old orphan, a young orphan and an old partial upload in the store."""
    store = _store(env)
    old = _aged(store.path(store.put(b"orphan from a rolled-back upload")))
    young = store.path(store.put(b"uploaded a moment ago, row not committed yet"))
    partial = old.parent / ".tmp-killed-upload"
    partial.write_bytes(b"half")
    partial.chmod(0o600)  # as mkstemp makes it
    return old, young, _aged(partial)


def test_files_gc_lists_then_deletes_orphans_and_partials(ushiro, cli_env) -> None:
    """GIVEN the store holding a referenced attachment, an old orphan, a young orphan and
    an old `.tmp-*` partial WHEN `files gc` runs THEN it lists the old orphan and the
    partial and removes nothing; WHEN `files gc --delete` runs THEN exactly those two go."""
    _desk(ushiro)
    referenced = [p for _, p in _store(cli_env).stored()]
    old, young, partial = _leftovers(cli_env)
    listed = ushiro("files", "gc", "--json")
    report = json.loads(listed.stdout)
    assert listed.exit_code == 0 and report["deleted"] is False
    assert (report["orphans"], report["partials"], report["young"]) == ([str(old)], [str(partial)], 1)
    assert old.exists() and partial.exists()
    deleted = ushiro("files", "gc", "--delete")
    assert deleted.exit_code == 0 and "2 件" in deleted.stdout
    assert not old.exists() and not partial.exists() and young.exists()
    assert referenced and all(p.exists() for p in referenced)


def _sql(env: dict[str, str], statement: str) -> None:
    engine = create_engine(env["USHIRO_DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()


_HOURS_AGO = "CURRENT_TIMESTAMP - INTERVAL '2 hours'" if os.environ.get(
    "USHIRO_TEST_DB") == "postgres" else "datetime('now', '-2 hours')"


def _job_row(env: dict[str, str], status: str, created: str = "CURRENT_TIMESTAMP") -> None:
    """A job as a worker left it (its lease, run_after, is as old as it is)."""
    _sql(env, "INSERT INTO jobs (kind, payload, status, attempts, run_after, created_at, "
              f"last_error) VALUES ('desk.send_reply', '{{}}', '{status}', 1, {created}, "
              f"{created}, 'boom')")


def _lose_attachment(env: dict[str, str]) -> None:
    for _, path in _store(env).stored():
        path.unlink()


DAMAGE: list[tuple[Callable[[dict[str, str]], object], str, str]] = [
    (lambda env: Path(env["USHIRO_DATA_DIR"]).chmod(0o755), "data_dir", "fail"),
    (lambda env: (Path(env["USHIRO_DATA_DIR"]) / "audit.key").chmod(0o644), "data_dir", "fail"),
    (_lose_attachment, "files", "fail"),
    (lambda env: _leftovers(env), "files", "warn"),
    (lambda env: _sql(env, "UPDATE audit_events SET actor = 'x' WHERE seq = 2"), "audit", "fail"),
    (lambda env: _sql(env, "UPDATE alembic_version SET version_num = '0004'"), "database", "fail"),
    (lambda env: _job_row(env, "failed"), "jobs", "warn"),
    (lambda env: _job_row(env, "pending", _HOURS_AGO), "jobs", "warn"),
    (lambda env: _job_row(env, "running", _HOURS_AGO), "jobs", "warn"),
]


def test_doctor_passes_a_healthy_desk(ushiro) -> None:
    _desk(ushiro)
    result = ushiro("doctor")
    assert result.exit_code == 0, result.output
    assert "問題はありません" in result.stdout and "✗" not in result.stdout


@pytest.mark.parametrize(("damage", "check", "status"), DAMAGE)
def test_doctor_names_what_is_wrong(ushiro, cli_env, damage, check: str, status: str) -> None:
    """GIVEN a desk damaged in one way WHEN `ushiro doctor --json` runs THEN that check is
    reported (fail → exit 1; an orphan is only a warning, exit 0) and the others pass."""
    _desk(ushiro)
    damage(cli_env)
    result = ushiro("doctor", "--json")
    summary = json.loads(result.stdout)
    statuses = {c["name"]: c["status"] for c in summary["checks"]}
    assert statuses.pop(check) == status
    assert set(statuses.values()) == {"ok"}
    assert result.exit_code == (1 if status == "fail" else 0)


def test_doctor_reports_the_job_backlog(ushiro, cli_env) -> None:
    """GIVEN a desk with a job waiting WHEN doctor runs THEN it counts the backlog and gives
    the oldest job's age: a young backlog is fine; WHEN the job gave up THEN that is a
    warning (exit 0) that points to the admin page."""
    _desk(ushiro)
    _job_row(cli_env, "pending")
    checks = {c["name"]: c for c in json.loads(ushiro("doctor", "--json").stdout)["checks"]}
    assert checks["jobs"]["status"] == "ok"
    assert "待ち 1 件・実行中 0 件・失敗 0 件" in checks["jobs"]["message"]
    assert "秒前" in checks["jobs"]["message"]
    _sql(cli_env, "UPDATE jobs SET status = 'failed'")
    result = ushiro("doctor")
    assert result.exit_code == 0
    assert "! jobs: 待ち 0 件・実行中 0 件・失敗 1 件" in result.stdout
    assert "バックグラウンド処理" in result.stdout


def test_doctor_on_an_uninitialised_directory(tmp_path) -> None:
    """GIVEN no data directory and no database WHEN doctor runs THEN it says so, exit 1."""
    run = cli_invoker({"USHIRO_DATA_DIR": str(tmp_path / "none")})
    result = run("doctor")
    assert result.exit_code == 1 and "ushiro init" in result.stdout
    assert "Traceback" not in result.output


def test_every_column_naming_a_stored_file_is_known_to_files_gc() -> None:
    """GIVEN the schema WHEN a table keeps the digest of a stored file (a ``sha256``
    column) THEN files gc counts it as a reference, or it would delete what the row
    needs (a quarantined mail's raw bytes were missed once)."""
    from ushiro import domains

    known = set(domains.stored_file_columns())
    named = {(t.name, c.name) for t in domains.tables() for c in t.columns
             if c.name == "sha256"}
    assert named <= known, named - known
