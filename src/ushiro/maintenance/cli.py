"""`ushiro files gc` and `ushiro doctor`."""

from __future__ import annotations

from typing import Annotated

import typer

from ushiro.core.cli import DataDir, JsonOpt, emit_json, runtime_for
from ushiro.maintenance import doctor as doctor_checks
from ushiro.maintenance import files_gc

files_app = typer.Typer(help="ファイル置き場", no_args_is_help=True)
_MARK = {"ok": "✓", "warn": "!", "fail": "✗"}


@files_app.command("gc")
def files_gc_command(
    data_dir: DataDir = None,
    delete: Annotated[bool, typer.Option(
        "--delete", help="一覧するだけでなく削除する (既定は一覧のみ)")] = False,
    older_than: Annotated[int, typer.Option(
        "--older-than-minutes", min=1, help="これより新しいファイルは残す (書き込み中の可能性)")]
        = files_gc.GRACE_MINUTES,
    json_out: JsonOpt = False,
) -> None:
    """どの行からも参照されないファイルと書きかけの .tmp-* を一覧し、--delete で削除する。"""
    rt = runtime_for(data_dir)
    report = files_gc.collect(rt, delete=delete, grace_minutes=older_than)
    if json_out:
        emit_json({"deleted": delete, **report.as_dict()})
        return
    for path in [*report.orphans, *report.partials]:
        typer.echo(f"{'削除' if delete else '不要'}: {path}")
    found = len(report.orphans) + len(report.partials)
    if delete:
        typer.echo(f"{report.removed} 件 ({report.freed_bytes} バイト) を削除しました。")
    else:
        typer.echo(f"不要なファイルは {found} 件です (新しい {report.young} 件は対象外)。"
                   + ("`--delete` で削除します。" if found else ""))


def doctor(data_dir: DataDir = None, json_out: JsonOpt = False) -> None:
    """データディレクトリ・データベース・秘密鍵・ファイル置き場・監査ログをまとめて点検する。"""
    rt = runtime_for(data_dir, require_init=False)
    try:
        results = doctor_checks.run(rt)
    finally:
        rt.db.dispose()
    summary = doctor_checks.as_dict(results)
    if json_out:
        emit_json(summary)
    else:
        for r in results:
            typer.echo(f"{_MARK[r.status]} {r.name}: {r.message}")
        typer.echo("問題はありません。" if summary["ok"] else "問題があります。")
    if not summary["ok"]:
        raise typer.Exit(1)
