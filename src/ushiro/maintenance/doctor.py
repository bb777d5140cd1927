"""`ushiro doctor`: the data directory, database, keys, file store and audit chain in one go.

Each check is ``ok``, ``warn`` (worth a look, nothing broken: orphaned files) or ``fail``
(exit status 1): unsafe permissions, an unreachable or unmigrated database, no secret
key, files rows name but the store lacks, an audit chain or checkpoint that fails. The
job queue is reported (backlog, oldest unfinished job) and is at most a warning: failed
jobs, jobs whose worker died (lease over), or a job waiting longer than
``JOBS_LATE_SECONDS`` (no worker running, or too few).
"""

from __future__ import annotations

import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import make_url, text
from sqlalchemy.exc import SQLAlchemyError

from ushiro.audit import CHECKPOINT_FILE, KEY_FILE, verify_instance
from ushiro.core.runtime import Runtime
from ushiro.jobs import Backlog, backlog
from ushiro.maintenance import files_gc
from ushiro.migrations import config

OK, WARN, FAIL = "ok", "warn", "fail"
JOBS_LATE_SECONDS = 600


@dataclass
class Check:
    name: str
    status: str
    message: str
    blocking: bool = False  # the checks after it cannot run


def _loose(path: Path) -> bool:
    return path.exists() and bool(stat.S_IMODE(path.stat().st_mode) & 0o077)


def _private_files(rt: Runtime) -> list[Path]:
    data = rt.settings.data_dir
    paths = [data / "secret.key", data / KEY_FILE, data / CHECKPOINT_FILE]
    database = make_url(rt.settings.resolved_database_url).database
    if rt.settings.is_sqlite and database:
        paths += [Path(database + suffix) for suffix in ("", "-wal", "-shm")]
    if rt.settings.files_dir.exists():
        paths.append(rt.settings.files_dir)
        paths += sorted(rt.settings.files_dir.rglob("*"))
    return paths


def check_data_dir(rt: Runtime) -> Check:
    data = rt.settings.data_dir
    if not data.is_dir():
        return Check("data_dir", FAIL, f"データディレクトリ {data} がありません。`ushiro init` を実行してください。")
    loose = [p for p in [data, *_private_files(rt)] if _loose(p)]
    if loose:
        shown = "、".join(str(p) for p in loose[:5]) + (" ほか" if len(loose) > 5 else "")
        return Check("data_dir", FAIL, f"所有者以外も読める状態です (0700/0600 にしてください): {shown}")
    return Check("data_dir", OK, f"{data} は所有者だけが読めます。")


def check_database(rt: Runtime) -> Check:
    head = ScriptDirectory.from_config(config(rt.settings.resolved_database_url)).get_current_head()
    try:
        with rt.db.engine.connect() as conn:
            current = conn.scalar(text("SELECT version_num FROM alembic_version"))
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", error)).splitlines()[0][:200]
        return Check("database", FAIL, f"データベースに接続できないか、未初期化です: {reason}",
                     blocking=True)
    if current != head:
        return Check("database", FAIL, f"マイグレーションが最新ではありません (現在 {current}、最新 {head})。"
                                       "`ushiro init` で適用してください。")
    return Check("database", OK, f"データベースに接続でき、最新のスキーマ ({head}) です。")


def check_secret_key(rt: Runtime) -> Check:
    path = rt.settings.data_dir / "secret.key"
    if rt.settings.secret_key or (path.is_file() and path.read_text().strip()):
        return Check("secret_key", OK, "秘密鍵があります。")
    return Check("secret_key", FAIL, f"秘密鍵がありません (USHIRO_SECRET_KEY か {path})。")


def check_files(rt: Runtime) -> Check:
    report = files_gc.inspect(rt)
    if report.missing:
        shown = "、".join(d[:12] for d in report.missing[:5])
        return Check("files", FAIL, f"データベースが参照する {len(report.missing)} 件のファイルが"
                                    f"ファイル置き場にありません: {shown}")
    if report.orphans or report.partials:
        return Check("files", WARN, f"どこからも参照されないファイル {len(report.orphans)} 件、"
                                    f"書きかけのファイル {len(report.partials)} 件があります。"
                                    "`ushiro files gc --delete` で削除できます。")
    return Check("files", OK, "参照されるファイルはすべてあり、不要なファイルもありません。")


def check_audit(rt: Runtime) -> Check:
    report = verify_instance(rt)
    if not report.ok:
        kinds = "、".join(sorted({p.kind for p in report.problems}))
        return Check("audit", FAIL, f"監査ログに {len(report.problems)} 件の問題があります ({kinds})。"
                                    "`ushiro audit verify` で詳細を確認してください。")
    if report.events and not (rt.settings.data_dir / CHECKPOINT_FILE).exists():
        return Check("audit", WARN, "監査ログは正常ですが、チェックポイントがありません。"
                                    "`ushiro audit checkpoint` を実行してください。")
    return Check("audit", OK, f"監査ログは正常です({report.events} 件、チェックポイントと一致)。")


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "なし"
    if seconds < 120:
        return f"{seconds:.0f} 秒前"
    if seconds < 7200:
        return f"{seconds / 60:.0f} 分前"
    return f"{seconds / 3600:.1f} 時間前"


def _jobs_problems(found: Backlog) -> list[str]:
    problems = []
    if found.stranded:
        problems.append(f"実行中のまま期限切れのジョブが {found.stranded} 件あります"
                        "(ワーカーが異常終了しました。別のワーカーが引き継ぎます)")
    if found.failed:
        problems.append(f"失敗したジョブが {found.failed} 件あります(管理画面の"
                        "「バックグラウンド処理」で内容を確認できます)")
    age = found.oldest_age_seconds
    if age is not None and age > JOBS_LATE_SECONDS:
        problems.append("待ちが長くなっています。`ushiro worker` が動いているか、"
                        "数が足りているか確認してください")
    return problems


def check_jobs(rt: Runtime) -> Check:
    with rt.db.reading() as session:
        found = backlog(session)
    summary = (f"待ち {found.pending} 件・実行中 {found.running} 件・失敗 {found.failed} 件、"
               f"最も古い未完了ジョブ: {age_text(found.oldest_age_seconds)}")
    problems = _jobs_problems(found)
    if problems:
        return Check("jobs", WARN, f"{summary}。" + "。".join(problems) + "。")
    return Check("jobs", OK, f"{summary}。")


CHECKS: tuple[Callable[[Runtime], Check], ...] = (
    check_data_dir, check_database, check_secret_key, check_files, check_audit, check_jobs)


def run(rt: Runtime) -> list[Check]:
    """Every check; the ones that need the database are skipped when it fails."""
    results: list[Check] = []
    for check in CHECKS:
        if check in (check_files, check_audit, check_jobs) and any(r.blocking for r in results):
            results.append(Check(check.__name__.removeprefix("check_"), FAIL,
                                 "データベースが使えないため確認できません。"))
            continue
        results.append(check(rt))
    return results


def as_dict(results: list[Check]) -> dict[str, Any]:
    return {"ok": all(r.status != FAIL for r in results),
            "checks": [{"name": r.name, "status": r.status, "message": r.message}
                       for r in results]}
