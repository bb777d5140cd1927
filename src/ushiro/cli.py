"""The `ushiro` command. Domain commands live in each package's ``cli`` module and are
named in ``ushiro.domains``; the operations on the whole instance (init, serve, backup,
doctor …) are here."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from ushiro import backup as backup_service
from ushiro import domains, identity
from ushiro.audit import SYSTEM
from ushiro.audit import write_checkpoint as audit_checkpoint
from ushiro.core.cli import (
    DataDir,
    JsonOpt,
    close_runtimes,
    console,
    emit_json,
    open_runtime,
    reporting_errors,
    runtime_for,
    settings_for,
)
from ushiro.core.files import private_dir
from ushiro.core.runtime import Runtime
from ushiro.jobs import Shard
from ushiro.maintenance.cli import doctor as doctor_command
from ushiro.maintenance.cli import files_app
from ushiro.migrations import upgrade

app = typer.Typer(help="Ushiro — 総務・人事・経理の窓口", no_args_is_help=True,
                  pretty_exceptions_enable=False)
for _name, _command in domains.commands():
    if isinstance(_command, typer.Typer):
        app.add_typer(_command, name=_name)
    else:
        app.command(_name)(_command)


@app.callback()
def _every_command(ctx: typer.Context) -> None:
    # Before any command: domains subscribe to the events and jobs they handle, so a mail
    # imported here gets its draft exactly as one received by the server.
    domains.load_hooks()
    ctx.call_on_close(close_runtimes)
app.add_typer(files_app, name="files")
app.command("doctor")(doctor_command)


def _init(data_dir: Path | None, tenant: str | None, name: str | None) -> tuple[Runtime, bool]:
    settings = settings_for(data_dir)
    private_dir(settings.data_dir)
    private_dir(settings.files_dir)
    upgrade(settings.resolved_database_url)
    settings.resolved_secret_key()
    rt = open_runtime(settings)
    # Chains from before audit keys get their first checkpoint now, which fixes how far
    # their unkeyed events may reach (audit/verify.py).
    audit_checkpoint(rt, new_chains_only=True)
    with rt.db.reading() as session:
        has_tenant = identity.first_tenant(session) is not None
    if not has_tenant and tenant:
        identity.create_tenant(rt.db, SYSTEM, tenant, name or tenant)
    return rt, has_tenant


@app.command()
def init(data_dir: DataDir = None,
         tenant: Annotated[str, typer.Option("--tenant", help="最初のテナントの識別子")] = "default",
         name: Annotated[str, typer.Option("--name", help="最初のテナントの会社名")] = "自社",
         json_out: JsonOpt = False) -> None:
    """データディレクトリとデータベースを作成する (何度実行しても安全)。"""
    with reporting_errors():
        rt, existed = _init(data_dir, tenant, name)
    if json_out:
        emit_json({"data_dir": str(rt.settings.data_dir), "created": not existed})
    else:
        typer.echo(f"{rt.settings.data_dir} を初期化しました。" if not existed
                   else f"{rt.settings.data_dir} は初期化済みです(マイグレーションを適用しました)。")


@app.command()
def demo(data_dir: DataDir = None,
         no_serve: Annotated[bool, typer.Option("--no-serve", help="起動せずに終了する")] = False,
         host: str = "127.0.0.1", port: int = 8000) -> None:
    """init + サンプル会社 (2 テナント・20 名・200 件の依頼、規程 7 文書と回答の下書き) を作成し、起動する。"""
    from ushiro.demo import load_demo

    with reporting_errors():
        rt, existed = _init(data_dir, None, None)
        if existed:
            console.print("[yellow]デモデータは既に作成済みです。[/yellow]")
        else:
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          console=console) as progress:
                task = progress.add_task("サンプル会社を作成中", total=None)
                summary = load_demo(rt, lambda done, total: progress.update(
                    task, completed=done, total=total))
            _print_credentials(summary)
    if not no_serve:
        _serve(rt, host, port, workers=1)


def _print_credentials(summary: dict[str, object]) -> None:
    typer.echo("\nデモのログイン情報 (パスワードは全員共通: "
               f"{summary['password']})")
    for user in summary["users"]:  # type: ignore[attr-defined]
        typer.echo(f"  {user['role']:<10} {user['email']:<45} {user['name']}"
                   f"  [{', '.join(user['tenants'])}]")
    typer.echo(f"\nさくら精機の規程: {'、'.join(summary['documents'])}")  # type: ignore[arg-type]
    modes = summary["suggest"]
    assert isinstance(modes, dict)
    shown = [name for name, mode in modes.items() if mode == "suggest"]
    typer.echo(f"自動回答の提示: {'、'.join(shown) or 'なし'} (管理画面の「自動回答」で承認率を確認できます)")


def _serve(rt: Runtime, host: str, port: int, workers: int, jobs_in_process: bool = True) -> None:
    import os

    import uvicorn

    from ushiro.app import create_app, with_job_worker

    logging.basicConfig(level=logging.INFO)
    typer.echo(f"Ushiro を http://{host}:{port}/ で起動します (API: /docs)")
    in_process = jobs_in_process and rt.settings.worker_in_process
    if not in_process:
        typer.echo("ジョブはこのプロセスでは実行しません。`ushiro worker` を別に起動してください。")
    if workers > 1:
        os.environ["USHIRO_DATA_DIR"] = str(rt.settings.data_dir)
        os.environ["USHIRO_WORKER_IN_PROCESS"] = "true" if in_process else "false"
        uvicorn.run("ushiro.app:app_from_env", factory=True, host=host, port=port,
                    workers=workers, log_level="warning", proxy_headers=False)
        return
    app = create_app(rt=rt)
    # proxy_headers=False: uvicorn would believe X-Forwarded-For from loopback; the app
    # believes it only from USHIRO_TRUSTED_PROXIES (web/proxies.py).
    uvicorn.run(with_job_worker(app, rt) if in_process else app, host=host, port=port,
                log_level="warning", proxy_headers=False)


NoJobsOpt = Annotated[bool, typer.Option(
    "--no-jobs", help="ジョブを実行しない Web 専用プロセス (ジョブは `ushiro worker` が実行する)")]


@app.command()
def serve(data_dir: DataDir = None, host: str = "127.0.0.1", port: int = 8000,
          workers: Annotated[int, typer.Option(help="Web プロセス数")] = 1,
          no_jobs: NoJobsOpt = False) -> None:
    """Web 窓口と REST API (/api/v1, /docs) を起動する。"""
    with reporting_errors():
        rt, _ = _init(data_dir, None, None)
    _serve(rt, host, port, workers, jobs_in_process=not no_jobs)


def _shard(text: str) -> Shard:
    try:
        return Shard.parse(text)
    except ValueError:
        raise typer.BadParameter(f"「{text}」は I/N の形 (0 ≦ I < N、例: 0/4) ではありません。") from None


ShardOpt = Annotated[str, typer.Option(
    "--shard", metavar="I/N",
    help="テナント ID を N で割った余りが I のテナントのジョブだけを実行する (テナントのないジョブは 0)")]


@app.command()
def worker(data_dir: DataDir = None,
           once: Annotated[bool, typer.Option("--once", help="一度だけ実行して終了")] = False,
           shard_text: ShardOpt = "0/1") -> None:
    """バックグラウンドジョブ (メール送信、回答の下書きなど) を実行する。SIGTERM/SIGINT で
    実行中のジョブを終えてから止まり、取得済みで未着手のジョブは待ちに戻す。"""
    import signal

    from ushiro import jobs

    shard = _shard(shard_text)
    rt = runtime_for(data_dir)
    if once:
        ok, failed = jobs.run_pending(rt, shard=shard)
        typer.echo(f"成功 {ok} 件、失敗 {failed} 件")
        return
    logging.basicConfig(level=logging.INFO)
    runner = jobs.Worker(rt, shard=shard)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: runner.stop())
    typer.echo(f"ジョブを実行します (シャード {shard})。", err=True)
    runner.run()
    typer.echo(f"停止しました (実行 {runner.ran} 件、待ちに戻したジョブ {runner.released} 件)。",
               err=True)


VerifyOpt = Annotated[bool, typer.Option(
    "--verify", help="作成後、一時的な場所に復元して行数とチェックサムを照合する")]


@app.command()
def backup(target: Path, data_dir: DataDir = None, verify: VerifyOpt = False,
           json_out: JsonOpt = False) -> None:
    """稼働中でも一貫したバックアップ (データベースと添付ファイル) を TARGET に作る。"""
    rt = runtime_for(data_dir)
    with reporting_errors():
        manifest = backup_service.backup(rt, target)
        checked = backup_service.verify_backup(target) if verify else None
    if json_out:
        emit_json({**manifest, "verify": checked} if checked else manifest)
    else:
        rows = sum(manifest["tables"].values())
        typer.echo(f"{target} にバックアップしました({rows} 行、ファイル {manifest['files']} 件)。")
        if checked:
            _print_verified(target, checked)
    if checked and not checked["ok"]:
        raise typer.Exit(1)


def _print_verified(source: Path, checked: dict[str, object]) -> None:
    if checked["ok"]:
        typer.echo(f"{source} は復元できることを確認しました({checked['rows']} 行、"
                   f"ファイル {checked['files']} 件、チェックサム一致)。")
        return
    typer.echo(f"{source} を復元すると内容が一致しません:")
    for problem in checked["problems"]:  # type: ignore[attr-defined]
        typer.echo(f"  {problem}")


@app.command("verify-backup")
def verify_backup(source: Path, json_out: JsonOpt = False) -> None:
    """SOURCE のバックアップを一時的な場所に復元し、行数とチェックサムを照合する (何も変更しない)。"""
    with reporting_errors():
        checked = backup_service.verify_backup(source)
    if json_out:
        emit_json(checked)
    else:
        _print_verified(source, checked)
    if not checked["ok"]:
        raise typer.Exit(1)


@app.command()
def restore(source: Path, data_dir: DataDir = None, json_out: JsonOpt = False) -> None:
    """SOURCE のバックアップを、新しい (空の) データディレクトリに復元する。"""
    with reporting_errors():
        rt = runtime_for(data_dir, require_init=False)
        manifest = backup_service.restore(rt, source)
    if json_out:
        emit_json(manifest)
    else:
        typer.echo(f"{rt.settings.data_dir} に復元しました。")


if __name__ == "__main__":
    app()
