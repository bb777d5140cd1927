"""`ushiro audit verify` and `ushiro audit checkpoint`."""

from __future__ import annotations

from typing import Annotated

import typer

from ushiro.audit.schemas import VerifyReport
from ushiro.audit.verify import checkpoint, verify_instance
from ushiro.core.cli import DataDir, JsonOpt, emit_json, runtime_for

audit_app = typer.Typer(help="監査ログ", no_args_is_help=True)


def _print_problems(report: VerifyReport) -> None:
    typer.echo(f"監査ログに {len(report.problems)} 件の問題があります:")
    for p in report.problems:
        where = "チェックポイントファイル" if p.chain < 0 else f"チェーン {p.chain} 連番 {p.seq}"
        typer.echo(f"  {where}: [{p.kind}] {p.message}")


@audit_app.command("verify")
def audit_verify(data_dir: DataDir = None, json_out: JsonOpt = False) -> None:
    """監査ログのハッシュチェーンを監査鍵とチェックポイントで検証し、改ざん・挿入・削除を報告する。"""
    rt = runtime_for(data_dir)
    report = verify_instance(rt)
    if json_out:
        emit_json(report.as_dict())
    elif report.ok:
        typer.echo(f"監査ログは正常です({report.events} 件、{report.chains} チェーン)。")
    else:
        _print_problems(report)
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    data_dir: DataDir = None,
    print_heads: Annotated[bool, typer.Option(
        "--print", help="記録した各チェーンの末尾を表示する (外部に控えるため)")] = False,
    json_out: JsonOpt = False,
) -> None:
    """検証に成功したら、各チェーンの末尾をチェックポイントファイルに追記する (cron 向け)。"""
    rt = runtime_for(data_dir)
    report, written = checkpoint(rt)
    heads = [{"chain": c, "seq": s, "hash": h} for c, (s, h, _) in sorted(report.tails.items())]
    if json_out:
        emit_json({"ok": report.ok, "written": written, "heads": heads,
                   "problems": report.as_dict()["problems"]})
    elif not report.ok:
        _print_problems(report)
        typer.echo("問題があるため、チェックポイントを書きませんでした。")
    else:
        typer.echo(f"{written} チェーンの末尾をチェックポイントに記録しました。")
        if print_heads:
            for head in heads:
                typer.echo(f"chain={head['chain']} seq={head['seq']} hash={head['hash']}")
    if not report.ok:
        raise typer.Exit(1)
