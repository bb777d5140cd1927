"""`ushiro backup` while the server takes requests; `ushiro restore` into a fresh place."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "mail"
USHIRO = [sys.executable, "-m", "ushiro.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_up(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited early")
        try:
            if httpx.get(f"{base}/login", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def _rows(url: str, table: str) -> list[dict[str, object]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1")).mappings()]
    engine.dispose()
    return rows


def _writer(base: str, token: str, stop: threading.Event, acked: list[int]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as client:
        n = 0
        while not stop.is_set() and n < 2000:
            n += 1
            r = client.post("/api/v1/requests", json={"title": f"備品の発注 {n}",
                                                      "body": f"コピー用紙を{n}箱お願いします。"})
            if r.status_code == 201:
                acked.append(r.json()["id"])


def test_backup_while_serving_then_restore(ushiro, cli_env, tmp_path, db_url_factory) -> None:
    """GIVEN a running desk receiving requests WHEN a backup is taken mid-load and restored
    into a new data directory and database THEN the restored desk holds exactly the snapshot:
    same rows, same files, a valid audit chain, and it keeps working."""
    ushiro("init", "--tenant", "sakura")
    ushiro("user", "add", "emp@example.co.jp", "--name", "社員", "--role", "admin")
    token = ushiro("token", "create", "emp@example.co.jp").stdout.strip()
    imported = ushiro("mail", "import", str(FIXTURES / "utf8_attachment.eml"))
    assert imported.exit_code == 0, imported.output
    port = _free_port()
    env = {**os.environ, **cli_env}
    proc = subprocess.Popen([*USHIRO, "serve", "--port", str(port)], env=env,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    stop, acked = threading.Event(), []
    try:
        _wait_up(base, proc)
        writer = threading.Thread(target=_writer, args=(base, token, stop, acked))
        writer.start()
        time.sleep(1.0)
        backup_dir = tmp_path / "backup"
        result = subprocess.run([*USHIRO, "backup", str(backup_dir), "--json"], env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        time.sleep(0.5)
        stop.set()
        writer.join(timeout=30)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    manifest = json.loads(result.stdout)
    assert 0 < manifest["tables"]["requests"] < len(acked) + 1
    assert manifest["files"] >= 1

    new_url = db_url_factory.new_url(migrate=False)
    new_env = {**env, "USHIRO_DATA_DIR": str(tmp_path / "restored"), "USHIRO_DATABASE_URL": new_url}
    restored = subprocess.run([*USHIRO, "restore", str(backup_dir)], env=new_env,
                              capture_output=True, text=True, timeout=120)
    assert restored.returncode == 0, restored.stderr

    for table, count in manifest["tables"].items():
        lines = (backup_dir / "db" / f"{table}.jsonl").read_text(encoding="utf-8").splitlines()
        assert len(_rows(new_url, table)) == count == len(lines)
    source_requests = {r["id"]: r for r in _rows(cli_env["USHIRO_DATABASE_URL"], "requests")}
    for row in _rows(new_url, "requests"):
        assert source_requests[row["id"]]["title"] == row["title"]
        assert source_requests[row["id"]]["body"] == row["body"]
    for att in _rows(new_url, "attachments"):
        sha = str(att["sha256"])
        data = (tmp_path / "restored" / "files" / sha[:2] / sha[2:]).read_bytes()
        assert len(data) == att["size"]

    verify = subprocess.run([*USHIRO, "audit", "verify", "--json"], env=new_env,
                            capture_output=True, text=True, timeout=60)
    assert json.loads(verify.stdout)["ok"] is True, verify.stdout

    port2 = _free_port()
    proc2 = subprocess.Popen([*USHIRO, "serve", "--port", str(port2)], env=new_env,
                             start_new_session=True)
    try:
        base2 = f"http://127.0.0.1:{port2}"
        _wait_up(base2, proc2)
        headers = {"Authorization": f"Bearer {token}"}
        created = httpx.post(f"{base2}/api/v1/requests", headers=headers, timeout=10,
                             json={"title": "復元後の依頼", "body": "動作確認です。"})
        assert created.status_code == 201, created.text
        assert created.json()["number"] == manifest["tables"]["requests"] + 1
    finally:
        os.killpg(proc2.pid, signal.SIGTERM)
        proc2.wait(timeout=30)


def test_restore_refuses_a_non_empty_target(ushiro, cli_env, tmp_path) -> None:
    ushiro("init", "--tenant", "sakura")
    backup = ushiro("backup", str(tmp_path / "b"))
    assert backup.exit_code == 0, backup.output
    again = ushiro("backup", str(tmp_path / "b"))
    assert again.exit_code == 2 and "空ではありません" in again.output
    refused = ushiro("restore", str(tmp_path / "b"))
    assert refused.exit_code == 2 and "空ではありません" in refused.output
