"""Running the `ushiro` command in-process from tests (shared by several test folders)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from ushiro.cli import app


def cli_invoker(env: dict[str, str]) -> Callable[..., Any]:
    """`run(*args, input=None)` runs `ushiro ARGS…` in-process with ``env`` set for the
    call only (Settings read the environment), restoring the environment afterwards."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Any:
        old = {k: os.environ.get(k) for k in env}
        try:
            return runner.invoke(app, list(args), input=input, env=env,
                                 catch_exceptions=False)
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    return run


def cli_test_env(data_dir: Path, db_url_factory: Any) -> dict[str, str]:
    """A fresh data directory and an empty database for commands run by a test."""
    return {"USHIRO_DATA_DIR": str(data_dir),
            "USHIRO_DATABASE_URL": db_url_factory.new_url(migrate=False),
            "USHIRO_SECRET_KEY": "cli-test-secret", "USHIRO_JOBS_INLINE": "true"}
