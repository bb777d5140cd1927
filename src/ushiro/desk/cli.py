"""`ushiro mail import|poll|configure`."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress

from ushiro import identity
from ushiro.core.cli import (
    DataDir,
    JsonOpt,
    TenantOpt,
    console,
    emit_json,
    reporting_errors,
    runtime_for,
)
from ushiro.core.runtime import Runtime
from ushiro.desk import mail
from ushiro.desk.choices import MailSecurity
from ushiro.desk.mail import Quarantined

mail_app = typer.Typer(help="メール受付", no_args_is_help=True)


def _import_row(rt: Runtime, tenant_id: int, path: Path) -> tuple[dict[str, Any], str]:
    """One file's JSON row and its outcome: imported, quarantined or failed."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return {"file": str(path), "error": {"code": "io_error", "message": str(exc)}}, "failed"
    result = mail.receive(rt, identity.command_line(tenant_id), data)
    if isinstance(result, Quarantined):
        return {"file": str(path), "quarantined": {"id": result.id, "code": result.code,
                                                  "reason": result.reason}}, "quarantined"
    return {"file": str(path), "request": f"REQ-{result.number}",
            "request_id": result.request_id, "created": result.created,
            "duplicate": result.duplicate}, "imported"


@mail_app.command("import")
def mail_import(files: list[Path], data_dir: DataDir = None, tenant: TenantOpt = None,
                json_out: JsonOpt = False) -> None:
    """.eml ファイルを依頼として取り込む (同じ Message-ID は一度だけ)。

    取り込めないメールは隔離して (管理画面「メール設定」に一覧) 残りを取り込む。
    終了コード: 0 = 全件を取り込みまたは隔離した、1 = 読めないファイルがあった。"""
    rt = runtime_for(data_dir)
    counts = {"imported": 0, "quarantined": 0, "failed": 0}
    with reporting_errors():
        t = identity.resolve_tenant(rt.db, tenant)
    with Progress(console=console, disable=json_out) as progress:
        task = progress.add_task("メールを取り込み中", total=len(files))
        for path in files:
            with reporting_errors():  # the desk's own failure (database down) stops the batch
                row, outcome = _import_row(rt, t.id, path)
            counts[outcome] += 1
            if outcome == "quarantined":
                console.print(f"[yellow]{path}: 隔離しました (#{row['quarantined']['id']}): "
                              f"{row['quarantined']['reason']}[/yellow]")
            elif outcome == "failed":
                console.print(f"[red]{path}: {row['error']['message']}[/red] (io_error)")
            if json_out:
                emit_json(row)
            progress.advance(task)
    if not json_out:
        typer.echo(f"{counts['imported']} 件を取り込みました。隔離 {counts['quarantined']} 件、"
                   f"失敗 {counts['failed']} 件。")
    if counts["failed"]:
        raise typer.Exit(1)


@mail_app.command("poll")
def mail_poll(data_dir: DataDir = None, tenant: TenantOpt = None, json_out: JsonOpt = False,
              loop: Annotated[bool, typer.Option("--loop", help="一定間隔で繰り返す")] = False) -> None:
    """IMAP メールボックスの未読メールを取り込む。"""
    rt = runtime_for(data_dir)
    with reporting_errors():
        t = identity.resolve_tenant(rt.db, tenant)
        while True:
            result = mail.poll(rt, t.id)
            summary = {"imported": sum(1 for r in result.imported if not r.duplicate),
                       "duplicates": sum(1 for r in result.imported if r.duplicate),
                       "quarantined": [{"id": q.id, "code": q.code, "reason": q.reason}
                                       for q in result.quarantined],
                       "errors": result.errors}
            if json_out:
                emit_json(summary)
            else:
                typer.echo(f"取り込み {summary['imported']} 件、重複 {summary['duplicates']} 件、"
                           f"隔離 {len(result.quarantined)} 件")
                for line in result.errors:
                    console.print(f"[yellow]{line}[/yellow]")
            if not loop:
                break
            time.sleep(rt.settings.mail_poll_seconds)


@mail_app.command("configure")
def mail_configure(
    address: Annotated[str, typer.Option("--address", help="窓口アドレス (返信の From)")] = "",
    imap_host: Annotated[str, typer.Option()] = "",
    imap_port: Annotated[int, typer.Option()] = 993,
    imap_security: Annotated[MailSecurity, typer.Option()] = MailSecurity.SSL,
    imap_user: Annotated[str, typer.Option()] = "",
    imap_folder: Annotated[str, typer.Option()] = "INBOX",
    smtp_host: Annotated[str, typer.Option()] = "",
    smtp_port: Annotated[int, typer.Option()] = 587,
    smtp_security: Annotated[MailSecurity, typer.Option()] = MailSecurity.STARTTLS,
    smtp_user: Annotated[str, typer.Option()] = "",
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="1行目: IMAP パスワード, 2行目: SMTP パスワード")] = False,
    data_dir: DataDir = None, tenant: TenantOpt = None,
) -> None:
    """テナントのメールボックス (IMAP/SMTP) を設定する。"""
    lines = sys.stdin.read().splitlines() if password_stdin else []
    rt = runtime_for(data_dir)
    with reporting_errors():
        t = identity.resolve_tenant(rt.db, tenant)
        data = mail.MailAccountIn(
            address=address, imap_host=imap_host, imap_port=imap_port,
            imap_security=imap_security, imap_user=imap_user, imap_folder=imap_folder,
            imap_password=lines[0] if lines else None, smtp_host=smtp_host,
            smtp_port=smtp_port, smtp_security=smtp_security, smtp_user=smtp_user,
            smtp_password=lines[1] if len(lines) > 1 else None)
        mail.save_account(rt, identity.command_line(t.id), data)
    typer.echo(f"{t.name} のメール設定を保存しました。")
