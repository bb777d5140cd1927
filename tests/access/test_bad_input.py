"""Bad input: every refusal carries a stable code and a Japanese message that says what to
fix, and stores nothing — no request, message, attachment, file or audit event."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ushiro import identity
from ushiro.app import create_app
from ushiro.audit import AuditEvent
from ushiro.core.runtime import Runtime
from ushiro.desk.models import Attachment, Message, Request, RequestTag
from ushiro.identity import Category, Department, Role, Tenant, User

PASSWORD = "correct-horse-42"
Headers = Callable[..., dict[str, str]]


@pytest.fixture
def requester(make_user: Callable[..., User]) -> User:
    return make_user(Role.REQUESTER, name="総務 花子")


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user(Role.ADMIN, name="管理 一郎")


MODELS = {"requests": Request, "messages": Message, "attachments": Attachment,
          "tags": RequestTag, "audit": AuditEvent, "categories": Category,
          "departments": Department}


def snapshot(rt: Runtime) -> dict[str, int]:
    """Row counts of everything a write could leave behind, plus stored files."""
    with rt.db.reading() as session:
        counts = {name: int(session.scalar(select(func.count()).select_from(model)) or 0)
                  for name, model in MODELS.items()}
    root = rt.files.root
    counts["files"] = sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0
    return counts


@pytest.fixture
def unchanged(rt: Runtime) -> Iterator[Callable[[], None]]:
    """Call ``mark()`` when the world is set up; the test then ends by asserting that
    nothing was stored since."""
    state: dict[str, dict[str, int]] = {}

    def mark() -> None:
        state["before"] = snapshot(rt)

    yield mark
    assert "before" in state, "the test forgot to mark its starting point"
    assert snapshot(rt) == state["before"], "something was stored despite the refusal"


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text[:2000]
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    return error


def _page_error(response: Any, status: int, code: str, message: str) -> None:
    assert response.status_code == status, response.text[:2000]
    assert f"<code>{code}</code>" in response.text
    assert message in response.text


def _csrf(page_text: str) -> str:
    return page_text.split('name="csrf_token" value="')[1].split('"')[0]


def _login(c: TestClient, email: str) -> str:
    token = _csrf(c.get("/login").text)
    response = c.post("/login", data={"email": email, "password": PASSWORD,
                                      "csrf_token": token, "next": "/"},
                      follow_redirects=False)
    assert response.status_code == 303, response.text
    return _csrf(c.get("/portal").text)


@pytest.fixture
def small_client(rt: Runtime) -> Iterator[TestClient]:
    """The app with a 1,000-byte attachment limit (so a body limit of ~1 MiB)."""
    small = Runtime(rt.settings.model_copy(update={"max_attachment_bytes": 1000}), rt.db)
    with TestClient(create_app(rt=small), base_url="http://testserver") as c:
        yield c


# --- API: creating a request ------------------------------------------------------------------

VALID = {"title": "コピー用紙の補充", "body": "2階のコピー機の用紙が切れています。"}

# (id, request kwargs, field at fault, Japanese message fragment)
BAD_CREATE: list[tuple[str, dict[str, Any], str, str]] = [
    ("invalid-json", {"content": b'{"title": "x", ', "headers": {"Content-Type":
                                                                 "application/json"}},
     "body", "JSON として読み取れません"),
    ("not-an-object", {"json": ["title", "body"]}, "body", "JSON オブジェクトで指定してください"),
    ("missing-title", {"json": {"body": "本文"}}, "title", "必須項目です"),
    ("missing-body", {"json": {"title": "件名"}}, "body", "必須項目です"),
    ("empty-title", {"json": {**VALID, "title": ""}}, "title", "空にはできません"),
    ("title-too-long", {"json": {**VALID, "title": "あ" * 301}}, "title",
     "長すぎます(最大 300 文字)"),
    ("body-too-long", {"json": {**VALID, "body": "x" * 100_001}}, "body",
     "長すぎます(最大 100000 文字)"),
    ("unknown-field", {"json": {**VALID, "assignee_id": 1}}, "assignee_id",
     "この項目は受け付けていません"),
    ("title-not-a-string", {"json": {**VALID, "title": 123}}, "title",
     "文字列で指定してください"),
    ("body-null", {"json": {**VALID, "body": None}}, "body", "文字列で指定してください"),
    ("priority-unknown", {"json": {**VALID, "priority": "asap"}}, "priority",
     "次のいずれかを指定してください"),
    ("tags-not-a-list", {"json": {**VALID, "tags": "至急"}}, "tags", "配列で指定してください"),
    ("too-many-tags", {"json": {**VALID, "tags": [f"t{i}" for i in range(21)]}}, "tags",
     "多すぎます(最大 20 件)"),
    ("blank-title", {"json": {**VALID, "title": "   \u3000 "}}, "title",
     "件名を入力してください"),
    ("control-only-title", {"json": {**VALID, "title": "\u0000\u0007\u001b"}}, "title",
     "件名を入力してください"),
    ("blank-body", {"json": {**VALID, "body": "\n\t \n"}}, "body", "内容を入力してください"),
    ("unknown-category", {"json": {**VALID, "category": "宇宙旅行"}}, "category",
     "カテゴリ「宇宙旅行」は存在しません"),
]


@pytest.mark.parametrize(("kwargs", "field", "message"), [c[1:] for c in BAD_CREATE],
                         ids=[c[0] for c in BAD_CREATE])
def test_bad_create_is_refused_and_stores_nothing(client: TestClient, requester: User,
                                                  api_headers: Headers,
                                                  unchanged: Callable[[], None],
                                                  kwargs: dict[str, Any], field: str,
                                                  message: str) -> None:
    """GIVEN a requester with an API token
    WHEN they post a malformed request
    THEN 422 ``validation_error`` names the field in a Japanese message; nothing is stored."""
    headers = api_headers(requester)
    unchanged()
    extra_headers = kwargs.pop("headers", {})
    response = client.post("/api/v1/requests", headers={**headers, **extra_headers}, **kwargs)
    error = _error(response, 422, "validation_error")
    assert error["field"] == field
    assert message in error["message"]
    assert error["message"].startswith("入力内容に誤りがあります。") or error["message"].startswith(
        f"{field}: ")


def test_body_over_the_server_limit_is_413(small_client: TestClient, requester: User, api_headers: Headers,
                                           unchanged: Callable[[], None]) -> None:
    """GIVEN the body limit (10 attachments' worth plus 1 MiB)
    WHEN a larger body is sent
    THEN 413 ``payload_too_large`` before anything is read, with the limit in Japanese."""
    headers = api_headers(requester)
    unchanged()
    limit = 1000 * 10 + 1024 * 1024
    payload = json.dumps({**VALID, "body": "x" * limit}).encode()
    assert len(payload) > limit
    response = small_client.post("/api/v1/requests", content=payload,
                                 headers={**headers, "Content-Type": "application/json"})
    error = _error(response, 413, "payload_too_large")
    assert "送信データが大きすぎます" in error["message"]
    assert f"上限は {limit:,} バイトです" in error["message"]


def _chunks(payload: bytes, size: int = 64 * 1024) -> Iterator[bytes]:
    # A generator body goes out chunked, with no Content-Length to refuse it by.
    for start in range(0, len(payload), size):
        yield payload[start:start + size]


def test_chunked_body_over_the_server_limit_is_413(small_client: TestClient, requester: User,
                                                   api_headers: Headers,
                                                   unchanged: Callable[[], None]) -> None:
    """GIVEN the body limit
    WHEN a larger body is sent chunked, without Content-Length
    THEN reading stops at the limit with the same 413 ``payload_too_large``, and nothing is
    stored."""
    headers = api_headers(requester)
    unchanged()
    limit = 1000 * 10 + 1024 * 1024
    payload = json.dumps({**VALID, "body": "x" * limit}).encode()
    response = small_client.post("/api/v1/requests", content=_chunks(payload),
                                 headers={**headers, "Content-Type": "application/json"})
    error = _error(response, 413, "payload_too_large")
    assert f"上限は {limit:,} バイトです" in error["message"]


def test_chunked_body_under_the_limit_is_accepted(small_client: TestClient, requester: User,
                                                  api_headers: Headers) -> None:
    """GIVEN the body limit
    WHEN a body under it is sent chunked
    THEN the request is created as usual."""
    payload = json.dumps({**VALID, "body": "出張旅費の精算です。" * 1000}).encode()
    response = small_client.post("/api/v1/requests", content=_chunks(payload, 4096),
                                 headers={**api_headers(requester),
                                          "Content-Type": "application/json"})
    assert response.status_code == 201, response.text


def test_oversized_attachment_is_refused(small_client: TestClient, requester: User,
                                         unchanged: Callable[[], None]) -> None:
    """GIVEN an attachment limit of 1,000 bytes
    WHEN an employee submits the portal form with a 5,000-byte file
    THEN 413 ``payload_too_large`` names the file and the limit; no request, attachment or
    file is stored."""
    csrf = _login(small_client, requester.email)
    unchanged()
    response = small_client.post(
        "/portal/new", data={"title": "見積書", "body": "添付します。", "csrf_token": csrf},
        files=[("files", ("見積書.pdf", b"%PDF" + b"0" * 4996, "application/pdf"))],
        follow_redirects=False)
    _page_error(response, 413, "payload_too_large", "添付ファイル「見積書.pdf」が大きすぎます")
    assert "上限は 1,000 バイトです" in response.text


def test_too_many_attachments_are_refused(client: TestClient, requester: User,
                                          login: Callable[[str], str],
                                          unchanged: Callable[[], None]) -> None:
    csrf = login(requester.email)
    unchanged()
    files = [("files", (f"写真{i}.jpg", b"jpeg", "image/jpeg")) for i in range(11)]
    response = client.post("/portal/new", data={"title": "写真", "body": "11枚",
                                                "csrf_token": csrf},
                           files=files, follow_redirects=False)
    _page_error(response, 422, "validation_error", "添付ファイルは 10 個までです。")


# --- content is kept verbatim but never executed ------------------------------------------------

SCRIPT_TITLE = "<script>alert('title')</script>見積"
SCRIPT_BODY = '<img src=x onerror="alert(1)"><script>alert("body")</script>'


def test_markup_is_stored_verbatim_and_rendered_escaped(
        client: TestClient, requester: User, admin: User, api_headers: Headers,
        login: Callable[[str], str]) -> None:
    """GIVEN a request whose title, body, tag and reply contain HTML and script
    WHEN it is read through the API and shown on the desk and the portal
    THEN the API returns the text exactly as sent, and every page shows it escaped."""
    created = client.post("/api/v1/requests", headers=api_headers(requester),
                          json={"title": SCRIPT_TITLE, "body": SCRIPT_BODY,
                                "tags": ["<b>tag</b>"]})
    assert created.status_code == 201
    request_id = created.json()["id"]
    reply = client.post(f"/api/v1/requests/{request_id}/replies", headers=api_headers(admin),
                        json={"body": "<script>alert('reply')</script>"})
    assert reply.status_code == 201
    stored = client.get(f"/api/v1/requests/{request_id}", headers=api_headers(requester)).json()
    assert (stored["title"], stored["body"], stored["tags"]) == (
        SCRIPT_TITLE, SCRIPT_BODY, ["<b>tag</b>"])
    assert stored["messages"][0]["body"] == "<script>alert('reply')</script>"

    def assert_escaped(text: str, *fragments: str) -> None:
        assert "<script>alert" not in text
        assert "<img src=x" not in text
        assert "<b>tag" not in text
        for fragment in fragments:
            assert fragment in text

    login(admin.email)
    assert_escaped(client.get("/desk").text, "&lt;script&gt;alert(", "&lt;b&gt;tag")
    assert_escaped(client.get(f"/desk/requests/{request_id}").text,
                   "&lt;script&gt;alert(", "&lt;img src=x onerror=")
    login(requester.email)
    assert_escaped(client.get("/portal").text, "&lt;script&gt;alert(")
    assert_escaped(client.get(f"/portal/requests/{request_id}").text,
                   "&lt;script&gt;alert(", "&lt;img src=x onerror=")
    assert_escaped(client.get("/portal/chat", params={"request_id": request_id}).text,
                   "&lt;script&gt;alert(")


def test_control_characters_are_stripped(client: TestClient, requester: User,
                                         api_headers: Headers) -> None:
    """GIVEN title and body with NUL, BEL, ESC, DEL, C1 controls and CR/LF
    WHEN the request is created
    THEN the controls are gone, newlines are unified (a title is one line), tabs stay."""
    response = client.post("/api/v1/requests", headers=api_headers(requester), json={
        "title": "経費\u0000精算\u0007の\r\n件\u001b\u007f",
        "body": "一行目\r\n二行目\r三行目\u0085\u0000\n\t字下げ\u000c",
        "tags": ["至\u0000急"]})
    assert response.status_code == 201
    body = response.json()
    assert body["title"] == "経費精算の 件"
    assert body["body"] == "一行目\n二行目\n三行目\n\t字下げ"
    assert body["tags"] == ["至急"]


# --- API: changing a request ------------------------------------------------------------------


@pytest.fixture
def request_id(client: TestClient, requester: User, api_headers: Headers) -> int:
    response = client.post("/api/v1/requests", headers=api_headers(requester),
                           json={**VALID, "category": "備品・消耗品"})
    assert response.status_code == 201
    return int(response.json()["id"])


def _foreign_category_id(rt: Runtime, other: Tenant) -> int:
    with rt.db.reading() as session:
        category = identity.category_by_name(session, other.id, "経費精算")
        assert category is not None
        return category.id


@pytest.mark.parametrize("case", ["foreign-category", "missing-category", "assignee-requester",
                                  "assignee-foreign-admin", "assignee-missing",
                                  "status-unknown", "work-type-unknown", "due-not-a-date",
                                  "unknown-field"])
def test_bad_change_is_refused_and_changes_nothing(
        client: TestClient, rt: Runtime, request_id: int, requester: User, admin: User,
        make_tenant: Callable[..., Tenant], make_user: Callable[..., User],
        api_headers: Headers, unchanged: Callable[[], None], case: str) -> None:
    """GIVEN a request of tenant A
    WHEN staff set another tenant's (or a missing) category, a non-staff or foreign
    assignee, or malformed values
    THEN 422 names the field in Japanese, and the request, its tags and the audit log are as
    they were."""
    other = make_tenant()
    foreign_admin = make_user(Role.ADMIN, tenant_obj=other)
    expected: dict[str, tuple[dict[str, Any], str, str]] = {
        "foreign-category": ({"category_id": _foreign_category_id(rt, other)}, "category",
                             "は存在しません"),
        "missing-category": ({"category_id": 999_999}, "category", "は存在しません"),
        "assignee-requester": ({"assignee_id": requester.id}, "assignee_id",
                               "担当者はこのテナントの担当者・承認者・管理者から選んでください"),
        "assignee-foreign-admin": ({"assignee_id": foreign_admin.id}, "assignee_id",
                                   "担当者はこのテナントの担当者・承認者・管理者から選んでください"),
        "assignee-missing": ({"assignee_id": 999_999}, "assignee_id", "担当者は"),
        "status-unknown": ({"status": "done"}, "status", "次のいずれかを指定してください"),
        "work-type-unknown": ({"work_type": "magic"}, "work_type", "次のいずれかを指定してください"),
        "due-not-a-date": ({"due_at": "来週"}, "due_at", "日時の形式が正しくありません"),
        "unknown-field": ({"title": "書き換え"}, "title", "この項目は受け付けていません"),
    }
    payload, field, message = expected[case]
    headers = api_headers(admin)
    before = client.get(f"/api/v1/requests/{request_id}", headers=headers).json()
    unchanged()
    # Valid changes alongside the bad one must not be applied either.
    response = client.patch(f"/api/v1/requests/{request_id}", headers=headers,
                            json={"priority": "urgent", "tags": ["変更"], **payload})
    error = _error(response, 422, "validation_error")
    assert error["field"] == field
    assert message in error["message"]
    after = client.get(f"/api/v1/requests/{request_id}", headers=headers).json()
    assert after == before


@pytest.mark.parametrize(("payload", "field", "message"), [
    ({"body": ""}, "body", "空にはできません"),
    ({"body": " \n\u3000"}, "body", "本文を入力してください"),
    ({"body": "返信", "kind": "email"}, "kind", "次のいずれかを指定してください"),
    ({"body": "返信", "status": "finished"}, "status", "次のいずれかを指定してください"),
    ({"body": "x" * 100_001}, "body", "長すぎます"),
], ids=["empty", "blank", "unknown-kind", "unknown-status", "too-long"])
def test_bad_reply_is_refused(client: TestClient, request_id: int, admin: User,
                              api_headers: Headers, unchanged: Callable[[], None],
                              payload: dict[str, Any], field: str, message: str) -> None:
    headers = api_headers(admin)
    unchanged()
    response = client.post(f"/api/v1/requests/{request_id}/replies", headers=headers,
                           json=payload)
    error = _error(response, 422, "validation_error")
    assert error["field"] == field
    assert message in error["message"]


def test_bad_follow_up_is_refused(client: TestClient, request_id: int, requester: User,
                                  api_headers: Headers, unchanged: Callable[[], None]) -> None:
    headers = api_headers(requester)
    unchanged()
    for payload, field in (({"body": "\u0000 "}, "body"), ({}, "body"),
                           ({"body": "追記", "kind": "note"}, "kind")):
        response = client.post(f"/api/v1/requests/{request_id}/follow-ups", headers=headers,
                               json=payload)
        assert _error(response, 422, "validation_error")["field"] == field


@pytest.mark.parametrize("params", [{"page": "0"}, {"per_page": "500"}, {"work_type": "x"},
                                    {"assignee_id": "me"}, {"status": "in-progress"}])
def test_bad_list_parameters_are_422(client: TestClient, requester: User, api_headers: Headers,
                                     params: dict[str, str]) -> None:
    response = client.get("/api/v1/requests", headers=api_headers(requester), params=params)
    error = _error(response, 422, "validation_error")
    assert error["field"] == next(iter(params))
    assert error["message"].startswith("入力内容に誤りがあります。")


# --- pages: forms ---------------------------------------------------------------------------


@pytest.mark.parametrize(("form", "message"), [
    ({"body": "", "kind": "outbound"}, "入力内容に誤りがあります"),
    ({"body": "  ", "kind": "outbound"}, "本文を入力してください"),
    ({"body": "返信", "kind": "fax"}, "次のいずれかを指定してください"),
    ({"body": "返信", "kind": "outbound", "status": "finished"}, "次のいずれかを指定してください"),
], ids=["empty", "blank", "unknown-kind", "unknown-status"])
def test_bad_reply_form_is_refused(client: TestClient, request_id: int, admin: User,
                                   login: Callable[[str], str], unchanged: Callable[[], None],
                                   form: dict[str, str], message: str) -> None:
    """GIVEN an operator on the request page
    WHEN the reply form arrives with an empty body or an unknown kind or status
    THEN the page answers 422 with a Japanese message (never a server error)."""
    csrf = login(admin.email)
    unchanged()
    response = client.post(f"/desk/requests/{request_id}/reply",
                           data={**form, "csrf_token": csrf}, follow_redirects=False)
    _page_error(response, 422, "validation_error", message)


@pytest.mark.parametrize("form", [{"status": "done"}, {"priority": "asap"},
                                  {"work_type": "magic"}, {"status": "closed",
                                                           "assignee_id": "999999"}],
                         ids=["status", "priority", "work-type", "assignee"])
def test_bad_update_form_is_refused(client: TestClient, request_id: int, admin: User,
                                    login: Callable[[str], str], unchanged: Callable[[], None],
                                    form: dict[str, str]) -> None:
    """GIVEN an operator on the request page
    WHEN the update form carries a value that is not one of the choices
    THEN 422 with a Japanese message, and nothing changes (not even the valid fields)."""
    csrf = login(admin.email)
    unchanged()
    response = client.post(f"/desk/requests/{request_id}/update",
                           data={**form, "csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 422, response.text[:2000]
    assert "<code>validation_error</code>" in response.text


@pytest.mark.parametrize(("form", "message"), [
    ({"title": "件名", "body": "本文", "category": "宇宙旅行"}, "カテゴリ「宇宙旅行」は存在しません"),
    ({"title": " ", "body": "本文"}, "件名を入力してください"),
    ({"title": "件名", "body": "\u0000"}, "内容を入力してください"),
    ({"title": "件名", "body": "x" * 100_001}, "内容が長すぎます"),
    ({"body": "本文"}, "必須項目です"),
], ids=["unknown-category", "blank-title", "blank-body", "body-too-long", "missing-title"])
def test_bad_portal_form_is_refused(client: TestClient, requester: User,
                                    login: Callable[[str], str], unchanged: Callable[[], None],
                                    form: dict[str, str], message: str) -> None:
    csrf = login(requester.email)
    unchanged()
    response = client.post("/portal/new", data={**form, "csrf_token": csrf},
                           follow_redirects=False)
    _page_error(response, 422, "validation_error", message)


@pytest.mark.parametrize(("form", "status", "code", "message"), [
    ({"message": "  "}, 422, "validation_error", "メッセージを入力してください"),
    ({"message": "x" * 100_001}, 422, "validation_error", "長すぎます"),
    ({"message": "続き", "request_id": "999999"}, 404, "not_found", "依頼が見つかりません"),
], ids=["blank", "too-long", "missing-request"])
def test_bad_chat_message_is_refused(client: TestClient, requester: User,
                                     login: Callable[[str], str], unchanged: Callable[[], None],
                                     form: dict[str, str], status: int, code: str,
                                     message: str) -> None:
    csrf = login(requester.email)
    unchanged()
    response = client.post("/portal/chat", data={**form, "csrf_token": csrf},
                           follow_redirects=False)
    _page_error(response, status, code, message)


@pytest.mark.parametrize(("url", "form", "message"), [
    ("/admin/users", {"email": "not-an-address", "name": "新人", "role": "requester"},
     "メールアドレスの形式が正しくありません"),
    ("/admin/users", {"email": "new@example.co.jp", "name": "新人", "role": "requester",
                      "password": "short"}, "入力内容に誤りがあります"),
    ("/admin/users", {"email": "new@example.co.jp", "name": "新人", "role": "boss"},
     "次のいずれかを指定してください"),
    ("/admin/users", {"email": "new@example.co.jp", "name": "新人", "role": "operator",
                      "departments": "宇宙部"}, "部門「宇宙部」は存在しません"),
    ("/admin/departments", {"name": " "}, "部門名を入力してください"),
    ("/admin/departments", {"name": "経理"}, "部門「経理」は既にあります"),  # 409
    ("/admin/categories", {"department_id": "999999", "name": "新カテゴリ"}, "部門を選択してください"),
    ("/admin/categories", {"department_id": "x", "name": "新カテゴリ"}, "整数で指定してください"),
    ("/admin/mail", {"imap_port": "imap"}, "整数で指定してください"),
    ("/admin/mail", {"smtp_port": "70000"}, "65535 以下にしてください"),
    ("/admin/mail", {"address": "desk"}, "送信元アドレスの形式が正しくありません"),
    ("/admin/mail", {"smtp_security": "tls13"}, "次のいずれかを指定してください"),
], ids=["user-email", "user-password", "user-role", "user-department", "dept-blank",
        "dept-duplicate", "category-missing-dept", "category-dept-not-int", "mail-port",
        "mail-port-range", "mail-address", "mail-security"])
def test_bad_admin_forms_are_refused(client: TestClient, admin: User,
                                     login: Callable[[str], str], unchanged: Callable[[], None],
                                     url: str, form: dict[str, str], message: str) -> None:
    """GIVEN an admin on the administration pages
    WHEN a form arrives with a malformed or unknown value
    THEN 422/409 with a Japanese message, never a server error, and nothing is stored."""
    csrf = login(admin.email)
    unchanged()
    response = client.post(url, data={**form, "csrf_token": csrf}, follow_redirects=False)
    if "既にあります" in message:
        _page_error(response, 409, "conflict", message)
    else:
        _page_error(response, 422, "validation_error", message)


def test_bad_category_work_type_is_refused(client: TestClient, rt: Runtime, tenant: Tenant,
                                           admin: User, login: Callable[[str], str],
                                           unchanged: Callable[[], None]) -> None:
    with rt.db.reading() as session:
        department = next(d for d in identity.departments(session, tenant.id) if d.name == "経理")
    csrf = login(admin.email)
    unchanged()
    response = client.post("/admin/categories", follow_redirects=False,
                           data={"department_id": str(department.id), "name": "新カテゴリ",
                                 "work_type": "magic", "csrf_token": csrf})
    _page_error(response, 422, "validation_error", "次のいずれかを指定してください")



def test_blank_choices_in_the_update_form_keep_the_values(client: TestClient, rt: Runtime,
                                                          request_id: int, admin: User,
                                                          login: Callable[[str], str],
                                                          api_headers: Headers) -> None:
    """GIVEN the request page's update form, where "-" choices arrive as empty strings
    WHEN it is saved with an empty work type and category and only the priority changed
    THEN the blanks mean "keep" and only the priority changes."""
    csrf = login(admin.email)
    response = client.post(f"/desk/requests/{request_id}/update", follow_redirects=False,
                           data={"status": "", "category_id": "", "work_type": "",
                                 "priority": "high", "assignee_id": "none", "tags": "",
                                 "csrf_token": csrf})
    assert response.status_code == 303, response.text[:2000]
    reply = client.post(f"/desk/requests/{request_id}/reply", follow_redirects=False,
                        data={"body": "確認中です。", "kind": "note", "status": "",
                              "csrf_token": csrf})
    assert reply.status_code == 303, reply.text[:2000]
    stored = client.get(f"/api/v1/requests/{request_id}", headers=api_headers(admin)).json()
    assert (stored["priority"], stored["category"] is not None, stored["work_type"]) == (
        "high", True, "transcription")
    assert stored["status"] == "triaged"
