"""Shared command-line plumbing: common options, the runtime, errors, JSON output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from ushiro.core.errors import UshiroError
from ushiro.core.runtime import Runtime
from ushiro.core.settings import Settings

console = Console(stderr=True)
DataDir = Annotated[Path | None, typer.Option("--data-dir", envvar="USHIRO_DATA_DIR",
                                              help="データディレクトリ (既定: ./ushiro-data)")]
TenantOpt = Annotated[str | None, typer.Option("--tenant", help="テナント (既定: 最初のテナント)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="JSON で出力する")]
F = TypeVar("F", bound=Callable[..., Any])


def settings_for(data_dir: Path | None) -> Settings:
    if data_dir is None:
        return Settings()
    return Settings(data_dir=data_dir)


_OPENED: list[Runtime] = []


def open_runtime(settings: Settings) -> Runtime:
    """A runtime whose database is closed when the command ends (:func:`close_runtimes`):
    commands also run in-process (tests, the demo), where a pool left open leaks."""
    rt = Runtime.from_settings(settings)
    _OPENED.append(rt)
    return rt


def close_runtimes() -> None:
    while _OPENED:
        _OPENED.pop().db.dispose()


def runtime_for(data_dir: Path | None, *, require_init: bool = True) -> Runtime:
    settings = settings_for(data_dir)
    db_file = settings.data_dir / "ushiro.db"
    if require_init and settings.database_url is None and not db_file.exists():
        console.print(f"[red]データディレクトリ {settings.data_dir} が初期化されていません。"
                      "先に `ushiro init` を実行してください。[/red] (not_initialised)")
        raise typer.Exit(2)
    return open_runtime(settings)


@contextmanager
def reporting_errors() -> Iterator[None]:
    """UshiroError → a Japanese message plus its code on stderr, exit status 2."""
    try:
        yield
    except UshiroError as error:
        where = f" [{error.field}]" if error.field else ""
        console.print(f"[red]エラー{where}: {error.message}[/red] ({error.code})")
        raise typer.Exit(2) from error


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()
