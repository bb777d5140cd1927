"""`ushiro audit verify`."""

from __future__ import annotations

import typer

from ushiro.audit.service import verify
from ushiro.core.cli import DataDir, JsonOpt, emit_json, runtime_for

audit_app = typer.Typer(help="監査ログ", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(data_dir: DataDir = None, json_out: JsonOpt = False) -> None:
    """監査ログのハッシュチェーンを検証し、改ざん・挿入・削除を報告する。"""
    rt = runtime_for(data_dir)
    with rt.db.reading() as session:
        report = verify(session)
    if json_out:
        emit_json(report.as_dict())
    elif report.ok:
        typer.echo(f"監査ログは正常です({report.events} 件、{report.chains} チェーン)。")
    else:
        typer.echo(f"監査ログに {len(report.problems)} 件の問題があります:")
        for p in report.problems:
            typer.echo(f"  チェーン {p.chain} 連番 {p.seq}: [{p.kind}] {p.message}")
    if not report.ok:
        raise typer.Exit(1)
