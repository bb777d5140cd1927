"""CLI tests run the real `ushiro` command against their own data directory and database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cli_support import cli_invoker, cli_test_env
from typer.testing import Result


@pytest.fixture
def cli_env(tmp_path: Path, db_url_factory) -> dict[str, str]:
    return cli_test_env(tmp_path / "data", db_url_factory)


@pytest.fixture
def ushiro(cli_env: dict[str, str]) -> Callable[..., Result]:
    """Run `ushiro ARGS…` in-process; stdin text optional."""
    return cli_invoker(cli_env)
