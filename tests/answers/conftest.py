"""Answers fixtures: a small 就業規則 in the tenant's knowledge base, the people of the
story (an employee, an operator, an administrator), a command-line runner. Texts and helpers
are in answers_support.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from answers_support import CATEGORY, RULES, People
from cli_support import cli_invoker, cli_test_env
from typer.testing import Result

from ushiro import identity, knowledge
from ushiro.core.runtime import Runtime
from ushiro.identity import Principal, Role, Tenant, User, command_line


@pytest.fixture
def people(rt: Runtime, tenant: Tenant, make_user: Callable[..., User]) -> People:
    employee = make_user(Role.REQUESTER, name="山田 太郎")
    operator = make_user(Role.OPERATOR, name="佐藤 花子")
    admin = make_user(Role.ADMIN, name="鈴木 一郎")

    def principal(user: User) -> Principal:
        return identity.principal(rt.db, user.id, tenant.id)

    return People(tenant, employee, operator, admin, principal(employee), principal(operator),
                  principal(admin))


@pytest.fixture
def rules(rt: Runtime, tenant: Tenant) -> None:
    knowledge.add_document(rt, command_line(tenant.id),
                           knowledge.DocumentIn("就業規則.txt", RULES.encode()))


@pytest.fixture
def category_id(rt: Runtime, tenant: Tenant) -> int:
    with rt.db.reading() as session:
        found = identity.category_by_name(session, tenant.id, CATEGORY)
        assert found is not None
        return found.id


@pytest.fixture
def ushiro_cli(tmp_path: Path, db_url_factory: Any) -> Callable[..., Result]:
    """Run `ushiro ARGS…` in-process against its own data directory and database."""
    return cli_invoker(cli_test_env(tmp_path / "cli-data", db_url_factory))
