"""Login, sessions, CSRF and API tokens: how the door is locked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from ushiro import desk
from ushiro.app import create_app
from ushiro.audit import SYSTEM
from ushiro.core.runtime import Runtime
from ushiro.identity import Principal, Role, Tenant, User, UserIn
from ushiro.identity import repository as identity_repo
from ushiro.identity import service as identity_service
from ushiro.identity.models import LoginAttempt

PASSWORD = "correct-horse-42"
WRONG = "Tr0ub4dor&3"
BAD_LOGIN = "メールアドレスまたはパスワードが正しくありません。"
Headers = Callable[..., dict[str, str]]


@pytest.fixture
def user(make_user: Callable[..., User]) -> User:
    return make_user(Role.REQUESTER, email="hanako@example.co.jp", name="総務 花子")


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user(Role.ADMIN, name="管理 一郎")


def _csrf(text: str) -> str:
    return text.split('name="csrf_token" value="')[1].split('"')[0]


def _attempt(c: TestClient, email: str, password: str, next_: str = "/") -> Response:
    token = _csrf(c.get("/login").text)
    return c.post("/login", data={"email": email, "password": password, "csrf_token": token,
                                  "next": next_}, follow_redirects=False)


def _newest_request(rt: Runtime, tenant: Tenant) -> tuple[int, int]:
    return desk.last_request(rt, tenant.id)


# --- passwords and the lock -----------------------------------------------------------------


@pytest.mark.parametrize("email", ["hanako@example.co.jp", "nobody@example.co.jp"])
def test_wrong_password_is_401_with_the_same_message(client: TestClient, user: User,
                                                     email: str) -> None:
    """GIVEN a user
    WHEN someone logs in with a wrong password, or with an address that has no account
    THEN both get the same 401 login page with a Japanese message and no session."""
    response = _attempt(client, email, WRONG)
    assert response.status_code == 401
    assert BAD_LOGIN in response.text
    assert "<code>auth_failed</code>" in response.text
    assert 'name="password"' in response.text
    assert client.get("/portal", follow_redirects=False).status_code == 303


def test_email_is_case_insensitive(client: TestClient, user: User) -> None:
    response = _attempt(client, "  Hanako@Example.CO.JP ", PASSWORD)
    assert response.status_code == 303


def test_five_failures_lock_the_account(client: TestClient, rt: Runtime, user: User,
                                        make_user: Callable[..., User]) -> None:
    """GIVEN five failed logins for one address within the window
    WHEN the right password is then given
    THEN 429 ``rate_limited`` with a Japanese message; other accounts are not affected."""
    colleague = make_user(Role.REQUESTER)
    for _ in range(rt.settings.login_max_failures):
        assert _attempt(client, user.email, WRONG).status_code == 401
    locked = _attempt(client, user.email, PASSWORD)
    assert locked.status_code == 429
    assert "<code>rate_limited</code>" in locked.text
    assert "一時的にロックしています" in locked.text
    assert client.get("/portal", follow_redirects=False).status_code == 303
    other = _attempt(client, colleague.email, PASSWORD)
    assert other.status_code == 303


def test_four_failures_do_not_lock(client: TestClient, rt: Runtime, user: User) -> None:
    for _ in range(rt.settings.login_max_failures - 1):
        _attempt(client, user.email, WRONG)
    assert _attempt(client, user.email, PASSWORD).status_code == 303


def test_the_lock_expires_after_the_window(client: TestClient, rt: Runtime, user: User) -> None:
    """GIVEN an account locked by five failures
    WHEN the failures are older than the window (15 minutes)
    THEN the right password logs in again."""
    for _ in range(rt.settings.login_max_failures):
        _attempt(client, user.email, WRONG)
    with rt.db.transaction() as session:
        for attempt in session.scalars(select(LoginAttempt)):
            attempt.at -= timedelta(seconds=rt.settings.login_window_seconds + 60)
    assert _attempt(client, user.email, PASSWORD).status_code == 303


@pytest.mark.parametrize(("target", "landing"), [
    ("/portal/new", "/portal/new"),
    ("//evil.example.com/phish", "/"),
    ("https://evil.example.com/", "/"),
])
def test_login_redirects_only_to_local_pages(client: TestClient, user: User, target: str,
                                             landing: str) -> None:
    response = _attempt(client, user.email, PASSWORD, next_=target)
    assert response.status_code == 303
    assert response.headers["location"] == landing


# --- the session cookie ---------------------------------------------------------------------


def _session_cookie(response: Response) -> str:
    cookies = [v for k, v in response.headers.multi_items()
               if k.lower() == "set-cookie" and v.startswith("ushiro_session=")]
    assert len(cookies) == 1
    return cookies[0].lower()


def test_session_cookie_is_httponly_and_samesite(client: TestClient, user: User) -> None:
    """GIVEN the default settings (plain HTTP allowed for local use)
    WHEN a user logs in
    THEN the session cookie is HttpOnly and SameSite=Lax, and not marked Secure."""
    cookie = _session_cookie(_attempt(client, user.email, PASSWORD))
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie.replace("ushiro_session=", "")


@pytest.fixture
def https_client(rt: Runtime) -> Iterator[TestClient]:
    secure = Runtime(rt.settings.model_copy(update={"cookie_secure": True}), rt.db)
    with TestClient(create_app(rt=secure), base_url="https://testserver") as c:
        yield c


def test_session_cookie_is_secure_when_configured(https_client: TestClient, user: User) -> None:
    """GIVEN Settings.cookie_secure=True (behind HTTPS)
    WHEN a user logs in
    THEN the session cookie is Secure as well as HttpOnly and SameSite=Lax."""
    cookie = _session_cookie(_attempt(https_client, user.email, PASSWORD))
    assert "; secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie


def test_login_starts_a_fresh_session(client: TestClient, user: User) -> None:
    """GIVEN a visitor whose session already holds a CSRF token
    WHEN they log in
    THEN they get a new token: nothing from before authentication carries over."""
    before = _csrf(client.get("/login").text)
    client.post("/login", data={"email": user.email, "password": PASSWORD,
                                "csrf_token": before})
    after = _csrf(client.get("/portal").text)
    assert after != before


def test_logout_clears_the_session(client: TestClient, user: User,
                                   login: Callable[[str], str]) -> None:
    """GIVEN a signed-in user
    WHEN they log out
    THEN they land on the login page and every page asks them to log in again."""
    csrf = login(user.email)
    response = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    for page in ("/portal", "/portal/new", "/"):
        again = client.get(page, follow_redirects=False)
        assert again.status_code == 303
        assert again.headers["location"].startswith("/login")


@pytest.fixture
def second_browser(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt=rt), base_url="http://testserver") as c:
        yield c


def _signed_in(c: TestClient) -> bool:
    response = c.get("/portal", follow_redirects=False)
    assert response.status_code in (200, 303), response.text
    return response.status_code == 200


def test_a_copied_cookie_is_worthless_after_logout(client: TestClient, second_browser: TestClient,
                                                   user: User,
                                                   login: Callable[[str], str]) -> None:
    """GIVEN a signed-in user whose session cookie someone has copied
    WHEN the user logs out
    THEN the copy no longer signs anyone in (the cookie alone is signed, not revocable, so
    the login session it names has ended on the server)."""
    csrf = login(user.email)
    second_browser.cookies.set("ushiro_session", client.cookies["ushiro_session"])
    assert _signed_in(second_browser)
    client.post("/logout", data={"csrf_token": csrf})
    assert not _signed_in(second_browser)


def test_logging_out_in_one_browser_keeps_the_other_signed_in(
        client: TestClient, second_browser: TestClient, user: User,
        login: Callable[[str], str]) -> None:
    """GIVEN a user signed in on two browsers (PC and tablet)
    WHEN they log out on one
    THEN the other stays signed in."""
    assert _attempt(second_browser, user.email, PASSWORD).status_code == 303
    csrf = login(user.email)
    client.post("/logout", data={"csrf_token": csrf})
    assert not _signed_in(client)
    assert _signed_in(second_browser)


def test_a_new_password_ends_every_session(client: TestClient, second_browser: TestClient,
                                           rt: Runtime, user: User,
                                           login: Callable[[str], str]) -> None:
    """GIVEN a user signed in on two browsers
    WHEN their password is reset (someone may have known the old one)
    THEN both are signed out, and the new password signs in again."""
    login(user.email)
    assert _attempt(second_browser, user.email, PASSWORD).status_code == 303
    identity_service.set_password(rt.db, SYSTEM, user.email, "new-secret-2026")
    assert not _signed_in(client) and not _signed_in(second_browser)
    assert _attempt(client, user.email, "new-secret-2026").status_code == 303
    assert _signed_in(client)


def test_a_session_ends_after_the_maximum_age(client: TestClient, rt: Runtime, user: User,
                                              login: Callable[[str], str]) -> None:
    """GIVEN a signed-in user
    WHEN their login session is older than session_max_age_seconds (12 h), even if the
    browser still sends the cookie
    THEN they are asked to log in again."""
    from ushiro.identity.models import LoginSession

    login(user.email)
    assert _signed_in(client)
    age = timedelta(seconds=rt.settings.session_max_age_seconds + 60)
    with rt.db.transaction() as session:
        for row in session.scalars(select(LoginSession).where(LoginSession.user_id == user.id)):
            row.created_at = row.created_at - age
    assert not _signed_in(client)


def test_htmx_requests_without_a_session_are_told_to_log_in(client: TestClient) -> None:
    response = client.get("/portal", headers={"HX-Request": "true"}, follow_redirects=False)
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login"


# --- CSRF -----------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["missing", "wrong", "wrong-header", "other-session"])
def test_form_posts_need_the_sessions_csrf_token(client: TestClient, rt: Runtime, user: User,
                                                 tenant: Tenant,
                                                 make_user: Callable[..., User],
                                                 login: Callable[[str], str], how: str) -> None:
    """GIVEN a signed-in user
    WHEN a form is posted without the session's CSRF token (missing, wrong, or another
    session's valid token)
    THEN 403 ``csrf_failed`` with a Japanese message, and nothing is stored."""
    other = make_user(Role.REQUESTER)
    with TestClient(client.app, base_url="http://testserver") as elsewhere:
        elsewhere_token = _csrf(elsewhere.get("/login").text)
        elsewhere.post("/login", data={"email": other.email, "password": PASSWORD,
                                       "csrf_token": elsewhere_token})
        foreign_token = _csrf(elsewhere.get("/portal").text)
    login(user.email)
    form = {"title": "偽の依頼", "body": "CSRF"}
    headers = {}
    if how == "wrong":
        form["csrf_token"] = "x" * 43
    elif how == "wrong-header":
        headers["X-CSRF-Token"] = "x" * 43
    elif how == "other-session":
        form["csrf_token"] = foreign_token
    before = _newest_request(rt, tenant)
    response = client.post("/portal/new", data=form, headers=headers, follow_redirects=False)
    assert response.status_code == 403
    assert "<code>csrf_failed</code>" in response.text
    assert "フォームの有効期限が切れました" in response.text
    assert _newest_request(rt, tenant) == before


def test_csrf_token_in_the_header_is_accepted(client: TestClient, rt: Runtime, user: User,
                                              login: Callable[[str], str]) -> None:
    csrf = login(user.email)
    response = client.post("/portal/new", data={"title": "htmx", "body": "ヘッダーで送信"},
                           headers={"X-CSRF-Token": csrf}, follow_redirects=False)
    assert response.status_code == 303


def test_htmx_csrf_failure_goes_to_the_flash_area(client: TestClient, user: User,
                                                  login: Callable[[str], str]) -> None:
    login(user.email)
    response = client.post("/portal/chat", data={"message": "こんにちは"},
                           headers={"HX-Request": "true", "X-CSRF-Token": "nope"})
    assert response.status_code == 403
    assert response.headers["HX-Retarget"] == "#flash"
    assert "csrf_failed" in response.text


def test_csrf_protects_admin_changes(client: TestClient, rt: Runtime, admin: User, user: User,
                                     login: Callable[[str], str]) -> None:
    """GIVEN a signed-in admin
    WHEN a forged form tries to deactivate a user
    THEN 403 ``csrf_failed`` and the user stays active."""
    login(admin.email)
    response = client.post(f"/admin/users/{user.id}", data={"active": "0"},
                           follow_redirects=False)
    assert response.status_code == 403
    assert "<code>csrf_failed</code>" in response.text
    assert _attempt(client, user.email, PASSWORD).status_code == 303


def test_login_and_logout_forms_need_the_token(client: TestClient, user: User,
                                               login: Callable[[str], str]) -> None:
    client.get("/login")
    forged = client.post("/login", data={"email": user.email, "password": PASSWORD},
                         follow_redirects=False)
    assert forged.status_code == 403 and "csrf_failed" in forged.text
    login(user.email)
    forced_out = client.post("/logout", data={}, follow_redirects=False)
    assert forced_out.status_code == 403
    assert client.get("/portal", follow_redirects=False).status_code == 200


def test_api_needs_no_csrf_but_a_bearer_token(client: TestClient, user: User,
                                              api_headers: Headers,
                                              login: Callable[[str], str]) -> None:
    """GIVEN a signed-in browser session
    WHEN the API is called with the session cookie but no bearer token
    THEN 401 ``auth_required``: the cookie never authenticates the API (so CSRF cannot
    reach it), and a bearer token works without a CSRF token."""
    login(user.email)
    response = client.post("/api/v1/requests", json={"title": "件名", "body": "本文"})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "auth_required"
    assert "Authorization: Bearer" in error["message"]
    ok = client.post("/api/v1/requests", headers=api_headers(user),
                     json={"title": "件名", "body": "本文"})
    assert ok.status_code == 201


# --- deactivated users and tokens -------------------------------------------------------------


def test_deactivated_user_is_locked_out_of_the_tenant(client: TestClient, rt: Runtime, user: User,
                                                   admin: User, api_headers: Headers,
                                                   login: Callable[[str], str]) -> None:
    """GIVEN a user with a browser session and an API token
    WHEN the tenant's admin deactivates them
    THEN the session stops working, the password no longer logs into the tenant, and the
    token is refused with a Japanese message."""
    headers = api_headers(user)
    with TestClient(client.app, base_url="http://testserver") as theirs:
        token = _csrf(theirs.get("/login").text)
        theirs.post("/login", data={"email": user.email, "password": PASSWORD,
                                    "csrf_token": token})
        assert theirs.get("/portal", follow_redirects=False).status_code == 200
        csrf = login(admin.email)
        response = client.post(f"/admin/users/{user.id}", data={"active": "0",
                                                                 "csrf_token": csrf},
                               follow_redirects=False)
        assert response.status_code == 303
        stale = theirs.get("/portal", follow_redirects=False)
        assert stale.status_code == 303 and stale.headers["location"].startswith("/login")
    refused = _attempt(client, user.email, PASSWORD)
    assert refused.status_code == 401
    assert "このアカウントは現在利用できません" in refused.text
    api = client.get("/api/v1/requests", headers=headers)
    assert api.status_code == 401
    assert api.json()["error"] == {"code": "auth_failed",
                                   "message": "このテナントでのアカウントは無効化されています。"}


def test_reactivated_user_can_log_in_again(client: TestClient, user: User, admin: User,
                                           login: Callable[[str], str]) -> None:
    csrf = login(admin.email)
    client.post(f"/admin/users/{user.id}", data={"active": "0", "csrf_token": csrf})
    client.post(f"/admin/users/{user.id}", data={"active": "1", "csrf_token": csrf})
    assert _attempt(client, user.email, PASSWORD).status_code == 303


def test_admin_cannot_deactivate_themselves(client: TestClient, admin: User,
                                            login: Callable[[str], str]) -> None:
    csrf = login(admin.email)
    response = client.post(f"/admin/users/{admin.id}", data={"active": "0", "csrf_token": csrf},
                           follow_redirects=False)
    assert response.status_code == 409
    assert "自分自身の管理者権限は変更できません" in response.text


def test_revoked_token_is_refused(client: TestClient, rt: Runtime, tenant: Tenant, user: User,
                                  admin: User, api_headers: Headers,
                                  login: Callable[[str], str]) -> None:
    """GIVEN a working API token
    WHEN an admin revokes it
    THEN the token gets 401 ``auth_failed`` with a Japanese message; other tokens still work."""
    headers = api_headers(user)
    spare = api_headers(user)
    assert client.get("/api/v1/requests", headers=headers).status_code == 200
    with rt.db.reading() as session:
        token_id = max(t.id for t, _u in identity_repo.tokens(session, tenant.id)
                       if headers["Authorization"].split()[1].startswith(t.prefix))
    csrf = login(admin.email)
    response = client.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": csrf},
                           follow_redirects=False)
    assert response.status_code == 303
    refused = client.get("/api/v1/requests", headers=headers)
    assert refused.status_code == 401
    error = refused.json()["error"]
    assert error["code"] == "auth_failed"
    assert "APIトークンが無効です" in error["message"]
    assert client.get("/api/v1/requests", headers=spare).status_code == 200


@pytest.mark.parametrize("header", ["Bearer ush_made_up_token", "Bearer ", "Basic dXNlcjpwdw==",
                                    "ush_no_scheme"])
def test_missing_or_unknown_tokens_are_401(client: TestClient, header: str) -> None:
    response = client.get("/api/v1/requests", headers={"Authorization": header})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] in ("auth_required", "auth_failed")
    assert "トークン" in error["message"]


def test_token_works_only_in_its_tenant(client: TestClient, rt: Runtime, user: User,
                                        make_tenant: Callable[..., Tenant],
                                        api_headers: Headers) -> None:
    """GIVEN a user who belongs to two tenants, with a token issued for tenant B
    WHEN they create a request with that token
    THEN it is filed in tenant B, and tenant A's requests are out of its reach."""
    other = make_tenant()
    identity_service.add_user(rt.db, Principal.system(other.id, "test"), UserIn(
        email=user.email, name=user.name, role=Role.REQUESTER), join_existing=True)
    in_a = client.post("/api/v1/requests", headers=api_headers(user),
                       json={"title": "A", "body": "A"}).json()
    b_headers = api_headers(user, other)
    in_b = client.post("/api/v1/requests", headers=b_headers,
                       json={"title": "B", "body": "B"}).json()
    assert client.get(f"/api/v1/requests/{in_b['id']}", headers=b_headers).status_code == 200
    assert client.get(f"/api/v1/requests/{in_b['id']}",
                      headers=api_headers(user)).status_code == 404
    assert client.get(f"/api/v1/requests/{in_a['id']}", headers=b_headers).status_code == 404
    listed = client.get("/api/v1/requests", headers=b_headers).json()
    assert [r["id"] for r in listed["items"]] == [in_b["id"]]


# --- tenants --------------------------------------------------------------------------------


def test_another_tenants_admin_cannot_take_over_an_account(
        client: TestClient, rt: Runtime, admin: User, make_tenant: Callable[..., Tenant],
        make_user: Callable[..., User], login: Callable[[str], str]) -> None:
    """GIVEN tenant A's admin, and the admin of another tenant B
    WHEN B's admin "adds" A's admin's e-mail address to B with a password of their choosing
    THEN A's admin's password is unchanged: the new password does not log in."""
    other = make_tenant()
    intruder = make_user(Role.ADMIN, tenant_obj=other)
    csrf = login(intruder.email)
    client.post("/admin/users", data={"email": admin.email, "name": "乗っ取り",
                                      "role": "requester", "password": "intruder-pass-1",
                                      "csrf_token": csrf})
    client.post("/logout", data={"csrf_token": csrf})
    assert _attempt(client, admin.email, "intruder-pass-1").status_code == 401
    assert _attempt(client, admin.email, PASSWORD).status_code == 303


def test_switching_to_a_tenant_one_does_not_belong_to_is_404(
        client: TestClient, user: User, make_tenant: Callable[..., Tenant],
        login: Callable[[str], str]) -> None:
    """GIVEN a user of tenant A and an existing tenant B they do not belong to
    WHEN they try to switch to B (or to a tenant id that does not exist)
    THEN both answer 404: B's existence is not revealed; the session stays in A."""
    other = make_tenant()
    csrf = login(user.email)
    for tenant_id in (other.id, 987654):
        response = client.post("/switch-tenant", data={"tenant_id": str(tenant_id),
                                                       "csrf_token": csrf},
                               follow_redirects=False)
        assert response.status_code == 404
        assert "<code>not_found</code>" in response.text
    assert "さくら精機株式会社" in client.get("/portal").text


def test_switching_between_own_tenants(client: TestClient, rt: Runtime, user: User,
                                       make_tenant: Callable[..., Tenant],
                                       login: Callable[[str], str]) -> None:
    other = make_tenant(name="かえで商事株式会社")
    identity_service.add_user(rt.db, Principal.system(other.id, "test"), UserIn(
        email=user.email, name=user.name, role=Role.REQUESTER), join_existing=True)
    csrf = login(user.email)
    response = client.post("/switch-tenant", data={"tenant_id": str(other.id),
                                                   "csrf_token": csrf},
                           follow_redirects=False)
    assert response.status_code == 303
    assert 'id="tenant-name">かえで商事株式会社<' in client.get("/portal").text


def test_many_accounts_from_one_address_are_throttled(client, make_user) -> None:
    """GIVEN one address trying wrong passwords on many accounts (password spraying)
    WHEN it passes four times the per-account limit THEN further logins from it are refused
    with rate_limited, even for an account it has not tried yet."""
    victims = [make_user("requester", email=f"v{i}@example.co.jp") for i in range(7)]
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    for victim in victims[:5]:
        for _ in range(4):
            client.post("/login", data={"email": victim.email, "password": "wrong-password",
                                        "csrf_token": token})
    last = client.post("/login", data={"email": victims[6].email, "password": "wrong-password",
                                       "csrf_token": token})
    assert last.status_code == 429


def test_disabling_in_one_tenant_does_not_lock_out_another(rt, make_tenant, make_user) -> None:
    """GIVEN a BPaaS operator who works for tenants A and B WHEN B's admin disables them
    in B THEN they can no longer act in B, but still log in and work in A."""
    from ushiro.core.errors import UshiroError
    from ushiro.identity import Role, UserIn
    from ushiro.identity import service as identity_service

    tenant_b = make_tenant("tenant-b", "B社")
    shared = make_user(Role.OPERATOR, email="shared@bpaas.example")
    identity_service.add_user(rt.db, Principal.system(tenant_b.id, "test"), UserIn(
        email=shared.email, name="共有 担当", role=Role.OPERATOR), join_existing=True)
    admin_b = make_user(Role.ADMIN, email="admin-b@example.co.jp", tenant_obj=tenant_b)
    admin_b_principal = identity_service.principal(rt.db, admin_b.id, tenant_b.id)
    identity_service.update_member(rt.db, admin_b_principal, shared.id, active=False)

    signed_in = identity_service.login(rt.db, rt.settings, shared.email, "correct-horse-42")
    assert [t.slug for t in signed_in.tenants] == ["sakura"]
    try:
        identity_service.principal(rt.db, shared.id, tenant_b.id)
        raise AssertionError("the disabled membership must not give a principal")
    except UshiroError as error:
        assert error.code == "auth_failed"
