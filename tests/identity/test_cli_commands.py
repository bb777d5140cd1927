"""`ushiro init`, `user add`, `token create`: the stable command-line contracts."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from ushiro.app import create_app
from ushiro.core.runtime import Runtime
from ushiro.core.settings import Settings


def test_init_is_idempotent(ushiro) -> None:
    first = ushiro("init", "--tenant", "sakura", "--name", "さくら精機株式会社", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["created"] is True
    second = ushiro("init", "--json")
    assert second.exit_code == 0
    assert json.loads(second.stdout)["created"] is False


def test_user_add_and_token_work_against_the_api(ushiro, cli_env) -> None:
    """GIVEN an initialised desk WHEN a user and a token are created from the CLI
    THEN that token opens a request through the REST API."""
    ushiro("init", "--tenant", "sakura")
    added = ushiro("user", "add", "hanako@example.co.jp", "--name", "佐藤 花子",
                   "--role", "requester", "--password-stdin", "--json",
                   input="long-enough-password\n")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["role"] == "requester"
    token = ushiro("token", "create", "hanako@example.co.jp").stdout.strip()
    assert token.startswith("ush_")
    settings = Settings(data_dir=cli_env["USHIRO_DATA_DIR"],
                        database_url=cli_env["USHIRO_DATABASE_URL"])
    rt = Runtime.from_settings(settings)
    try:
        with TestClient(create_app(rt=rt)) as client:
            response = client.post("/api/v1/requests", headers={"Authorization": f"Bearer {token}"},
                                   json={"title": "住所変更", "body": "引っ越しました。"})
        assert response.status_code == 201
        assert response.json()["requester"] == "hanako@example.co.jp"
    finally:
        rt.db.dispose()


def test_bad_user_input_gets_japanese_error_and_exit_2(ushiro) -> None:
    ushiro("init")
    bad_email = ushiro("user", "add", "not-an-email", "--name", "x", "--role", "operator")
    assert bad_email.exit_code == 2
    assert "メールアドレスの形式" in bad_email.output and "validation_error" in bad_email.output
    short = ushiro("user", "add", "a@example.co.jp", "--name", "x", "--role", "operator",
                   "--password-stdin", input="short\n")
    assert short.exit_code == 2 and "8文字以上" in short.output
    ushiro("user", "add", "a@example.co.jp", "--name", "x", "--role", "operator")
    again = ushiro("user", "add", "a@example.co.jp", "--name", "x", "--role", "operator")
    assert again.exit_code == 2 and "conflict" in again.output


def test_unknown_tenant_is_reported(ushiro) -> None:
    ushiro("init")
    result = ushiro("token", "create", "a@example.co.jp", "--tenant", "nope")
    assert result.exit_code == 2
    assert "テナント「nope」が見つかりません" in result.output


def test_commands_refuse_an_uninitialised_data_dir(tmp_path) -> None:
    """The embedded default (SQLite in the data directory) must be initialised first."""
    from typer.testing import CliRunner

    from ushiro.cli import app

    env = {"USHIRO_DATABASE_URL": None, "USHIRO_DATA_DIR": str(tmp_path / "empty")}
    result = CliRunner().invoke(app, ["audit", "verify"], env=env)
    assert result.exit_code == 2
    assert "ushiro init" in result.output and "not_initialised" in result.output


def test_user_password_resets_a_password(ushiro, cli_env) -> None:
    """GIVEN a user WHEN an operator of the server resets the password from the CLI
    THEN the new password logs in and the change is in the audit log."""
    ushiro("init", "--tenant", "sakura")
    ushiro("user", "add", "taro@example.co.jp", "--name", "山田 太郎", "--role", "admin",
           "--password-stdin", input="first-password\n")
    reset = ushiro("user", "password", "taro@example.co.jp", input="second-password\n")
    assert reset.exit_code == 0, reset.output
    too_short = ushiro("user", "password", "taro@example.co.jp", input="short\n")
    assert too_short.exit_code == 2 and "8文字以上" in too_short.output
    unknown = ushiro("user", "password", "nobody@example.co.jp", input="long-enough-1\n")
    assert unknown.exit_code == 2 and "not_found" in unknown.output
    settings = Settings(data_dir=cli_env["USHIRO_DATA_DIR"],
                        database_url=cli_env["USHIRO_DATABASE_URL"])
    rt = Runtime.from_settings(settings)
    try:
        from ushiro.identity import service

        signed_in = service.login(rt.db, settings, "taro@example.co.jp", "second-password")
        assert signed_in.user.email == "taro@example.co.jp"
    finally:
        rt.db.dispose()
