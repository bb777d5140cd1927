"""Answers fixtures: a small 就業規則 in the tenant's knowledge base, the people of the
story (an employee, an operator, an administrator), a command-line runner. Texts and helpers
are in answers_support.py."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from answers_support import CATEGORY, RULES, People
from typer.testing import CliRunner, Result

from ushiro import knowledge
from ushiro.audit import SYSTEM
from ushiro.cli import app
from ushiro.core.runtime import Runtime
from ushiro.identity import Principal, Role, Tenant, User
from ushiro.identity import repository as identity_repo
from ushiro.identity import service as identity_service


@pytest.fixture
def people(rt: Runtime, tenant: Tenant, make_user: Callable[..., User]) -> People:
    employee = make_user(Role.REQUESTER, name="山田 太郎")
    operator = make_user(Role.OPERATOR, name="佐藤 花子")
    admin = make_user(Role.ADMIN, name="鈴木 一郎")

    def principal(user: User) -> Principal:
        return identity_service.principal(rt.db, user.id, tenant.id)

    return People(tenant, employee, operator, admin, principal(employee), principal(operator),
                  principal(admin))


@pytest.fixture
def rules(rt: Runtime, tenant: Tenant) -> None:
    knowledge.add_document(rt, SYSTEM, tenant.id,
                           knowledge.DocumentIn("就業規則.txt", RULES.encode()))


@pytest.fixture
def category_id(rt: Runtime, tenant: Tenant) -> int:
    with rt.db.reading() as session:
        found = identity_repo.category_by_name(session, tenant.id, CATEGORY)
        assert found is not None
        return found.id


@pytest.fixture
def ushiro_cli(tmp_path: Path, db_url_factory: Any) -> Callable[..., Result]:
    """Run `ushiro ARGS…` in-process against its own data directory and database."""
    env = {"USHIRO_DATA_DIR": str(tmp_path / "cli-data"),
           "USHIRO_DATABASE_URL": db_url_factory.new_url(migrate=False),
           "USHIRO_SECRET_KEY": "cli-test-secret", "USHIRO_JOBS_INLINE": "true"}
    runner = CliRunner()

    def run(*args: str) -> Result:
        old = {k: os.environ.get(k) for k in env}
        try:
            return runner.invoke(app, list(args), env=env, catch_exceptions=False)
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    return run
