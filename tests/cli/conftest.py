"""CLI tests run the real `ushiro` command against their own data directory and database."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ushiro.cli import app


@pytest.fixture
def cli_env(tmp_path: Path, db_url_factory) -> dict[str, str]:
    url = db_url_factory.new_url(migrate=False)
    return {"USHIRO_DATA_DIR": str(tmp_path / "data"), "USHIRO_DATABASE_URL": url,
            "USHIRO_SECRET_KEY": "cli-test-secret", "USHIRO_JOBS_INLINE": "true"}


@pytest.fixture
def ushiro(cli_env: dict[str, str]) -> Callable[..., Result]:
    """Run `ushiro ARGS…` in-process; stdin text optional."""
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        old = {k: os.environ.get(k) for k in cli_env}
        try:
            return runner.invoke(app, list(args), input=input, env=cli_env,
                                 catch_exceptions=False)
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    return run
