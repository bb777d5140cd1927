"""Fixtures shared by the mail tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from ushiro.cli import app


@pytest.fixture
def cli(tmp_path: Path, db_url_factory: Any) -> Callable[..., Result]:
    """`ushiro ARGS… --data-dir DIR` in-process, against its own fresh database with a
    tenant "sakura"; keyword arguments add environment variables for one call."""
    env = {"USHIRO_DATABASE_URL": db_url_factory.new_url(migrate=False),
           "USHIRO_SECRET_KEY": "mail-cli-test"}
    data_dir = str(tmp_path / "desk-data")
    runner = CliRunner()

    def run(*args: str, input: str | None = None, **extra_env: str) -> Result:
        return runner.invoke(app, [*args, "--data-dir", data_dir], input=input,
                             env={**env, **extra_env}, catch_exceptions=False)

    run.env = env  # type: ignore[attr-defined]
    assert run("init", "--tenant", "sakura", "--name", "さくら精機株式会社").exit_code == 0
    return run
