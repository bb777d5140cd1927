"""The REST API for requests (/api/v1/requests) through HTTP with bearer tokens."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ushiro import identity
from ushiro.audit import AuditEvent
from ushiro.core.runtime import Runtime
from ushiro.desk.models import Message, Request
from ushiro.identity import Role, Tenant, User

Headers = Callable[..., dict[str, str]]


@pytest.fixture
def requester(make_user: Callable[..., User]) -> User:
    return make_user(Role.REQUESTER, name="経理 次郎", email="jiro@example.co.jp")


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user(Role.ADMIN, name="管理 一郎")


def _create(client: TestClient, headers: dict[str, str], **fields: object) -> dict:
    body = {"title": "出張旅費の精算", "body": "大阪出張の新幹線代です。", **fields}
    response = client.post("/api/v1/requests", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _count(rt: Runtime, model: type) -> int:
    with rt.db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _db_request(rt: Runtime, request_id: int) -> Request:
    with rt.db.reading() as session:
        found = session.get(Request, request_id)
        assert found is not None
        return found


# --- create ---------------------------------------------------------------------------------


def test_create_stores_the_request(client: TestClient, rt: Runtime, requester: User,
                                   api_headers: Headers) -> None:
    """GIVEN a requester with an API token
    WHEN they post a request with a category, priority and tags
    THEN it is stored as new, filed under the category's department and work type, with a
    REQ-n reference, and the creation is audited."""
    headers = api_headers(requester)
    audit_before = _count(rt, AuditEvent)
    created = _create(client, headers, category="旅費・出張", priority="high",
                      tags=["出張", "新幹線", "出張"])
    assert created["title"] == "出張旅費の精算"
    assert created["body"] == "大阪出張の新幹線代です。"
    assert created["status"] == "new"
    assert created["channel"] == "api"
    assert created["priority"] == "high"
    assert created["category"] == "旅費・出張"
    assert created["department"] == "経理"
    assert created["work_type"] == "judgment"
    assert created["tags"] == ["出張", "新幹線"]
    assert created["requester"] == "jiro@example.co.jp"
    # The 201 is built without reading the request back: it must say what a read says.
    assert client.get(f"/api/v1/requests/{created['id']}", headers=headers).json() == created
    assert created["reference"] == f"REQ-{created['number']}"
    assert created["assignee"] is None and created["due_at"] is not None
    stored = _db_request(rt, created["id"])
    assert (stored.title, stored.requester_id, stored.channel) == (
        "出張旅費の精算", requester.id, "api")
    assert _count(rt, AuditEvent) == audit_before + 1
    fetched = client.get(f"/api/v1/requests/{created['id']}", headers=headers)
    assert fetched.status_code == 200
    assert {k: v for k, v in fetched.json().items() if k != "messages"} == {
        k: v for k, v in created.items() if k != "messages"}


def test_numbers_count_up_per_tenant(client: TestClient, requester: User, api_headers: Headers,
                                     make_tenant: Callable[..., Tenant],
                                     make_user: Callable[..., User]) -> None:
    """GIVEN two tenants
    WHEN requests are created in both
    THEN each tenant numbers its own requests 1, 2, … without gaps."""
    other = make_tenant()
    stranger = make_user(Role.REQUESTER, tenant_obj=other)
    first = _create(client, api_headers(requester))
    second = _create(client, api_headers(requester))
    elsewhere = _create(client, api_headers(stranger, other))
    assert (first["number"], second["number"], elsewhere["number"]) == (1, 2, 1)


def test_idempotency_key_returns_the_same_request(client: TestClient, rt: Runtime,
                                                  requester: User,
                                                  api_headers: Headers) -> None:
    """GIVEN a create call sent with an Idempotency-Key
    WHEN it is retried with the same key and the same payload
    THEN the first request is returned again and only one request and one audit event are
    stored; a new key creates a new request (another payload: tests/desk/test_idempotency)."""
    headers = {**api_headers(requester), "Idempotency-Key": "order-2026-0001"}
    requests_before, audit_before = _count(rt, Request), _count(rt, AuditEvent)
    first = client.post("/api/v1/requests", headers=headers,
                        json={"title": "名刺の発注", "body": "100枚お願いします。"})
    again = client.post("/api/v1/requests", headers=headers,
                        json={"title": "名刺の発注", "body": "100枚お願いします。"})
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert _count(rt, Request) == requests_before + 1
    assert _count(rt, AuditEvent) == audit_before + 1
    other = client.post("/api/v1/requests",
                        headers={**api_headers(requester), "Idempotency-Key": "order-2026-0002"},
                        json={"title": "名刺の発注", "body": "100枚お願いします。"})
    assert other.json()["id"] != first.json()["id"]


def test_idempotency_keys_are_per_tenant(client: TestClient, requester: User,
                                         api_headers: Headers,
                                         make_tenant: Callable[..., Tenant],
                                         make_user: Callable[..., User]) -> None:
    """GIVEN a request created in tenant A with a key
    WHEN tenant B uses the same key
    THEN B gets its own request, never A's."""
    other = make_tenant()
    stranger = make_user(Role.REQUESTER, tenant_obj=other)
    mine = client.post("/api/v1/requests",
                       headers={**api_headers(requester), "Idempotency-Key": "k-1"},
                       json={"title": "A社の件", "body": "A社の本文"})
    theirs = client.post("/api/v1/requests",
                         headers={**api_headers(stranger, other), "Idempotency-Key": "k-1"},
                         json={"title": "B社の件", "body": "B社の本文"})
    assert theirs.status_code == 201
    assert theirs.json()["id"] != mine.json()["id"]
    assert theirs.json()["title"] == "B社の件"


@pytest.mark.parametrize("category", ["存在しないカテゴリ", "999999"])
def test_unknown_category_is_refused(client: TestClient, rt: Runtime, requester: User,
                                     api_headers: Headers, category: str) -> None:
    """GIVEN a category name (or id) that the tenant does not have
    WHEN a request is created with it
    THEN 422 names the field ``category`` in Japanese, and nothing is stored."""
    before = _count(rt, Request)
    response = client.post("/api/v1/requests", headers=api_headers(requester),
                           json={"title": "件名", "body": "本文", "category": category})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["field"] == "category"
    assert f"カテゴリ「{category}」は存在しません" in error["message"]
    assert _count(rt, Request) == before


def test_inactive_category_is_refused(client: TestClient, requester: User, admin: User,
                                      login: Callable[[str], str], rt: Runtime,
                                      api_headers: Headers, tenant: Tenant) -> None:
    """GIVEN a category the admin has switched off
    WHEN a request is created with it
    THEN 422 on field ``category``."""
    with rt.db.reading() as session:
        category = identity.category_by_name(session, tenant.id, "来客対応")
        assert category is not None
    csrf = login(admin.email)
    client.post(f"/admin/categories/{category.id}/active",
                data={"active": "0", "csrf_token": csrf})
    response = client.post("/api/v1/requests", headers=api_headers(requester),
                           json={"title": "来客", "body": "明日10時", "category": "来客対応"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "category"


# --- list, get ------------------------------------------------------------------------------


def test_list_filters_by_status_and_text(client: TestClient, requester: User, admin: User,
                                         api_headers: Headers) -> None:
    """GIVEN three requests, one of them in progress, one mentioning 領収書 only in a reply
    WHEN staff list with ``status`` and ``q``
    THEN only the matching requests are returned, with the right total."""
    mine = api_headers(requester)
    staff = api_headers(admin)
    a = _create(client, mine, title="交通費の精算", body="領収書を添付します。")
    b = _create(client, mine, title="社用車の予約", body="来週月曜に使います。")
    c = _create(client, mine, title="備品の購入", body="ボールペン10本")
    client.patch(f"/api/v1/requests/{b['id']}", headers=staff, json={"status": "in_progress"})
    client.post(f"/api/v1/requests/{c['id']}/replies", headers=staff,
                json={"body": "領収書の原本を総務へ提出してください。", "kind": "outbound"})

    def ids(**params: str) -> list[int]:
        response = client.get("/api/v1/requests", headers=staff, params=params)
        assert response.status_code == 200
        body = response.json()
        assert body["total"] == len(body["items"])
        return sorted(item["id"] for item in body["items"])

    assert ids() == sorted([a["id"], b["id"], c["id"]])
    assert ids(status="new") == [a["id"]]
    assert ids(status="in_progress") == sorted([b["id"], c["id"]])
    assert ids(q="領収書") == sorted([a["id"], c["id"]])
    assert ids(q="社用車") == [b["id"]]
    assert ids(q="領収書", status="new") == [a["id"]]
    assert ids(q="jiro@example") == sorted([a["id"], b["id"], c["id"]])
    assert ids(q="該当なし") == []


def test_list_pagination(client: TestClient, requester: User, api_headers: Headers) -> None:
    """GIVEN three requests
    WHEN listed two per page
    THEN the pages are newest first and the total counts all."""
    headers = api_headers(requester)
    made = [_create(client, headers, title=f"依頼{i}")["id"] for i in range(3)]
    page1 = client.get("/api/v1/requests", headers=headers, params={"per_page": 2}).json()
    page2 = client.get("/api/v1/requests", headers=headers,
                       params={"per_page": 2, "page": 2}).json()
    assert page1["total"] == page2["total"] == 3
    assert [r["id"] for r in page1["items"] + page2["items"]] == made[::-1]
    bad = client.get("/api/v1/requests", headers=headers, params={"per_page": 0})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "per_page"


def test_requesters_list_only_their_own(client: TestClient, requester: User,
                                        make_user: Callable[..., User],
                                        api_headers: Headers) -> None:
    """GIVEN requests of two requesters
    WHEN one of them lists requests
    THEN only their own are listed."""
    colleague = make_user(Role.REQUESTER)
    mine = _create(client, api_headers(requester))
    _create(client, api_headers(colleague))
    listed = client.get("/api/v1/requests", headers=api_headers(requester)).json()
    assert [r["id"] for r in listed["items"]] == [mine["id"]]
    assert listed["total"] == 1


def test_get_missing_request_is_404_in_japanese(client: TestClient, requester: User,
                                                api_headers: Headers) -> None:
    response = client.get("/api/v1/requests/987654", headers=api_headers(requester))
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert "依頼が見つかりません" in error["message"]


def test_non_numeric_id_is_422(client: TestClient, requester: User,
                               api_headers: Headers) -> None:
    response = client.get("/api/v1/requests/abc", headers=api_headers(requester))
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "request_id"
    assert "整数で指定してください" in response.json()["error"]["message"]


# --- patch ----------------------------------------------------------------------------------

# How to reach each status from "new" through allowed transitions.
PATH_TO = {"new": [], "triaged": ["triaged"], "in_progress": ["in_progress"],
           "waiting": ["waiting"], "resolved": ["resolved"], "closed": ["closed"]}

# (from, to, allowed) — the request lifecycle as the business sees it.
TRANSITION_RULES = [
    ("new", "triaged", True),
    ("new", "in_progress", True),
    ("triaged", "in_progress", True),
    ("in_progress", "waiting", True),
    ("in_progress", "triaged", True),
    ("waiting", "in_progress", True),
    ("waiting", "resolved", True),
    ("in_progress", "resolved", True),
    ("resolved", "closed", True),
    ("resolved", "in_progress", True),  # reopen
    ("closed", "in_progress", True),  # reopen
    ("triaged", "new", False),
    ("in_progress", "new", False),
    ("waiting", "triaged", False),
    ("resolved", "waiting", False),
    ("resolved", "triaged", False),
    ("closed", "waiting", False),
    ("closed", "resolved", False),
    ("closed", "new", False),
]


@pytest.mark.parametrize(("source", "target", "allowed"), TRANSITION_RULES,
                         ids=[f"{s}->{t}" for s, t, _ in TRANSITION_RULES])
def test_status_transitions(client: TestClient, rt: Runtime, requester: User, admin: User,
                            api_headers: Headers, source: str, target: str,
                            allowed: bool) -> None:
    """GIVEN a request in status ``source``
    WHEN staff set status ``target``
    THEN an allowed change is stored (and audited); a forbidden one is 409
    ``invalid_status_transition`` with a Japanese message and changes nothing."""
    staff = api_headers(admin)
    created = _create(client, api_headers(requester))
    url = f"/api/v1/requests/{created['id']}"
    for step in PATH_TO[source]:
        assert client.patch(url, headers=staff, json={"status": step}).status_code == 200
    audit_before = _count(rt, AuditEvent)
    response = client.patch(url, headers=staff, json={"status": target})
    if allowed:
        assert response.status_code == 200, response.text
        assert response.json()["status"] == target
        assert _count(rt, AuditEvent) == audit_before + 1
    else:
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "invalid_status_transition"
        assert error["field"] == "status"
        assert error["message"].startswith("ステータスを「")
        assert "には変更できません" in error["message"]
        assert client.get(url, headers=staff).json()["status"] == source
        assert _count(rt, AuditEvent) == audit_before


def test_patch_assigns_categorises_and_tags(client: TestClient, rt: Runtime, requester: User,
                                            admin: User, make_user: Callable[..., User],
                                            api_headers: Headers, tenant: Tenant) -> None:
    """GIVEN a new, uncategorised request
    WHEN staff set its category, assignee, priority and tags
    THEN department and work type follow the category, the request becomes triaged, and the
    change is readable back."""
    operator = make_user(Role.OPERATOR, name="総務 三郎", departments=["総務"])
    with rt.db.reading() as session:
        category = identity.category_by_name(session, tenant.id, "契約・文書")
        assert category is not None
    created = _create(client, api_headers(requester))
    response = client.patch(f"/api/v1/requests/{created['id']}", headers=api_headers(admin),
                            json={"category_id": category.id, "assignee_id": operator.id,
                                  "priority": "urgent", "tags": ["契約", " 契約 ", "押印"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["category"], body["department"], body["work_type"]) == (
        "契約・文書", "総務", "transcription")
    assert body["assignee"] == "総務 三郎"
    assert body["priority"] == "urgent"
    assert body["tags"] == ["契約", "押印"]
    assert body["status"] == "triaged"
    unassigned = client.patch(f"/api/v1/requests/{created['id']}", headers=api_headers(admin),
                              json={"unassign": True})
    assert unassigned.json()["assignee"] is None


def test_requester_cannot_patch_even_their_own(client: TestClient, requester: User,
                                               api_headers: Headers) -> None:
    created = _create(client, api_headers(requester))
    response = client.patch(f"/api/v1/requests/{created['id']}",
                            headers=api_headers(requester), json={"status": "closed"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert response.json()["error"]["message"] == "この操作を行う権限がありません。"


# --- replies and follow-ups ------------------------------------------------------------------


def test_outbound_reply_starts_work(client: TestClient, rt: Runtime, requester: User,
                                    admin: User, api_headers: Headers) -> None:
    """GIVEN a new request from the portal
    WHEN staff reply to the requester
    THEN the reply is stored, the request is in progress and its first response is recorded,
    and the requester sees the reply."""
    created = _create(client, api_headers(requester))
    with rt.db.transaction() as session:  # as if it came from the portal
        stored = session.get(Request, created["id"])
        assert stored is not None
        stored.channel = "portal"
    response = client.post(f"/api/v1/requests/{created['id']}/replies",
                           headers=api_headers(admin),
                           json={"body": "承知しました。確認します。", "kind": "outbound"})
    assert response.status_code == 201, response.text
    message = response.json()
    assert (message["kind"], message["author"], message["body"]) == (
        "outbound", "管理 一郎", "承知しました。確認します。")
    assert message["delivery"] is None  # portal requests are answered on the portal, not by mail
    stored = _db_request(rt, created["id"])
    assert stored.status == "in_progress"
    assert stored.first_response_at is not None
    seen = client.get(f"/api/v1/requests/{created['id']}", headers=api_headers(requester))
    assert [m["body"] for m in seen.json()["messages"]] == ["承知しました。確認します。"]


def test_reply_can_set_status(client: TestClient, requester: User, admin: User,
                              api_headers: Headers) -> None:
    """GIVEN a request
    WHEN staff reply asking for information and set status waiting
    THEN the request waits on the requester."""
    created = _create(client, api_headers(requester))
    response = client.post(f"/api/v1/requests/{created['id']}/replies",
                           headers=api_headers(admin),
                           json={"body": "領収書の写真を送ってください。", "status": "waiting"})
    assert response.status_code == 201
    got = client.get(f"/api/v1/requests/{created['id']}", headers=api_headers(admin))
    assert got.json()["status"] == "waiting"


def test_internal_note_is_hidden_from_the_requester(client: TestClient, rt: Runtime,
                                                    requester: User, admin: User,
                                                    api_headers: Headers) -> None:
    """GIVEN a new request
    WHEN staff add an internal note
    THEN staff see it, the requester does not, and the status and first response stay."""
    created = _create(client, api_headers(requester))
    response = client.post(f"/api/v1/requests/{created['id']}/replies",
                           headers=api_headers(admin),
                           json={"body": "前回も同じ申請あり。", "kind": "note"})
    assert response.status_code == 201
    staff_view = client.get(f"/api/v1/requests/{created['id']}", headers=api_headers(admin))
    assert [m["kind"] for m in staff_view.json()["messages"]] == ["note"]
    own_view = client.get(f"/api/v1/requests/{created['id']}", headers=api_headers(requester))
    assert own_view.json()["messages"] == []
    stored = _db_request(rt, created["id"])
    assert stored.status == "new" and stored.first_response_at is None


@pytest.mark.parametrize("kind", ["note", "outbound"])
def test_requester_cannot_reply_or_note(client: TestClient, rt: Runtime, requester: User,
                                        api_headers: Headers, kind: str) -> None:
    """GIVEN a requester's own request
    WHEN the requester posts a reply or an internal note
    THEN 403, and no message is stored."""
    created = _create(client, api_headers(requester))
    before = _count(rt, Message)
    response = client.post(f"/api/v1/requests/{created['id']}/replies",
                           headers=api_headers(requester), json={"body": "メモ", "kind": kind})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert _count(rt, Message) == before


@pytest.mark.parametrize("status", ["waiting", "resolved", "closed"])
def test_follow_up_reopens(client: TestClient, rt: Runtime, requester: User, admin: User,
                           api_headers: Headers, status: str) -> None:
    """GIVEN the requester's request waiting on them, resolved or closed
    WHEN the requester adds a follow-up
    THEN it is stored as a message from the requester and the request is in progress again."""
    created = _create(client, api_headers(requester))
    url = f"/api/v1/requests/{created['id']}"
    assert client.patch(url, headers=api_headers(admin),
                        json={"status": status}).status_code == 200
    response = client.post(f"{url}/follow-ups", headers=api_headers(requester),
                           json={"body": "領収書を送ります。"})
    assert response.status_code == 201, response.text
    assert response.json()["kind"] == "inbound"
    assert response.json()["author"] == "経理 次郎"
    assert _db_request(rt, created["id"]).status == "in_progress"


def test_follow_up_keeps_a_new_request_new(client: TestClient, rt: Runtime, requester: User,
                                           api_headers: Headers) -> None:
    created = _create(client, api_headers(requester))
    response = client.post(f"/api/v1/requests/{created['id']}/follow-ups",
                           headers=api_headers(requester), json={"body": "追記です。"})
    assert response.status_code == 201
    assert _db_request(rt, created["id"]).status == "new"


def test_follow_up_only_on_own_requests(client: TestClient, rt: Runtime, requester: User,
                                        admin: User, make_user: Callable[..., User],
                                        api_headers: Headers) -> None:
    """GIVEN a colleague's request
    WHEN a requester, or an admin, posts a follow-up to it
    THEN 404 (follow-ups speak for the requester; staff reply or note instead), no message."""
    colleague = make_user(Role.REQUESTER)
    created = _create(client, api_headers(colleague))
    before = _count(rt, Message)
    for caller in (requester, admin):
        response = client.post(f"/api/v1/requests/{created['id']}/follow-ups",
                               headers=api_headers(caller), json={"body": "追記"})
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert _count(rt, Message) == before


# --- documentation --------------------------------------------------------------------------


def test_openapi_documents_the_requests_api(client: TestClient) -> None:
    """GIVEN the running app
    WHEN /api/v1/openapi.json and /docs are fetched (no login needed)
    THEN the schema lists the request endpoints and no HTML pages, and /docs shows it."""
    schema = client.get("/api/v1/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert set(paths["/api/v1/requests"]) == {"get", "post"}
    assert set(paths["/api/v1/requests/{request_id}"]) == {"get", "patch"}
    assert "post" in paths["/api/v1/requests/{request_id}/replies"]
    assert "post" in paths["/api/v1/requests/{request_id}/follow-ups"]
    assert all(p.startswith("/api/v1/") for p in paths)
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "/api/v1/openapi.json" in docs.text


def test_a_department_operators_token_sees_only_their_departments(
        client: TestClient, requester: User, make_user: Callable[..., User],
        api_headers: Headers) -> None:
    """GIVEN an operator of 総務 and 経理, and requests filed under 総務, 経理 and 人事・労務
    WHEN the operator lists and opens them with an API token
    THEN the list holds the 総務 and 経理 requests only, and the 人事・労務 one answers 404
    like a request that does not exist."""
    operator = make_user(Role.OPERATOR, name="総務 経理 四郎", departments=["総務", "経理"])
    filed = {name: _create(client, api_headers(requester), category=name)
             for name in ("備品・消耗品", "経費精算", "給与")}
    staff = api_headers(operator)
    listed = client.get("/api/v1/requests", headers=staff)
    assert listed.status_code == 200, listed.text
    seen = {item["id"] for item in listed.json()["items"]}
    assert seen == {filed["備品・消耗品"]["id"], filed["経費精算"]["id"]}
    hidden = client.get(f"/api/v1/requests/{filed['給与']['id']}", headers=staff)
    assert hidden.status_code == 404
    assert client.get(f"/api/v1/requests/{filed['経費精算']['id']}",
                      headers=staff).status_code == 200
