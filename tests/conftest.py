"""Test harness: a real database (SQLite by default, PostgreSQL with USHIRO_TEST_DB=postgres),
migrated once per session, every test inside a transaction that is rolled back.

Fixtures: ``rt`` (runtime bound to the test transaction), ``client`` (HTTP), ``tenant``,
``make_user``, ``login``, ``api_headers``, ``db_url_factory`` (a fresh empty database for
tests that run the server in another process), ``cli_env`` and ``ushiro`` (the `ushiro`
command in-process on its own data directory and database; helpers in cli_support.py).
Every test hashes passwords with argon2 at a test strength.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from cli_support import cli_invoker, cli_test_env
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from typer.testing import Result

from ushiro import domains
from ushiro.app import create_app
from ushiro.audit import SYSTEM
from ushiro.core import security
from ushiro.core.db import Database
from ushiro.core.runtime import Runtime
from ushiro.core.settings import Settings
from ushiro.identity import Principal, Role, Tenant, User, UserIn
from ushiro.identity import service as identity_service
from ushiro.migrations import upgrade

sys.path.insert(0, str(Path(__file__).parent))
BACKEND = os.environ.get("USHIRO_TEST_DB", "sqlite")
PG_BASE = os.environ.get("USHIRO_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PASSWORD = "correct-horse-42"


def pytest_report_header() -> str:
    return f"ushiro database backend: {BACKEND}"


class DatabaseFactory:
    """Creates empty, migrated databases: SQLite files, or PostgreSQL schemas."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.schemas: list[str] = []

    def new_url(self, migrate: bool = True) -> str:
        if BACKEND == "postgres":
            schema = f"ushiro_t_{uuid.uuid4().hex[:12]}"
            engine = create_engine(PG_BASE)
            with engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
            engine.dispose()
            self.schemas.append(schema)
            url = f"{PG_BASE}?options=-csearch_path%3D{schema}"
        else:
            url = f"sqlite:///{self.root / (uuid.uuid4().hex + '.db')}"
        if migrate:
            upgrade(url)
        return url

    def drop_all(self) -> None:
        if not self.schemas:
            return
        engine = create_engine(PG_BASE)
        # One transaction per schema: dropping them all at once takes a lock per table,
        # index and sequence of every schema and overflows max_locks_per_transaction.
        for schema in self.schemas:
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def _domains_loaded() -> None:
    """As in every process of the product (app, worker, CLI): domains subscribe to the
    events and jobs they handle before any work."""
    domains.load_hooks()


@pytest.fixture(autouse=True)
def _fast_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests create many users: argon2 at a test strength keeps the suite fast while still
    hashing and verifying for real."""
    monkeypatch.setattr(security, "_hasher",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(scope="session")
def db_url_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("db"))
    yield factory
    factory.drop_all()


@pytest.fixture(scope="session")
def session_db(db_url_factory: DatabaseFactory) -> Iterator[Database]:
    db = Database(db_url_factory.new_url(), pool_size=2)
    yield db
    db.dispose()


def test_settings(data_dir: Path, url: str, **extra: Any) -> Settings:
    return Settings(data_dir=data_dir, database_url=url, secret_key="test-secret-key",
                    jobs_inline=True, worker_in_process=False, **extra)


@pytest.fixture
def rt(session_db: Database, tmp_path: Path) -> Iterator[Runtime]:
    """A runtime whose every session joins one outer transaction, rolled back after."""
    conn = session_db.engine.connect()
    outer = conn.begin()
    session_db.bind_to_connection(conn)
    runtime = Runtime(test_settings(tmp_path / "data", session_db.url), session_db)
    try:
        yield runtime
    finally:
        session_db.unbind()
        outer.rollback()
        conn.close()


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt=rt), base_url="http://testserver") as c:
        yield c


@pytest.fixture
def make_tenant(rt: Runtime) -> Callable[..., Tenant]:
    def make(slug: str | None = None, name: str = "テスト株式会社") -> Tenant:
        return identity_service.create_tenant(rt.db, SYSTEM, slug or f"t{uuid.uuid4().hex[:8]}",
                                              name)

    return make


@pytest.fixture
def tenant(make_tenant: Callable[..., Tenant]) -> Tenant:
    return make_tenant("sakura", "さくら精機株式会社")


@pytest.fixture
def make_user(rt: Runtime, tenant: Tenant) -> Callable[..., User]:
    def make(role: Role | str = Role.REQUESTER, *, email: str | None = None,
             name: str = "山田 太郎", tenant_obj: Tenant | None = None,
             departments: list[str] | None = None) -> User:
        return identity_service.add_user(rt.db, Principal.system((tenant_obj or tenant).id, "test"), UserIn(
            email=email or f"u{uuid.uuid4().hex[:8]}@example.co.jp", name=name, role=Role(role),
            password=PASSWORD, departments=departments or []))

    return make


@pytest.fixture
def login(client: TestClient) -> Callable[[str], str]:
    """Logs the test client in; returns the CSRF token for form posts."""

    def do(email: str, password: str = PASSWORD) -> str:
        page = client.get("/login")
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        response = client.post("/login", data={"email": email, "password": password,
                                               "csrf_token": token, "next": "/"},
                               follow_redirects=False)
        assert response.status_code == 303, response.text
        home = client.get("/portal")
        return home.text.split('name="csrf_token" value="')[1].split('"')[0]

    return do


@pytest.fixture
def api_headers(rt: Runtime, tenant: Tenant) -> Callable[[User], dict[str, str]]:
    def make(user: User, tenant_obj: Tenant | None = None) -> dict[str, str]:
        token = identity_service.create_token(
            rt.db, Principal.system((tenant_obj or tenant).id, "test"), user.email)
        return {"Authorization": f"Bearer {token}"}

    return make


@pytest.fixture
def cli_env(tmp_path: Path, db_url_factory: DatabaseFactory) -> dict[str, str]:
    return cli_test_env(tmp_path / "data", db_url_factory)


@pytest.fixture
def ushiro(cli_env: dict[str, str]) -> Callable[..., Result]:
    """Run `ushiro ARGS…` in-process; stdin text optional."""
    return cli_invoker(cli_env)


@pytest.fixture
def queued(rt: Runtime) -> Iterator[Runtime]:
    """The test runtime with a worker's view: jobs wait in the table (no inline run after
    commit) until something runs them, as with a separate worker."""
    runtime = Runtime(rt.settings.model_copy(update={"jobs_inline": False}), rt.db)
    try:
        yield runtime
    finally:
        rt.db.info.update(runtime=rt, settings=rt.settings)
