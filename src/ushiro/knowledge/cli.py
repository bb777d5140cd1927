"""`ushiro kb add|remove|embed|search|warm|list|synonyms|synonym-add|synonym-remove`."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

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
from ushiro.core.errors import UshiroError, invalid
from ushiro.core.runtime import Runtime
from ushiro.identity import Role
from ushiro.knowledge import ingest, queries, retrieval
from ushiro.knowledge.choices import DocumentKind
from ushiro.knowledge.ingest.extract import check_size, decode_text
from ushiro.knowledge.schemas import DocumentIn, SearchHit, parse_kind

kb_app = typer.Typer(help="ナレッジ (規程・FAQ) の登録と検索", no_args_is_help=True)


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid("effective_date", "施行日は YYYY-MM-DD で指定してください (例: 2026-04-01)。"
                      ) from None


def _add_one(rt: Runtime, tenant_id: int, path: Path, doc: DocumentIn) -> list[dict[str, Any]]:
    """One row per document the file became (several for a file of several rule sets)."""
    try:
        check_size(path.name, path.stat().st_size, rt.settings.max_document_bytes)
        doc = replace(doc, filename=path.name, data=path.read_bytes())
        results = ingest.add_file(rt, identity.command_line(tenant_id), doc)
        return [{"file": str(path), **result.as_dict()} for result in results]
    except (UshiroError, OSError) as exc:
        message = exc.message if isinstance(exc, UshiroError) else f"読み込めません: {exc}"
        code = str(exc.code) if isinstance(exc, UshiroError) else "io_error"
        console.print(f"[red]{path}: {message}[/red] ({code})")
        return [{"file": str(path), "error": {"code": code, "message": message}}]


def _kind(kind: str | None, reference: bool, faq: bool) -> DocumentKind | None:
    chosen = [k for k, on in ((DocumentKind.REFERENCE, reference), (DocumentKind.FAQ, faq)) if on]
    if kind is not None:
        chosen.append(parse_kind(kind))
    if len(set(chosen)) > 1:
        raise invalid("kind", "文書の種類は --kind, --reference, --faq のどれか 1 つで"
                      "指定してください。")
    return chosen[0] if chosen else None


@kb_app.command("add")
def kb_add(
    paths: Annotated[list[Path], typer.Argument(help="md, txt, html, pdf, docx")],
    title: Annotated[str | None, typer.Option("--title", help="表示名 (既定: ファイル名)")] = None,
    effective_date: Annotated[str | None, typer.Option("--effective-date",
                                                       help="施行日 YYYY-MM-DD")] = None,
    restrict_role: Annotated[Role | None, typer.Option(
        "--restrict-role", help="この役割以上だけが検索できる")] = None,
    restrict_department: Annotated[list[str] | None, typer.Option(
        "--restrict-department", help="この部門の担当者だけが検索できる (複数可)")] = None,
    kind: Annotated[str | None, typer.Option(
        "--kind", help="文書の種類: company (社内規程, 既定), reference (参考資料), faq")] = None,
    reference: Annotated[bool, typer.Option(
        "--reference", help="参考資料 (モデル就業規則・行政の手引き・解説) として取り込む。"
        "社内規程より上位には並ばない")] = False,
    faq: Annotated[bool, typer.Option("--faq", help="FAQ として取り込む")] = False,
    data_dir: DataDir = None, tenant: TenantOpt = None, json_out: JsonOpt = False,
) -> None:
    """文書を取り込む。同じ名前のファイルを再登録すると新しい版になる。複数の規程
    (# 就業規則 … # 賃金規程 …) を含むファイルは規程ごとの文書になる。"""
    rt = runtime_for(data_dir)
    with reporting_errors():
        if title and len(paths) > 1:
            raise invalid("title", "--title はファイルを 1 つだけ指定するときに使えます。")
        t = identity.resolve_tenant(rt.db, tenant)
        template = DocumentIn("", b"", title=title, effective_date=_date(effective_date),
                              min_role=restrict_role, departments=restrict_department or None,
                              kind=_kind(kind, reference, faq))
    rows = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console) as progress:
        task = progress.add_task("文書を取り込み中", total=len(paths))
        for path in paths:
            rows.extend(_add_one(rt, t.id, path, template))
            progress.advance(task)
    failed = sum(1 for row in rows if "error" in row)
    added = len({row["file"] for row in rows if "error" not in row})
    if json_out:
        emit_json({"documents": rows})
    else:
        for row in rows:
            if "error" not in row:
                typer.echo(f"{row['file']}: {row['document']} 第{row['version']}版 "
                           f"[{DocumentKind(row['kind']).label}] "
                           f"({row['passages']} 件の段落, {row['status']})")
        typer.echo(f"{added} 件を取り込みました。失敗 {failed} 件。")
    if failed:
        raise typer.Exit(1)


@kb_app.command("remove")
def kb_remove(name: Annotated[str, typer.Argument(help="文書の名前 (`ushiro kb list --json` の name)")],
              data_dir: DataDir = None, tenant: TenantOpt = None,
              json_out: JsonOpt = False) -> None:
    """文書を検索対象から外す。版は残り、同じ名前で再登録すると次の版として戻る。"""
    rt = runtime_for(data_dir)
    with reporting_errors():
        t = identity.resolve_tenant(rt.db, tenant)
        result = ingest.retire_document(rt, identity.command_line(t.id), name=name)
    if json_out:
        emit_json(result.as_dict())
    else:
        typer.echo(f"{result.title} (第{result.version}版) を検索対象から外しました。")


@kb_app.command("embed")
def kb_embed(data_dir: DataDir = None, tenant: TenantOpt = None,
             json_out: JsonOpt = False) -> None:
    """埋め込みモデル (USHIRO_EMBEDDING_MODEL_DIR) のベクトルを事前に計算して保存する。
    モデルを設定した後に一度実行すると、最初の検索で待たされない。"""
    rt = runtime_for(data_dir)
    with reporting_errors():
        t = identity.resolve_tenant(rt.db, tenant)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      console=console, disable=json_out) as progress:
            task = progress.add_task("パッセージを埋め込み中", total=None)

            def advance(done: int, total: int) -> None:
                progress.update(task, completed=done, total=total)

            passages, embedded = retrieval.embed_passages(rt, identity.command_line(t.id), advance)
    if json_out:
        emit_json({"passages": passages, "embedded": embedded})
    else:
        typer.echo(f"検索対象のパッセージ {passages:,} 件のうち {embedded:,} 件を埋め込みました"
                   f" (残りは保存済み)。")


def _print_hits(hits: list[SearchHit]) -> None:
    if not hits:
        typer.echo("  該当する箇所はありません。")
    for rank, hit in enumerate(hits, start=1):
        snippet = " ".join(hit.text.split())[:100]
        typer.echo(f"{rank:>2}. [{hit.score:.3f}] {hit.document} (第{hit.version}版) "
                   f"{hit.section}\n    {snippet}")


def _queries(path: Path) -> list[str]:
    try:
        text = decode_text(path.read_bytes())
    except OSError as exc:
        raise invalid("queries", f"{path} を読み込めません: {exc}") from exc
    return [line.strip() for line in text.splitlines() if line.strip()]


@kb_app.command("search")
def kb_search(
    query: Annotated[str | None, typer.Argument(help="検索語・質問")] = None,
    k: Annotated[int, typer.Option("-k", help="件数")] = 5,
    queries: Annotated[Path | None, typer.Option(
        "--queries", help="1 行 1 件の質問ファイル (空行は無視); --json で JSON Lines")] = None,
    data_dir: DataDir = None, tenant: TenantOpt = None, json_out: JsonOpt = False,
) -> None:
    """規程・FAQ から該当箇所を探す。"""
    rt = runtime_for(data_dir)
    with reporting_errors():
        if (query is None) == (queries is None):
            raise invalid("query", "検索語か --queries FILE のどちらか一方を指定してください。")
        t = identity.resolve_tenant(rt.db, tenant)
        items = [query] if query is not None else _queries(queries)  # type: ignore[arg-type]
        for text, hits in retrieval.search_many(rt, identity.command_line(t.id), items, k=k):
            if json_out and queries is not None:
                emit_json({"query": text, "hits": [hit.as_json() for hit in hits]})
            elif json_out:
                emit_json({"hits": [hit.as_json() for hit in hits]})
            else:
                if queries is not None:
                    typer.echo(f"■ {text}")
                _print_hits(hits)


@kb_app.command("warm")
def kb_warm(
    all_tenants: Annotated[bool, typer.Option("--all", help="すべてのテナント")] = False,
    data_dir: DataDir = None, tenant: TenantOpt = None, json_out: JsonOpt = False,
) -> None:
    """検索インデックスを作成・保存する (デプロイや更新の後、最初の検索を速くする)。"""
    rt = runtime_for(data_dir)
    with reporting_errors():
        if all_tenants and tenant:
            raise invalid("tenant", "--tenant と --all はどちらか一方を指定してください。")
        if all_tenants:
            with rt.db.reading() as session:
                chosen = [(t.id, t.slug) for t in identity.all_tenants(session)]
        else:
            t = identity.resolve_tenant(rt.db, tenant)
            chosen = [(t.id, t.slug)]
        rows = _warm(rt, chosen, quiet=json_out)
        if json_out:
            emit_json({"tenants": rows})


def _warm(rt: Runtime, chosen: list[tuple[int, str]], quiet: bool) -> list[dict[str, Any]]:
    rows = []
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console, disable=quiet) as progress:
        task = progress.add_task("インデックス作成", total=len(chosen))
        for tenant_id, slug in chosen:
            passages = retrieval.warm(rt, identity.command_line(tenant_id))
            rows.append({"tenant": slug, "passages": passages})
            progress.advance(task)
    if not quiet:
        console.print(f"{len(rows)} テナントの検索インデックスを用意しました。")
    return rows


@kb_app.command("list")
def kb_list(data_dir: DataDir = None, tenant: TenantOpt = None,
            json_out: JsonOpt = False) -> None:
    """登録済みの文書 (現在の版) を一覧する。"""
    rt = runtime_for(data_dir)
    with reporting_errors():
        t = identity.resolve_tenant(rt.db, tenant)
        documents = queries.list_documents(rt, identity.command_line(t.id))
    if json_out:
        emit_json({"documents": [d.as_dict() for d in documents]})
        return
    for d in documents:
        limits = ", ".join(filter(None, [d.min_role or "", *d.departments]))
        typer.echo(f"{d.title} 第{d.version}版 [{d.kind.label}] ({d.source_filename}, "
                   f"{d.passages} 件)" + (f" [制限: {limits}]" if limits else ""))


@kb_app.command("synonyms")
def kb_synonyms(data_dir: DataDir = None, tenant: TenantOpt = None,
                json_out: JsonOpt = False) -> None:
    """テナントの同義語 (正規の語 ← 言い換え) を一覧する。"""
    rt = runtime_for(data_dir)
    with reporting_errors():
        t = identity.resolve_tenant(rt.db, tenant)
        table = retrieval.synonyms(rt, identity.command_line(t.id))
    if json_out:
        emit_json({"synonyms": table})
        return
    for canonical, variants in table.items():
        typer.echo(f"{canonical}\t{'|'.join(variants)}")


def _edit(canonical: str, variants: list[str], remove: bool, data_dir: Path | None,
          tenant: str | None) -> None:
    rt = runtime_for(data_dir)
    with reporting_errors():
        t = identity.resolve_tenant(rt.db, tenant)
        count = retrieval.edit_synonyms(rt, identity.command_line(t.id), canonical, variants, remove=remove)
    typer.echo(f"{count} 件の同義語を{'削除' if remove else '追加'}しました。")


@kb_app.command("synonym-add")
def kb_synonym_add(canonical: str, variants: list[str], data_dir: DataDir = None,
                   tenant: TenantOpt = None) -> None:
    """同義語を追加する: 例 `ushiro kb synonym-add 年次有給休暇 有給 有休`。"""
    _edit(canonical, variants, False, data_dir, tenant)


@kb_app.command("synonym-remove")
def kb_synonym_remove(canonical: str,
                      variants: Annotated[list[str] | None, typer.Argument()] = None,
                      data_dir: DataDir = None, tenant: TenantOpt = None) -> None:
    """同義語を削除する (言い換えを省くと、その正規の語の行をすべて削除)。"""
    _edit(canonical, variants or [], True, data_dir, tenant)
