"""The permission matrix: every endpoint of the app × every kind of caller.

The endpoints are discovered from ``app.routes``; an endpoint without a row in ``MATRIX``
fails ``test_every_endpoint_has_a_matrix_row``, so a new page or API route cannot ship
without someone deciding who may call it.

The world (built fresh for every case, rolled back after):

- tenant A (さくら精機) with request R by ``owner`` in category 設備・修繕 (department 総務),
  an attachment on R, an API token of ``owner`` and the category/department ids of A;
  two answer drafts of R: one approved and sent, a newer one awaiting review; a knowledge
  document of A;
- tenant B with its own admin (``foreign``).

Callers: ``anonymous``; ``requester`` (tenant A, not R's requester); ``owner`` (R's
requester); ``operator`` (tenant A, department 経理 — R is not theirs); ``approver``
(tenant A, no departments, so the whole tenant's queue); ``admin`` (tenant A); ``foreign``
(admin of tenant B).

Expected answers: a status code, or ``LOGIN`` for a 303 redirect to the login page.
A foreign tenant's object is always 404 (never 403): nothing tells another tenant that it
exists.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from ushiro import identity
from ushiro.answers import service as answers_service
from ushiro.answers.schemas import ApproveIn
from ushiro.audit import SYSTEM, AuditEvent
from ushiro.core.runtime import Runtime
from ushiro.desk import queries
from ushiro.desk import service as desk_service
from ushiro.desk.choices import Channel
from ushiro.desk.mail import quarantine
from ushiro.desk.models import Attachment, Message, Request
from ushiro.desk.schemas import RequestCreate, Upload
from ushiro.identity import Principal, Role, Tenant, User, UserIn, command_line
from ushiro.identity import repository as identity_repo
from ushiro.identity import service as identity_service
from ushiro.knowledge import DocumentIn, add_document

LOGIN = "login"
QUARANTINED_MAIL = (b"From: kenta.tanaka@example.co.jp\r\nSubject: test\r\n"
                    b"Message-ID: <matrix.1@example.co.jp>\r\n\r\nhello\r\n")
ROLES = ("anonymous", "requester", "owner", "operator", "approver", "admin", "foreign")
IGNORED_PATHS = {"/docs", "/docs/oauth2-redirect", "/api/v1/openapi.json"}
ERROR_CODES = {401: "auth_required", 403: "forbidden", 404: "not_found",
               422: "validation_error"}


@dataclass
class World:
    tenant_a: Tenant
    tenant_b: Tenant
    owner: User
    request_id: int
    attachment_id: int
    category_id: int
    department_id: int
    token_id: int
    draft_id: int  # an answer draft of R awaiting review
    sent_draft_id: int  # an earlier draft of R, approved and sent
    document_id: int  # a knowledge document of tenant A
    invitation_id: int  # tenant A's invitation of a user of tenant B (none of the callers)
    quarantine_id: int = 0  # a quarantined (valid, so releasable) mail of tenant A


@dataclass(frozen=True)
class Row:
    """How to call one endpoint and what each role gets, in ``ROLES`` order."""

    call: Callable[[World], dict[str, Any]]
    expect: tuple[int | str, ...]
    api: bool = False


def _new_email() -> str:
    return f"n{uuid.uuid4().hex[:8]}@example.co.jp"


API_BODY = {"title": "経費精算の締め日", "body": "今月の締め日を教えてください。",
            "category": "経費精算"}
KB_FILE = ("社内FAQ.md", "Q1. 会議室の予約は?\nA. 予約システムから。".encode(), "text/markdown")

#                                                       anon requester owner oper appr admin foreign
MATRIX: dict[tuple[str, str], Row] = {
    ("POST", "/api/v1/requests"): Row(
        lambda w: {"url": "/api/v1/requests", "json": API_BODY},
        (401, 201, 201, 201, 201, 201, 201), api=True),
    ("GET", "/api/v1/requests"): Row(
        lambda w: {"url": "/api/v1/requests"},
        (401, 200, 200, 200, 200, 200, 200), api=True),
    ("GET", "/api/v1/requests/{request_id}"): Row(
        lambda w: {"url": f"/api/v1/requests/{w.request_id}"},
        (401, 404, 200, 404, 200, 200, 404), api=True),
    ("PATCH", "/api/v1/requests/{request_id}"): Row(
        lambda w: {"url": f"/api/v1/requests/{w.request_id}", "json": {"priority": "high"}},
        (401, 403, 403, 404, 200, 200, 404), api=True),
    ("POST", "/api/v1/requests/{request_id}/replies"): Row(
        lambda w: {"url": f"/api/v1/requests/{w.request_id}/replies",
                   "json": {"body": "手配しました。", "kind": "outbound"}},
        (401, 403, 403, 404, 201, 201, 404), api=True),
    ("POST", "/api/v1/requests/{request_id}/follow-ups"): Row(
        lambda w: {"url": f"/api/v1/requests/{w.request_id}/follow-ups",
                   "json": {"body": "写真を追加します。"}},
        (401, 404, 201, 404, 404, 404, 404), api=True),

    ("GET", "/login"): Row(
        lambda w: {"url": "/login"},
        (200, 200, 200, 200, 200, 200, 200)),
    ("POST", "/login"): Row(
        lambda w: {"url": "/login", "data": {"email": w.owner.email,
                                             "password": "correct-horse-42", "next": "/portal"}},
        (303, 303, 303, 303, 303, 303, 303)),
    ("POST", "/logout"): Row(
        lambda w: {"url": "/logout", "data": {}},
        (LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN)),
    ("POST", "/switch-tenant"): Row(
        lambda w: {"url": "/switch-tenant", "data": {"tenant_id": str(w.tenant_a.id)}},
        (LOGIN, 303, 303, 303, 303, 303, 404)),
    ("GET", "/"): Row(
        lambda w: {"url": "/"},
        (LOGIN, 303, 303, 303, 303, 303, 303)),

    ("GET", "/admin/users"): Row(
        lambda w: {"url": "/admin/users"},
        (LOGIN, 403, 403, 403, 403, 200, 200)),
    ("POST", "/admin/users"): Row(
        lambda w: {"url": "/admin/users", "data": {"email": _new_email(), "name": "新人 花子",
                                                   "role": "requester",
                                                   "password": "new-password-1"}},
        (LOGIN, 403, 403, 403, 403, 303, 303)),
    ("POST", "/admin/users/{user_id}"): Row(
        lambda w: {"url": f"/admin/users/{w.owner.id}", "data": {"active": "0"}},
        (LOGIN, 403, 403, 403, 403, 303, 404)),
    ("GET", "/admin/taxonomy"): Row(
        lambda w: {"url": "/admin/taxonomy"},
        (LOGIN, 403, 403, 403, 403, 200, 200)),
    ("POST", "/admin/departments"): Row(
        lambda w: {"url": "/admin/departments", "data": {"name": "広報"}},
        (LOGIN, 403, 403, 403, 403, 303, 303)),
    # A foreign department id in a form field is invalid input (422), not a lookup.
    ("POST", "/admin/categories"): Row(
        lambda w: {"url": "/admin/categories",
                   "data": {"department_id": str(w.department_id), "name": "駐車場",
                            "work_type": "guidance"}},
        (LOGIN, 403, 403, 403, 403, 303, 422)),
    ("POST", "/admin/categories/{category_id}/active"): Row(
        lambda w: {"url": f"/admin/categories/{w.category_id}/active", "data": {"active": "0"}},
        (LOGIN, 403, 403, 403, 403, 303, 404)),
    ("GET", "/admin/tokens"): Row(
        lambda w: {"url": "/admin/tokens"},
        (LOGIN, 403, 403, 403, 403, 200, 200)),
    ("POST", "/admin/tokens"): Row(
        lambda w: {"url": "/admin/tokens", "data": {"email": w.owner.email, "name": "連携"}},
        (LOGIN, 403, 403, 403, 403, 200, 404)),
    ("POST", "/admin/tokens/{token_id}/revoke"): Row(
        lambda w: {"url": f"/admin/tokens/{w.token_id}/revoke", "data": {}},
        (LOGIN, 403, 403, 403, 403, 303, 404)),
    ("GET", "/admin/mail"): Row(
        lambda w: {"url": "/admin/mail"},
        (LOGIN, 403, 403, 403, 403, 200, 200)),
    ("POST", "/admin/mail"): Row(
        lambda w: {"url": "/admin/mail", "data": {"address": "desk@example.co.jp",
                                                  "smtp_host": "smtp.example.co.jp"}},
        (LOGIN, 403, 403, 403, 403, 303, 303)),
    ("GET", "/admin/mail/quarantine/{quarantine_id}/raw"): Row(
        lambda w: {"url": f"/admin/mail/quarantine/{w.quarantine_id}/raw"},
        (LOGIN, 403, 403, 403, 403, 200, 404)),
    ("POST", "/admin/mail/quarantine/{quarantine_id}/release"): Row(
        lambda w: {"url": f"/admin/mail/quarantine/{w.quarantine_id}/release", "data": {}},
        (LOGIN, 403, 403, 403, 403, 303, 404)),
    ("POST", "/admin/mail/quarantine/{quarantine_id}/delete"): Row(
        lambda w: {"url": f"/admin/mail/quarantine/{w.quarantine_id}/delete", "data": {}},
        (LOGIN, 403, 403, 403, 403, 303, 404)),
    ("GET", "/admin/audit"): Row(
        lambda w: {"url": "/admin/audit"},
        (LOGIN, 403, 403, 403, 403, 200, 200)),
    # The job backlog: each admin sees their own tenant's.
    ("GET", "/admin/jobs"): Row(
        lambda w: {"url": "/admin/jobs"},
        (LOGIN, 403, 403, 403, 403, 200, 200)),
    # Knowledge documents: the foreign admin manages their own tenant's, never A's.
    ("GET", "/admin/knowledge"): Row(
        lambda w: {"url": "/admin/knowledge"},
        (LOGIN, 403, 403, 403, 403, 200, 200)),
    ("POST", "/admin/knowledge"): Row(
        lambda w: {"url": "/admin/knowledge", "data": {}, "files": [("files", KB_FILE)]},
        (LOGIN, 403, 403, 403, 403, 200, 200)),
    ("GET", "/admin/knowledge/{document_id}"): Row(
        lambda w: {"url": f"/admin/knowledge/{w.document_id}"},
        (LOGIN, 403, 403, 403, 403, 200, 404)),
    ("POST", "/admin/knowledge/{document_id}/restriction"): Row(
        lambda w: {"url": f"/admin/knowledge/{w.document_id}/restriction",
                   "data": {"min_role": "admin"}},
        (LOGIN, 403, 403, 403, 403, 303, 404)),
    ("POST", "/admin/knowledge/{document_id}/kind"): Row(
        lambda w: {"url": f"/admin/knowledge/{w.document_id}/kind",
                   "data": {"kind": "reference"}},
        (LOGIN, 403, 403, 403, 403, 303, 404)),
    ("POST", "/admin/knowledge/{document_id}/retire"): Row(
        lambda w: {"url": f"/admin/knowledge/{w.document_id}/retire", "data": {}},
        (LOGIN, 403, 403, 403, 403, 303, 404)),

    ("GET", "/desk"): Row(
        lambda w: {"url": "/desk"},
        (LOGIN, 403, 403, 200, 200, 200, 200)),
    ("GET", "/desk/requests/{request_id}"): Row(
        lambda w: {"url": f"/desk/requests/{w.request_id}"},
        (LOGIN, 403, 403, 404, 200, 200, 404)),
    ("POST", "/desk/requests/{request_id}/reply"): Row(
        lambda w: {"url": f"/desk/requests/{w.request_id}/reply",
                   "data": {"body": "業者を手配します。", "kind": "note"}},
        (LOGIN, 403, 403, 404, 303, 303, 404)),
    ("POST", "/desk/requests/{request_id}/update"): Row(
        lambda w: {"url": f"/desk/requests/{w.request_id}/update", "data": {"priority": "high"}},
        (LOGIN, 403, 403, 404, 303, 303, 404)),
    # Staff only; each caller's candidates come from the requests they may see.
    ("GET", "/desk/faq-candidates"): Row(
        lambda w: {"url": "/desk/faq-candidates"},
        (LOGIN, 403, 403, 200, 200, 200, 200)),
    # Answer drafts are staff work on requests in reach; self-service modes are for admins.
    ("GET", "/api/v1/requests/{request_id}/drafts"): Row(
        lambda w: {"url": f"/api/v1/requests/{w.request_id}/drafts"},
        (401, 403, 403, 404, 200, 200, 404), api=True),
    ("POST", "/api/v1/requests/{request_id}/drafts"): Row(
        lambda w: {"url": f"/api/v1/requests/{w.request_id}/drafts"},
        (401, 403, 403, 404, 201, 201, 404), api=True),
    ("POST", "/api/v1/drafts/{draft_id}/approve"): Row(
        lambda w: {"url": f"/api/v1/drafts/{w.draft_id}/approve",
                   "json": {"text": "業者を手配しました。"}},
        (401, 403, 403, 404, 200, 200, 404), api=True),
    ("POST", "/api/v1/drafts/{draft_id}/reject"): Row(
        lambda w: {"url": f"/api/v1/drafts/{w.draft_id}/reject", "json": {"reason": "規程が古い"}},
        (401, 403, 403, 404, 200, 200, 404), api=True),
    ("POST", "/api/v1/drafts/{draft_id}/promote"): Row(
        lambda w: {"url": f"/api/v1/drafts/{w.sent_draft_id}/promote", "json": {}},
        (401, 403, 403, 404, 201, 201, 404), api=True),
    ("GET", "/api/v1/categories/{category_id}/automation"): Row(
        lambda w: {"url": f"/api/v1/categories/{w.category_id}/automation"},
        (401, 403, 403, 403, 403, 200, 404), api=True),
    ("PUT", "/api/v1/categories/{category_id}/automation"): Row(
        lambda w: {"url": f"/api/v1/categories/{w.category_id}/automation",
                   "json": {"mode": "draft_only"}},
        (401, 403, 403, 403, 403, 200, 404), api=True),
    ("POST", "/desk/requests/{request_id}/drafts"): Row(
        lambda w: {"url": f"/desk/requests/{w.request_id}/drafts", "data": {}},
        (LOGIN, 403, 403, 404, 303, 303, 404)),
    ("POST", "/desk/drafts/{draft_id}/approve"): Row(
        lambda w: {"url": f"/desk/drafts/{w.draft_id}/approve",
                   "data": {"text": "業者を手配しました。"}},
        (LOGIN, 403, 403, 404, 303, 303, 404)),
    ("POST", "/desk/drafts/{draft_id}/reject"): Row(
        lambda w: {"url": f"/desk/drafts/{w.draft_id}/reject", "data": {"reason": "規程が古い"}},
        (LOGIN, 403, 403, 404, 303, 303, 404)),
    ("POST", "/desk/drafts/{draft_id}/promote"): Row(
        lambda w: {"url": f"/desk/drafts/{w.sent_draft_id}/promote", "data": {}},
        (LOGIN, 403, 403, 404, 303, 303, 404)),
    ("GET", "/admin/signature"): Row(
        lambda w: {"url": "/admin/signature"},
        (LOGIN, 403, 403, 403, 403, 200, 200)),
    ("POST", "/admin/signature"): Row(
        lambda w: {"url": "/admin/signature", "data": {"signature": "総務部　ヘルプデスク"}},
        (LOGIN, 403, 403, 403, 403, 303, 303)),
    # Personal settings (the own reply signature) are for the staff who reply.
    ("GET", "/settings"): Row(
        lambda w: {"url": "/settings"},
        (LOGIN, 403, 403, 200, 200, 200, 200)),
    ("POST", "/settings"): Row(
        lambda w: {"url": "/settings", "data": {"signature": "経理部　佐藤"}},
        (LOGIN, 403, 403, 303, 303, 303, 303)),
    ("GET", "/admin/automation"): Row(
        lambda w: {"url": "/admin/automation"},
        (LOGIN, 403, 403, 403, 403, 200, 200)),
    ("POST", "/admin/automation"): Row(
        lambda w: {"url": "/admin/automation",
                   "data": {"category_id": str(w.category_id), "mode": "draft_only"}},
        (LOGIN, 403, 403, 403, 403, 303, 404)),
    ("GET", "/attachments/{attachment_id}"): Row(
        lambda w: {"url": f"/attachments/{w.attachment_id}"},
        (LOGIN, 404, 200, 404, 200, 200, 404)),

    # The portal shows everyone, staff included, only their own requests.
    ("GET", "/portal"): Row(
        lambda w: {"url": "/portal"},
        (LOGIN, 200, 200, 200, 200, 200, 200)),
    ("GET", "/portal/new"): Row(
        lambda w: {"url": "/portal/new"},
        (LOGIN, 200, 200, 200, 200, 200, 200)),
    ("POST", "/portal/new"): Row(
        lambda w: {"url": "/portal/new", "data": {"title": "蛍光灯の交換",
                                                  "body": "3階会議室の蛍光灯が切れています。",
                                                  "category": "設備・修繕"}},
        (LOGIN, 303, 303, 303, 303, 303, 303)),
    ("GET", "/portal/requests/{request_id}"): Row(
        lambda w: {"url": f"/portal/requests/{w.request_id}"},
        (LOGIN, 404, 200, 404, 404, 404, 404)),
    ("POST", "/portal/requests/{request_id}/follow-up"): Row(
        lambda w: {"url": f"/portal/requests/{w.request_id}/follow-up",
                   "data": {"body": "写真を追加します。"}},
        (LOGIN, 404, 303, 404, 404, 404, 404)),
    ("GET", "/portal/chat"): Row(
        lambda w: {"url": "/portal/chat", "params": {"request_id": str(w.request_id)}},
        (LOGIN, 404, 200, 404, 404, 404, 404)),
    ("POST", "/portal/chat"): Row(
        lambda w: {"url": "/portal/chat", "data": {"message": "まだでしょうか?",
                                                   "request_id": str(w.request_id)}},
        (LOGIN, 404, 303, 404, 404, 404, 404)),
    ("GET", "/portal/chat/{request_id}/messages"): Row(
        lambda w: {"url": f"/portal/chat/{w.request_id}/messages", "params": {"after": "0"}},
        (LOGIN, 404, 200, 404, 404, 404, 404)),
    ("POST", "/portal/chat/escalate"): Row(
        lambda w: {"url": "/portal/chat/escalate", "data": {"request_id": str(w.request_id)}},
        (LOGIN, 404, 303, 404, 404, 404, 404)),

    # Everyone signed in sees their own invitations; only the addressee (none of these
    # callers) may accept or decline one.
    ("GET", "/invitations"): Row(
        lambda w: {"url": "/invitations"},
        (LOGIN, 200, 200, 200, 200, 200, 200)),
    ("POST", "/invitations/{invitation_id}/accept"): Row(
        lambda w: {"url": f"/invitations/{w.invitation_id}/accept", "data": {}},
        (LOGIN, 404, 404, 404, 404, 404, 404)),
    ("POST", "/invitations/{invitation_id}/decline"): Row(
        lambda w: {"url": f"/invitations/{w.invitation_id}/decline", "data": {}},
        (LOGIN, 404, 404, 404, 404, 404, 404)),
}


def discovered_endpoints(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app answers, minus static files and the API docs."""
    try:  # FastAPI ≥ 0.16x keeps included routers lazily; this flattens them.
        from fastapi.routing import iter_route_contexts
        routes: Any = list(iter_route_contexts(app.routes))
    except ImportError:  # pragma: no cover - older FastAPI lists routes directly
        routes = app.routes
    found = set()
    for route in routes:
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if not path or not methods or path.startswith("/static") or path in IGNORED_PATHS:
            continue
        found.update((m, path) for m in methods if m != "HEAD")
    return found


def test_every_endpoint_has_a_matrix_row(client: TestClient) -> None:
    """GIVEN the application's routes
    WHEN they are compared with the permission matrix
    THEN every endpoint has exactly one row, and every row one expectation per role."""
    found = discovered_endpoints(client.app)  # type: ignore[arg-type]
    assert sorted(found - set(MATRIX)) == [], "endpoints without a permission-matrix row"
    assert sorted(set(MATRIX) - found) == [], "matrix rows for endpoints that no longer exist"
    assert all(len(row.expect) == len(ROLES) for row in MATRIX.values())


@pytest.fixture
def world(rt: Runtime, tenant: Tenant, make_tenant: Callable[..., Tenant],
          make_user: Callable[..., User]) -> World:
    owner = make_user(Role.REQUESTER, name="依頼 花子")
    principal = identity_service.principal(rt.db, owner.id, tenant.id)
    request = desk_service.submit(
        rt, principal, RequestCreate(title="会議室のエアコン故障", body="冷房が効きません。",
                                     category="設備・修繕"),
        channel=Channel.PORTAL, uploads=[Upload("写真.jpg", "image/jpeg", b"\xff\xd8jpeg")])
    attachment_id = queries.get_request(rt, principal, request.id).attachments[0].id
    identity_service.create_token(rt.db, Principal.system(tenant.id, "test"), owner.email, "連携ボット")
    with rt.db.reading() as session:
        token_id = identity_repo.tokens(session, tenant.id)[0][0].id
        department = next(d for d in identity.departments(session, tenant.id) if d.name == "総務")
        category = identity.category_by_name(session, tenant.id, "設備・修繕")
        assert category is not None
        assert request.department_id == department.id
    reviewer = identity_service.principal(rt.db, make_user(Role.ADMIN).id, tenant.id)
    sent = answers_service.generate_draft(rt, reviewer, request.id)
    assert sent is not None
    answers_service.approve(rt, reviewer, sent.id, ApproveIn(text="業者を手配します。"))
    proposed = answers_service.generate_draft(rt, reviewer, request.id)
    assert proposed is not None
    document = add_document(rt, command_line(tenant.id), DocumentIn("旅費規程.md", KB_FILE[1]))
    tenant_b = make_tenant("kaede", "かえで商事株式会社")
    invitee = make_user(Role.OPERATOR, tenant_obj=tenant_b)
    assert identity_service.add_member(rt.db, Principal.system(tenant.id, "test"), UserIn(
        email=invitee.email, name="招待 太郎", role=Role.OPERATOR)).invited
    with rt.db.reading() as session:
        invitation = identity_repo.invitation_for(session, tenant.id, invitee.id)
        assert invitation is not None
    held = quarantine.hold(rt, tenant.id, QUARANTINED_MAIL, code="test", reason="テスト",
                           source="import", actor=SYSTEM)
    return World(tenant_a=tenant, tenant_b=tenant_b,
                 owner=owner, request_id=request.id, attachment_id=attachment_id,
                 category_id=category.id, department_id=department.id, token_id=token_id,
                 draft_id=proposed.id, sent_draft_id=sent.id,
                 document_id=document.document_id, invitation_id=invitation.id,
                 quarantine_id=held.id)


def _actor(role: str, world: World, make_user: Callable[..., User]) -> tuple[User, Tenant]:
    if role == "owner":
        return world.owner, world.tenant_a
    if role == "foreign":
        return make_user(Role.ADMIN, tenant_obj=world.tenant_b), world.tenant_b
    departments = ["経理"] if role == "operator" else []
    return make_user(Role(role), departments=departments), world.tenant_a


def _anonymous_csrf(client: TestClient) -> str:
    page = client.get("/login")
    return page.text.split('name="csrf_token" value="')[1].split('"')[0]


def outcome(response: Response) -> int | str:
    location = response.headers.get("location", "")
    if response.status_code == 303 and location.startswith("/login"):
        return LOGIN
    return response.status_code


def stored(rt: Runtime) -> dict[str, int]:
    """Row counts that any write, allowed or not, would change."""
    with rt.db.reading() as session:
        return {model.__tablename__: int(session.scalar(select(func.count()).select_from(model))
                                         or 0)
                for model in (Request, Message, Attachment, AuditEvent)}


@pytest.fixture
def call_as(client: TestClient, rt: Runtime, world: World, make_user: Callable[..., User],
            login: Callable[[str], str], api_headers: Callable[..., dict[str, str]]
            ) -> Iterator[Callable[..., tuple[Response, bool]]]:
    """Calls as a role; returns the response and whether nothing was stored by the call."""

    def call(role: str, method: str, row: Row) -> tuple[Response, bool]:
        kwargs = row.call(world)
        headers: dict[str, str] = {}
        if role == "anonymous":
            csrf = "" if row.api else _anonymous_csrf(client)
        else:
            user, tenant_obj = _actor(role, world, make_user)
            if row.api:
                headers, csrf = api_headers(user, tenant_obj), ""
            else:
                csrf = login(user.email)
        if "data" in kwargs:
            kwargs["data"] = {**kwargs["data"], "csrf_token": csrf}
        before = stored(rt)
        response = client.request(method, headers=headers, follow_redirects=False, **kwargs)
        return response, stored(rt) == before

    yield call


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("endpoint", sorted(MATRIX), ids=lambda e: f"{e[0]} {e[1]}")
def test_permission_matrix(call_as: Callable[..., tuple[Response, bool]],
                           endpoint: tuple[str, str], role: str) -> None:
    """GIVEN request R of tenant A (by ``owner``, department 総務) and a caller in a role
    WHEN the caller calls the endpoint on R (or on tenant A's objects)
    THEN the answer is the matrix's: allowed, 401/403, 404 for objects out of reach
    (always 404 for another tenant's), or a redirect to the login page; a refused call
    stores nothing (no request, message, attachment or audit event)."""
    method, _path = endpoint
    row = MATRIX[endpoint]
    expected = row.expect[ROLES.index(role)]
    response, nothing_stored = call_as(role, method, row)
    assert outcome(response) == expected, response.text[:2000]
    if expected == LOGIN or (isinstance(expected, int) and expected >= 400):
        assert nothing_stored
    if isinstance(expected, int) and expected in ERROR_CODES:
        if row.api:
            assert response.json()["error"]["code"] == ERROR_CODES[expected]
        else:
            assert f"<code>{ERROR_CODES[expected]}</code>" in response.text
    if expected == 303:
        assert not response.headers["location"].startswith("/login")


# Which lists show R. None: the list itself is refused (403).
#                    api list  /desk  /portal
VISIBILITY: dict[str, tuple[bool, bool | None, bool]] = {
    "requester": (False, None, False),
    "owner": (True, None, True),
    "operator": (False, False, False),
    "approver": (True, True, False),
    "admin": (True, True, False),
    "foreign": (False, False, False),
}


@pytest.mark.parametrize("role", sorted(VISIBILITY))
def test_lists_show_only_reachable_requests(client: TestClient, world: World, role: str,
                                            make_user: Callable[..., User],
                                            login: Callable[[str], str],
                                            api_headers: Callable[..., dict[str, str]]) -> None:
    """GIVEN request R of tenant A in department 総務
    WHEN each role lists requests (API, the desk queue, the portal)
    THEN R is listed exactly where the caller may open it."""
    in_api, in_desk, in_portal = VISIBILITY[role]
    user, tenant_obj = _actor(role, world, make_user)
    listed = client.get("/api/v1/requests", headers=api_headers(user, tenant_obj)).json()
    assert (world.request_id in [r["id"] for r in listed["items"]]) is in_api
    login(user.email)
    desk = client.get("/desk")
    if in_desk is None:
        assert desk.status_code == 403
    else:
        assert desk.status_code == 200
        assert (f'href="/desk/requests/{world.request_id}"' in desk.text) is in_desk
    portal = client.get("/portal")
    assert (f'href="/portal/requests/{world.request_id}"' in portal.text) is in_portal


def _request_in(rt: Runtime, tenant: Tenant, owner: User, category: str | None) -> int:
    principal = identity_service.principal(rt.db, owner.id, tenant.id)
    return desk_service.submit(rt, principal, RequestCreate(title="件名", body="本文",
                                                            category=category),
                               channel=Channel.PORTAL).id


# (description, role, departments, category of the request, assigned to the caller, sees it)
SCOPE_RULES = [
    ("operator of the request's department", Role.OPERATOR, ["総務"], "設備・修繕", False, True),
    ("operator of another department", Role.OPERATOR, ["経理"], "設備・修繕", False, False),
    ("operator of several departments", Role.OPERATOR, ["経理", "総務"], "設備・修繕", False,
     True),
    ("operator, request not yet sorted", Role.OPERATOR, ["経理"], None, False, True),
    ("operator, assigned to them", Role.OPERATOR, ["経理"], "設備・修繕", True, True),
    ("operator without departments", Role.OPERATOR, [], "設備・修繕", False, True),
    ("approver of another department", Role.APPROVER, ["経理"], "設備・修繕", False, False),
    ("admin with a department", Role.ADMIN, ["経理"], "設備・修繕", False, True),
    ("requester, not theirs", Role.REQUESTER, [], None, False, False),
]


@pytest.mark.parametrize(("role", "departments", "category", "assigned", "sees"),
                         [r[1:] for r in SCOPE_RULES], ids=[r[0] for r in SCOPE_RULES])
def test_staff_scope_rules(client: TestClient, rt: Runtime, tenant: Tenant,
                           make_user: Callable[..., User],
                           api_headers: Callable[..., dict[str, str]], role: Role,
                           departments: list[str], category: str | None, assigned: bool,
                           sees: bool) -> None:
    """GIVEN a request of some requester, in a department (or none), maybe assigned
    WHEN a staff member opens it, lists the queue and tries to change it
    THEN operators and approvers reach their departments' requests, unsorted ones and
    those assigned to them (everything when they have no departments); admins reach all;
    out of reach is 404, in the list and on change too."""
    owner = make_user(Role.REQUESTER)
    caller = make_user(role, departments=departments)
    request_id = _request_in(rt, tenant, owner, category)
    admin = make_user(Role.ADMIN)
    if assigned:
        response = client.patch(f"/api/v1/requests/{request_id}", headers=api_headers(admin),
                                json={"assignee_id": caller.id})
        assert response.status_code == 200, response.text
    headers = api_headers(caller)
    got = client.get(f"/api/v1/requests/{request_id}", headers=headers)
    assert got.status_code == (200 if sees else 404)
    listed = client.get("/api/v1/requests", headers=headers).json()
    assert (request_id in [r["id"] for r in listed["items"]]) is sees
    if role is not Role.REQUESTER:
        changed = client.patch(f"/api/v1/requests/{request_id}", headers=headers,
                               json={"priority": "urgent"})
        assert changed.status_code == (200 if sees else 404)
