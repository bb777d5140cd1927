"""`ushiro answers mode CATEGORY MODE` and `ushiro answers modes`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ushiro import identity
from ushiro.answers import selfservice, service
from ushiro.answers.choices import AutomationMode
from ushiro.answers.schemas import AutomationOut
from ushiro.core.cli import (
    DataDir,
    JsonOpt,
    TenantOpt,
    console,
    emit_json,
    reporting_errors,
    runtime_for,
)
from ushiro.knowledge import DraftResult

answers_app = typer.Typer(help="回答の下書きと自動回答 (カテゴリごとのセルフサービス)",
                          no_args_is_help=True)


def _line(row: AutomationOut) -> str:
    rate = "-" if row.acceptance is None else f"{row.acceptance:.1%}"
    return (f"{row.department} / {row.category}: {row.mode.value}  "
            f"レビュー {row.reviewed}/{row.window} 件、承認率 {rate} (必要 {row.threshold:.0%})")


@answers_app.command("mode")
def set_mode(category: Annotated[str, typer.Argument(help="カテゴリ名または ID")],
             mode: Annotated[AutomationMode, typer.Argument(help="draft_only | suggest | auto_send")],
             data_dir: DataDir = None, tenant: TenantOpt = None, json_out: JsonOpt = False) -> None:
    """カテゴリの回答モードを設定する (suggest/auto_send は承認率の条件を満たすときだけ)。"""
    rt = runtime_for(data_dir)
    with reporting_errors():
        t = identity.resolve_tenant(rt.db, tenant)
        category_id = selfservice.resolve_category(rt, t.id, category)
        row = selfservice.set_mode(rt, identity.command_line(t.id), category_id, mode)
    if json_out:
        emit_json(row.model_dump(mode="json"))
    else:
        typer.echo(_line(row))


@answers_app.command("modes")
def list_modes(data_dir: DataDir = None, tenant: TenantOpt = None,
               json_out: JsonOpt = False) -> None:
    """カテゴリごとの回答モード、レビュー件数、承認率を表示する。"""
    rt = runtime_for(data_dir)
    with reporting_errors():
        t = identity.resolve_tenant(rt.db, tenant)
        rows = selfservice.overview(rt, identity.command_line(t.id))
    if json_out:
        emit_json({"categories": [r.model_dump(mode="json") for r in rows]})
    else:
        for row in rows:
            typer.echo(_line(row))


def _draft_json(result: DraftResult) -> dict[str, object]:
    return {"answer": result.answer, "abstained": result.abstained,
            "citations": [{"document": c.document, "section": c.section, "version": c.version}
                          for c in result.citations]}


def draft(question: Annotated[str | None, typer.Argument(help="質問文")] = None,
          questions: Annotated[Path | None, typer.Option(
              "--questions", help="1行1問のファイル (JSON Lines で出力)")] = None,
          k: Annotated[int, typer.Option("-k", help="参照する条文の数")] = 5,
          data_dir: DataDir = None, tenant: TenantOpt = None, json_out: JsonOpt = False) -> None:
    """社内規程から、出典つきの回答案を作る (根拠がなければ回答を控える)。"""
    if (question is None) == (questions is None):
        console.print("[red]質問文か --questions FILE のどちらか一方を指定してください。[/red]"
                      " (validation_error)")
        raise typer.Exit(2)
    rt = runtime_for(data_dir)
    with reporting_errors():
        t = identity.resolve_tenant(rt.db, tenant)
        if questions is not None:
            asked = [line.strip() for line in questions.read_text("utf-8").splitlines()
                     if line.strip()]
        else:
            asked = [question or ""]
        results = service.draft_questions(rt, identity.command_line(t.id), asked, k=k)
    for result in results:
        if json_out:
            emit_json(_draft_json(result))
        else:
            typer.echo(result.answer)
            for c in result.citations:
                typer.echo(f"  根拠: {c.document} {c.section}(第{c.version}版)")
