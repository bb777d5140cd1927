"""`ushiro user …` and `ushiro token …`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ushiro.audit import Actor
from ushiro.core.cli import DataDir, JsonOpt, TenantOpt, emit_json, reporting_errors, runtime_for
from ushiro.core.errors import invalid
from ushiro.identity import service
from ushiro.identity.access import command_line
from ushiro.identity.choices import Role
from ushiro.identity.schemas import UserIn

CLI_ACTOR = Actor(None, "cli")
user_app = typer.Typer(help="ユーザー管理", no_args_is_help=True)
token_app = typer.Typer(help="APIトークン", no_args_is_help=True)


@user_app.command("add")
def user_add(
    email: str,
    name: Annotated[str, typer.Option("--name", help="氏名")],
    role: Annotated[Role, typer.Option("--role", help="requester|operator|approver|admin")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="標準入力の1行目をパスワードにする")] = False,
    department: Annotated[list[str] | None, typer.Option("--department",
                                                         help="担当部門 (複数可)")] = None,
    data_dir: DataDir = None, tenant: TenantOpt = None, json_out: JsonOpt = False,
) -> None:
    """ユーザーを追加する (既存のアカウントなら、このテナントへの招待を作る)。"""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    rt = runtime_for(data_dir)
    with reporting_errors():
        t = service.resolve_tenant(rt.db, tenant)
        data = UserIn.model_construct(email=email, name=name, role=role, password=password,
                                      departments=department or [])
        if password is not None and len(password) < 8:
            raise invalid("password", "パスワードは8文字以上にしてください。")
        added = service.add_member(rt.db, command_line(t.id), data)
    user = added.user
    if json_out:
        emit_json({"id": user.id, "email": user.email, "role": role.value, "tenant": t.slug,
                   "invited": added.invited})
    elif added.invited:
        typer.echo(f"{user.email} には既にアカウントがあるため、{t.name} への招待を作成しました。"
                   "本人がログインして「招待」画面で承諾すると所属が追加されます。")
    else:
        typer.echo(f"ユーザー {user.email} ({role.value}) を {t.name} に追加しました。")


@token_app.command("create")
def token_create(email: str, name: Annotated[str, typer.Option("--name")] = "",
                 data_dir: DataDir = None, tenant: TenantOpt = None) -> None:
    """そのユーザーの新しい API トークンを表示する (一度だけ表示されます)。"""
    rt = runtime_for(data_dir)
    with reporting_errors():
        t = service.resolve_tenant(rt.db, tenant)
        typer.echo(service.create_token(rt.db, command_line(t.id), email, name))


@user_app.command("password")
def user_password(email: str, data_dir: DataDir = None) -> None:
    """パスワードを再設定する (標準入力の1行目を新しいパスワードにする)。"""
    password = sys.stdin.readline().rstrip("\n")
    rt = runtime_for(data_dir)
    with reporting_errors():
        service.set_password(rt.db, CLI_ACTOR, email, password)
    typer.echo(f"{email} のパスワードを再設定しました。")
