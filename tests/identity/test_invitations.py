"""Adding a user who already has an account (in another tenant) invites them: the admin
learns nothing about them beyond the e-mail address they typed, and they become a member
only when they accept, signed in as themselves."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import cli_invoker
from fastapi.testclient import TestClient

from ushiro import audit
from ushiro.app import create_app
from ushiro.audit import SYSTEM
from ushiro.core.errors import UshiroError
from ushiro.core.runtime import Runtime
from ushiro.core.settings import Settings
from ushiro.identity import Role, Tenant, User
from ushiro.identity import repository as identity_repo
from ushiro.identity import service as identity_service

SECRET_NAME = "秘密 花子"


def _csrf(text: str) -> str:
    return text.split('name="csrf_token" value="')[1].split('"')[0]


@pytest.fixture
def stranger(make_user: Callable[..., User], make_tenant: Callable[..., Tenant]) -> User:
    """A user of another tenant (A), whose name tenant B's admin must not learn."""
    return make_user(Role.OPERATOR, email="hanako@other.example", name=SECRET_NAME,
                     tenant_obj=make_tenant("tenant-a", "A社"))


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user(Role.ADMIN, name="管理 一郎")


@pytest.fixture
def second(rt: Runtime) -> Iterator[TestClient]:
    """A second browser (the invitee's)."""
    with TestClient(create_app(rt=rt), base_url="http://testserver") as c:
        yield c


def _sign_in(c: TestClient, email: str) -> None:
    token = _csrf(c.get("/login").text)
    response = c.post("/login", data={"email": email, "password": "correct-horse-42",
                                      "csrf_token": token, "next": "/"},
                      follow_redirects=False)
    assert response.status_code == 303, response.text


def _invite(client: TestClient, login: Callable[[str], str], admin: User,
            email: str = "hanako@other.example") -> Any:
    csrf = login(admin.email)
    return client.post("/admin/users", data={"email": email, "name": "偽の名前",
                                             "role": "operator", "departments": ["経理"],
                                             "csrf_token": csrf})


def _member(rt: Runtime, user: User, tenant: Tenant) -> bool:
    with rt.db.reading() as session:
        return identity_repo.membership(session, user.id, tenant.id) is not None


def test_adding_an_existing_user_invites_them_and_reveals_nothing(
        client: TestClient, rt: Runtime, tenant: Tenant, admin: User, stranger: User,
        login: Callable[[str], str]) -> None:
    """GIVEN a user of tenant A
    WHEN tenant B's admin adds their e-mail address on the users page
    THEN B's admin sees only the address as 招待中, never the real name; the user is no
    member of B until they accept; the audit event names no one's name."""
    response = _invite(client, login, admin)
    assert response.status_code == 200, response.text
    assert "招待中" in response.text and "hanako@other.example" in response.text
    assert SECRET_NAME not in response.text
    assert not _member(rt, stranger, tenant)
    with rt.db.reading() as session:
        newest = audit.recent_events(session, tenant.id, 1)
    assert newest and newest[0].action == "user.invite"
    event = newest[0]
    assert SECRET_NAME not in str(event.after)
    with pytest.raises(UshiroError):
        identity_service.principal(rt.db, stranger.id, tenant.id)


def test_the_invitee_accepts_and_becomes_a_member(client: TestClient, second: TestClient,
                                                  rt: Runtime, tenant: Tenant, admin: User,
                                                  stranger: User,
                                                  login: Callable[[str], str]) -> None:
    """GIVEN a pending invitation to tenant B
    WHEN the invitee, signed in as themselves, accepts it on the invitations page
    THEN they are a member of B with the role and departments offered, B's admin now sees
    them among the users, and the acceptance is audited."""
    _invite(client, login, admin)
    _sign_in(second, stranger.email)
    page = second.get("/invitations")
    assert page.status_code == 200
    assert tenant.name in page.text
    invitation_id = page.text.split('action="/invitations/')[1].split("/")[0]
    accepted = second.post(f"/invitations/{invitation_id}/accept",
                           data={"csrf_token": _csrf(page.text)}, follow_redirects=False)
    assert accepted.status_code == 303, accepted.text
    principal = identity_service.principal(rt.db, stranger.id, tenant.id)
    assert principal.role == Role.OPERATOR
    assert len(principal.department_ids) == 1
    users = client.get("/admin/users")
    assert SECRET_NAME in users.text  # a member now: their own name, not "偽の名前"
    assert "招待中" not in users.text
    with rt.db.reading() as session:
        actions = {e.action for e in audit.recent_events(session, tenant.id, 10_000)}
    assert {"user.invite", "invitation.accept"} <= actions


def test_the_invitee_declines(client: TestClient, second: TestClient, rt: Runtime,
                              tenant: Tenant, admin: User, stranger: User,
                              login: Callable[[str], str]) -> None:
    _invite(client, login, admin)
    _sign_in(second, stranger.email)
    page = second.get("/invitations")
    invitation_id = page.text.split('action="/invitations/')[1].split("/")[0]
    declined = second.post(f"/invitations/{invitation_id}/decline",
                           data={"csrf_token": _csrf(page.text)}, follow_redirects=False)
    assert declined.status_code == 303
    assert not _member(rt, stranger, tenant)
    assert "招待中" not in client.get("/admin/users").text
    assert tenant.name not in second.get("/invitations").text


def test_nobody_else_can_accept_an_invitation(client: TestClient, second: TestClient,
                                              rt: Runtime, tenant: Tenant, admin: User,
                                              stranger: User, make_user: Callable[..., User],
                                              login: Callable[[str], str]) -> None:
    """GIVEN an invitation for the stranger
    WHEN another signed-in user posts its accept (or decline) URL
    THEN 404, and the stranger is still not a member."""
    _invite(client, login, admin)
    _sign_in(second, stranger.email)
    invitation_id = second.get("/invitations").text.split(
        'action="/invitations/')[1].split("/")[0]
    other = make_user(Role.REQUESTER)
    with TestClient(create_app(rt=rt)) as third:
        _sign_in(third, other.email)
        csrf = _csrf(third.get("/invitations").text)
        for action in ("accept", "decline"):
            response = third.post(f"/invitations/{invitation_id}/{action}",
                                  data={"csrf_token": csrf})
            assert response.status_code == 404
    assert not _member(rt, stranger, tenant)


def test_a_second_invitation_while_one_is_pending_is_409(client: TestClient, admin: User,
                                                         stranger: User,
                                                         login: Callable[[str], str]) -> None:
    _invite(client, login, admin)
    again = _invite(client, login, admin)
    assert again.status_code == 409
    assert "招待" in again.text


def test_a_new_address_still_creates_the_user(client: TestClient, rt: Runtime, tenant: Tenant,
                                              admin: User, login: Callable[[str], str]) -> None:
    response = _invite(client, login, admin, email="new-person@example.co.jp")
    assert response.status_code == 200
    assert "偽の名前" in response.text  # the name the admin typed for a new account


def test_the_cli_invites_an_existing_user(cli_env: dict[str, str]) -> None:
    """GIVEN a user of tenant A (created by `ushiro user add`)
    WHEN `ushiro user add` names their address for tenant B
    THEN it reports an invitation, prints no name, and they are no member of B."""
    run = cli_invoker(cli_env)
    assert run("init", "--tenant", "a", "--name", "A社").exit_code == 0
    rt = Runtime.from_settings(Settings(data_dir=Path(cli_env["USHIRO_DATA_DIR"]),
                                        database_url=cli_env["USHIRO_DATABASE_URL"]))
    try:
        tenant_b = identity_service.create_tenant(rt.db, SYSTEM, "b", "B社")
        added = run("user", "add", "hanako@other.example", "--name", SECRET_NAME, "--role",
                    "operator", "--tenant", "a")
        assert added.exit_code == 0, added.output
        invited = run("user", "add", "hanako@other.example", "--name", "偽の名前", "--role",
                      "operator", "--tenant", "b", "--json")
        assert invited.exit_code == 0, invited.output
        assert SECRET_NAME not in invited.output
        assert '"invited": true' in invited.output
        with rt.db.reading() as session:
            user = identity_repo.user_by_email(session, "hanako@other.example")
            assert user is not None and user.name == SECRET_NAME
            assert identity_repo.membership(session, user.id, tenant_b.id) is None
    finally:
        rt.db.dispose()
