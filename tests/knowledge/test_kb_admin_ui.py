"""The administrators' knowledge pages (/admin/knowledge) through HTTP: upload (one or
several files, new versions, bad files), restrictions, the document page, retiring, and
who may do any of it."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from ushiro import knowledge
from ushiro.app import create_app
from ushiro.audit.models import AuditEvent
from ushiro.core.runtime import Runtime
from ushiro.identity import Principal, Role, Tenant, User, command_line, principal_for
from ushiro.knowledge.models import Document, DocumentVersion, Passage

TRAVEL_V2_EXTRA = "\n（出張の申請）\n第7条　出張は、事前に出張申請書により所属長の承認を得なければならない。\n"
MIME = {"md": "text/markdown", "txt": "text/plain", "pdf": "application/pdf",
        "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user(Role.ADMIN, name="管理 一郎", email="kanri@example.co.jp")


@pytest.fixture
def csrf(admin: User, login: Callable[[str], str]) -> str:
    return login(admin.email)


def upload(client: TestClient, csrf: str, files: dict[str, bytes], **form: Any) -> Response:
    parts = [("files", (name, data, MIME.get(name.rsplit(".", 1)[-1], "application/octet-stream")))
             for name, data in files.items()]
    return client.post("/admin/knowledge", data={"csrf_token": csrf, **form}, files=parts,
                       follow_redirects=False)


def stored(rt: Runtime) -> dict[str, int]:
    """Everything an upload could leave behind: rows and files in the content store."""
    with rt.db.reading() as session:
        counts = {m.__tablename__: int(session.scalar(select(func.count()).select_from(m)) or 0)
                  for m in (Document, DocumentVersion, Passage, AuditEvent)}
    root = rt.files.root
    counts["files"] = sum(1 for p in root.rglob("*") if p.is_file()) if root.exists() else 0
    return counts


def as_principal(rt: Runtime, user: User, tenant: Tenant) -> Principal:
    with rt.db.reading() as session:
        return principal_for(session, session.get(User, user.id), session.get(Tenant, tenant.id))


def titles(rt: Runtime, tenant: Tenant, query: str,
           principal: Principal | None = None) -> list[str]:
    return [hit.document
            for hit in knowledge.search(rt, principal or command_line(tenant.id), query)]


def document_id(rt: Runtime, tenant: Tenant, name: str) -> int:
    return next(d.id for d in knowledge.list_documents(rt, command_line(tenant.id)) if d.name == name)


def audit_actions(rt: Runtime, object_id: int) -> list[str]:
    with rt.db.reading() as session:
        stmt = (select(AuditEvent.action).where(AuditEvent.object_type == "kb_document",
                                                AuditEvent.object_id == str(object_id))
                .order_by(AuditEvent.id))
        return list(session.scalars(stmt))


def test_upload_md_docx_and_pdf(client: TestClient, rt: Runtime, tenant: Tenant, csrf: str,
                                texts: dict[str, str], docx_of: Any, pdf_of: Any) -> None:
    """GIVEN an administrator on the knowledge page
    WHEN they upload a Markdown, a Word and a PDF file in one form, with an effective date
    THEN each is reported as added with its passage count, listed with name, version, date
    and source file, its structure is shown on the document page, and search finds it."""
    docx = docx_of([("h1", "慶弔見舞金規程"), ("h2", "結婚祝金"),
                    ("p", "従業員が結婚したときは、結婚祝金として3万円を支給する。"),
                    ("h2", "弔慰金"), ("p", "従業員の家族が死亡したときは、弔慰金を支給する。")])
    pdf = pdf_of([["育児休業規程", "第1条（目的）この規程は育児休業について定める。",
                   "第2条（対象者）子を養育する従業員は育児休業を取得できる。"]])
    page = client.get("/admin/knowledge")
    assert page.status_code == 200 and "まだ文書がありません" in page.text
    response = upload(client, csrf, {"旅費規程.md": texts["travel"].encode(),
                                     "慶弔見舞金規程.docx": docx, "育児休業規程.pdf": pdf},
                      effective_date="2025-04-01")
    assert response.status_code == 200, response.text[:2000]
    assert response.text.count('class="upload-ok"') == 3
    assert "upload-error" not in response.text and response.text.count("新規登録") == 3
    documents = {d.name: d for d in knowledge.list_documents(rt, command_line(tenant.id))}
    assert set(documents) == {"旅費規程", "慶弔見舞金規程", "育児休業規程"}
    assert all(d.version == 1 and d.passages > 0 for d in documents.values())
    assert {str(d.effective_date) for d in documents.values()} == {"2025-04-01"}
    listing = client.get("/admin/knowledge").text
    for d in documents.values():
        assert f'href="/admin/knowledge/{d.id}"' in listing and d.source_filename in listing
    assert "2025-04-01" in listing and "検索対象の文書 3 件" in listing

    travel = client.get(f"/admin/knowledge/{documents['旅費規程'].id}")
    assert travel.status_code == 200
    assert "第5条(宿泊費)" in travel.text and "第3条の2(航空機の利用)" in travel.text
    assert "kanri@example.co.jp" in travel.text and "現行" in travel.text
    assert "結婚祝金" in client.get(f"/admin/knowledge/{documents['慶弔見舞金規程'].id}").text
    pdf_page = client.get(f"/admin/knowledge/{documents['育児休業規程'].id}").text
    assert "第2条(対象者)" in pdf_page and "1 ページ" in pdf_page

    assert titles(rt, tenant, "ホテル代の上限")[0] == "旅費規程"
    assert titles(rt, tenant, "結婚祝金はいくら")[0] == "慶弔見舞金規程"
    assert titles(rt, tenant, "育児休業の対象者")[0] == "育児休業規程"


def test_reupload_makes_a_new_version(client: TestClient, rt: Runtime, tenant: Tenant,
                                      csrf: str, texts: dict[str, str]) -> None:
    """GIVEN 旅費規程 v1 uploaded from the page
    WHEN a file of the same name with other content is uploaded, then that content again
    THEN the second is 新しい版 (v2, with its own date, current, searched) and the third
    変更なし; the document page lists both versions and who uploaded them."""
    assert upload(client, csrf, {"旅費規程.md": texts["travel"].encode()},
                  effective_date="2024-04-01").status_code == 200
    v2 = (texts["travel"] + TRAVEL_V2_EXTRA).encode()
    second = upload(client, csrf, {"旅費規程.md": v2}, effective_date="2025-10-01")
    assert second.status_code == 200 and "新しい版" in second.text and "第2版" in second.text
    third = upload(client, csrf, {"旅費規程.md": v2})
    assert "変更なし" in third.text and "第2版" in third.text
    (document,) = knowledge.list_documents(rt, command_line(tenant.id))
    assert (document.version, str(document.effective_date)) == (2, "2025-10-01")
    page = client.get(f"/admin/knowledge/{document.id}").text
    assert 'id="version-1"' in page and 'id="version-2"' in page
    assert "2024-04-01" in page and "2025-10-01" in page
    assert page.count("kanri@example.co.jp") == 2 and "第7条(出張の申請)" in page
    assert titles(rt, tenant, "出張の事前申請")[0] == "旅費規程"
    assert audit_actions(rt, document.id) == ["knowledge.document.added",
                                             "knowledge.document.new_version"]


BAD_FILES: list[tuple[str, str, Callable[[Any], bytes], int, str, str]] = [
    ("corrupt-pdf", "壊れた規程.pdf", lambda fx: b"%PDF-1.4\n" + b"\x00garbage" * 50, 422,
     "document_unreadable", "PDF ファイルを読み取れません"),
    ("truncated-pdf", "途中まで.pdf", lambda fx: fx["pdf"]([["第1条　目的"]])[:300], 422,
     "document_unreadable", "PDF ファイルを読み取れません"),
    ("corrupt-docx", "壊れた規程.docx", lambda fx: b"PK\x03\x04 not a zip", 422,
     "document_unreadable", "Word (docx) ファイルを読み取れません"),
    ("scanned-pdf", "スキャン.pdf", lambda fx: fx["scanned"], 422, "document_needs_ocr",
     "OCR が必要です"),
    ("unknown-encoding", "謎の文字コード.txt", lambda fx: bytes(range(128, 256)) * 8, 422,
     "document_unreadable", "文字コードを判別できません"),
    ("unsupported", "規程.xlsx", lambda fx: b"PK\x03\x04", 415, "unsupported_format",
     "「規程.xlsx」は取り込めない形式です"),
    ("word-97", "古い規程.doc", lambda fx: b"\xd0\xcf\x11\xe0", 415, "unsupported_format",
     ".docx で保存し直してください"),
    ("empty", "空.md", lambda fx: b"  \n\n", 422, "document_unreadable",
     "「空.md」に本文が見つかりません"),
]


@pytest.mark.parametrize(("filename", "make", "status", "code", "message"),
                         [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES])
def test_bad_file_is_refused_and_stores_nothing(client: TestClient, rt: Runtime, csrf: str,
                                                pdf_of: Any, scanned_pdf: bytes,
                                                filename: str, make: Callable[[Any], bytes],
                                                status: int, code: str, message: str) -> None:
    """GIVEN an administrator
    WHEN they upload a file the service cannot read
    THEN the page names the file with the service's Japanese message and code, the status
    is the error's, and nothing is stored (no document, version, passage, audit event or
    file)."""
    data = make({"pdf": pdf_of, "scanned": scanned_pdf})
    before = stored(rt)
    response = upload(client, csrf, {filename: data})
    assert response.status_code == status, response.text[:2000]
    row = response.text.split('class="upload-error"')[1].split("</tr>")[0]
    assert filename in row and message in row and f"<code>{code}</code>" in row
    assert "登録できませんでした" in row
    assert stored(rt) == before


def test_one_bad_file_does_not_stop_the_others(client: TestClient, rt: Runtime,
                                               tenant: Tenant, csrf: str,
                                               texts: dict[str, str]) -> None:
    response = upload(client, csrf, {"社内FAQ.md": texts["faq"].encode(),
                                     "壊れた.pdf": b"%PDF-1.4 broken",
                                     "就業規則.txt": texts["rules"].encode("cp932")})
    assert response.status_code == 200
    assert response.text.count('class="upload-ok"') == 2
    assert response.text.count('class="upload-error"') == 1
    assert {d.name for d in knowledge.list_documents(rt, command_line(tenant.id))} == {"社内FAQ", "就業規則"}


@pytest.fixture
def small_client(rt: Runtime) -> Iterator[TestClient]:
    """The app with a 3 KB document limit."""
    small = Runtime(rt.settings.model_copy(update={"max_document_bytes": 3072}), rt.db)
    with TestClient(create_app(rt=small), base_url="http://testserver") as c:
        yield c


def test_file_over_the_document_limit_is_refused(small_client: TestClient, rt: Runtime,
                                                 tenant: Tenant, admin: User) -> None:
    """GIVEN a 3 KB document limit
    WHEN a 5,000-byte rule book and a small FAQ are uploaded
    THEN the rule book is refused as too large, by name, with the limit; the FAQ is added."""
    token = small_client.get("/login").text.split('name="csrf_token" value="')[1].split('"')[0]
    small_client.post("/login", data={"email": admin.email, "password": "correct-horse-42",
                                      "csrf_token": token})
    page = small_client.get("/admin/knowledge")
    assert "3 KB" in page.text  # the form states the limit
    csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    big = ("第1条　" + "あ" * 1700).encode()
    assert len(big) > 5000
    response = upload(small_client, csrf, {"大きな規程.md": big,
                                           "FAQ.md": "Q1. 質問\nA. 回答です。".encode()})
    assert response.status_code == 200
    row = response.text.split('class="upload-error"')[1].split("</tr>")[0]
    assert "「大きな規程.md」は大きすぎます" in row and "<code>document_too_large</code>" in row
    assert [d.name for d in knowledge.list_documents(rt, command_line(tenant.id))] == ["FAQ"]


def test_form_errors_store_nothing(client: TestClient, rt: Runtime, csrf: str,
                                   texts: dict[str, str]) -> None:
    """No file, a title for several files, an unknown department, a bad date: 422."""
    before = stored(rt)
    empty = client.post("/admin/knowledge", data={"csrf_token": csrf})
    assert empty.status_code == 422 and "取り込むファイルを選択してください" in empty.text
    two = upload(client, csrf, {"a.md": b"# A\n\nA", "b.md": b"# B\n\nB"}, title="表示名")
    assert two.status_code == 422 and "ファイルを 1 つだけ" in two.text
    department = upload(client, csrf, {"a.md": b"# A\n\nA"}, departments="宇宙開発")
    assert department.status_code == 422 and "部門「宇宙開発」は存在しません" in department.text
    bad_date = upload(client, csrf, {"a.md": b"# A\n\nA"}, effective_date="2025-13-40")
    assert bad_date.status_code == 422 and "<code>validation_error</code>" in bad_date.text
    assert stored(rt) == before


def test_restriction_by_role_and_department(client: TestClient, rt: Runtime, tenant: Tenant,
                                            csrf: str, make_user: Callable[..., User]) -> None:
    """GIVEN a 給与規程 uploaded for approvers and up, in 経理 only
    WHEN people of the tenant search
    THEN only an approver of 経理 (and administrators) find it; the list and the document
    page show the restriction."""
    text = "（賞与の査定）\n第1条　賞与の査定は、評価点に基づき経理部が算定する。\n".encode()
    response = upload(client, csrf, {"給与規程.md": text}, min_role="approver",
                      departments=["経理"], title="給与規程(管理職用)")
    assert response.status_code == 200 and "給与規程(管理職用)" in response.text
    query = "賞与の査定"
    cases = [(Role.REQUESTER, ["経理"], False), (Role.OPERATOR, ["経理"], False),
             (Role.APPROVER, ["総務"], False), (Role.APPROVER, ["経理"], True),
             (Role.ADMIN, [], True)]
    for role, departments, finds in cases:
        principal = as_principal(rt, make_user(role, departments=departments), tenant)
        assert (titles(rt, tenant, query, principal) == ["給与規程(管理職用)"]) is finds, role
    doc_id = document_id(rt, tenant, "給与規程")
    row = client.get("/admin/knowledge").text.split(f'id="document-{doc_id}"')[1]
    row = row.split("</tr>")[0]
    assert "承認者以上" in row and "経理" in row
    page = client.get(f"/admin/knowledge/{doc_id}").text
    assert "承認者以上" in page.split("検索できる人")[1].split("</dd>")[0]
    open_row = upload(client, csrf, {"社内FAQ.md": "Q1. 質問\nA. 回答".encode()})
    assert "全員" in open_row.text


def test_restriction_can_be_changed_and_lifted(client: TestClient, rt: Runtime,
                                              tenant: Tenant, csrf: str,
                                              make_user: Callable[..., User]) -> None:
    """GIVEN a 給与規程 restricted to approvers of 経理
    WHEN the administrator sets it to operators and up of 総務 on its page, then to
    「全員」 with no department checked
    THEN each change applies to search at once and is audited; the last one lifts the
    restriction, so a requester finds it (an empty choice on the upload form would keep it)."""
    text = "（賞与の査定）\n第1条　賞与の査定は、評価点に基づき経理部が算定する。\n".encode()
    upload(client, csrf, {"給与規程.md": text}, min_role="approver", departments=["経理"])
    doc_id = document_id(rt, tenant, "給与規程")
    requester = as_principal(rt, make_user(Role.REQUESTER, departments=["経理"]), tenant)
    operator = as_principal(rt, make_user(Role.OPERATOR, departments=["総務"]), tenant)
    assert titles(rt, tenant, "賞与の査定", requester) == []
    assert titles(rt, tenant, "賞与の査定", operator) == []
    page = client.get(f"/admin/knowledge/{doc_id}").text
    assert 'id="restriction-form"' in page and 'value="approver" selected' in page

    changed = client.post(f"/admin/knowledge/{doc_id}/restriction", follow_redirects=True,
                          data={"csrf_token": csrf, "min_role": "operator",
                                "departments": ["総務"]})
    assert changed.status_code == 200 and "検索できる人を保存しました" in changed.text
    assert titles(rt, tenant, "賞与の査定", operator) == ["給与規程"]
    assert titles(rt, tenant, "賞与の査定", requester) == []

    lifted = client.post(f"/admin/knowledge/{doc_id}/restriction", follow_redirects=True,
                         data={"csrf_token": csrf, "min_role": ""})
    assert lifted.status_code == 200
    assert "全員" in lifted.text.split("<dt>検索できる人</dt>")[1].split("</dd>")[0]
    assert titles(rt, tenant, "賞与の査定", requester) == ["給与規程"]
    assert audit_actions(rt, doc_id)[-2:] == ["knowledge.document.restrict"] * 2
    unknown = client.post(f"/admin/knowledge/{doc_id}/restriction",
                          data={"csrf_token": csrf, "departments": ["存在しない部"]})
    assert unknown.status_code == 422 and "部門「存在しない部」は存在しません" in unknown.text
    assert titles(rt, tenant, "賞与の査定", requester) == ["給与規程"]


def test_retire_takes_a_document_out_of_search(client: TestClient, rt: Runtime,
                                               tenant: Tenant, csrf: str,
                                               texts: dict[str, str]) -> None:
    """GIVEN 旅費規程 in search
    WHEN the administrator removes it from search on its page
    THEN search no longer finds it, the list moves it to 検索対象外, the document page says
    who removed it, an audit event is written; removing it again is 409; uploading the
    file again brings it back as version 2."""
    upload(client, csrf, {"旅費規程.md": texts["travel"].encode()})
    doc_id = document_id(rt, tenant, "旅費規程")
    assert titles(rt, tenant, "ホテル代の上限")[:1] == ["旅費規程"]
    response = client.post(f"/admin/knowledge/{doc_id}/retire", data={"csrf_token": csrf},
                           follow_redirects=False)
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert "検索対象から外しました" in page.text and "kanri@example.co.jp" in page.text
    assert 'id="retire-form"' not in page.text and "第5条(宿泊費)" not in page.text
    assert titles(rt, tenant, "ホテル代の上限") == []
    assert knowledge.list_documents(rt, command_line(tenant.id)) == []
    listing = client.get("/admin/knowledge").text
    assert 'id="retired-documents"' in listing and f"/admin/knowledge/{doc_id}" in listing
    assert audit_actions(rt, doc_id)[-1] == "knowledge.document.retire"
    again = client.post(f"/admin/knowledge/{doc_id}/retire", data={"csrf_token": csrf})
    assert again.status_code == 409 and "すでに検索対象から外されています" in again.text

    back = upload(client, csrf, {"旅費規程.md": texts["travel"].encode()})
    assert "新しい版" in back.text and "第2版" in back.text
    assert titles(rt, tenant, "ホテル代の上限")[:1] == ["旅費規程"]


def test_retire_from_the_command_line(kb_cli: Callable[..., Any], documents: Any) -> None:
    assert kb_cli("init").exit_code == 0
    assert kb_cli("kb", "add", str(documents["travel"])).exit_code == 0
    removed = kb_cli("kb", "remove", "旅費規程", "--json")
    assert removed.exit_code == 0, removed.output
    assert json.loads(removed.stdout) == {"id": 1, "name": "旅費規程", "document": "旅費規程",
                                          "version": 1, "status": "retired"}
    assert json.loads(kb_cli("kb", "search", "ホテル代", "--json").stdout) == {"hits": []}
    missing = kb_cli("kb", "remove", "存在しない規程")
    assert missing.exit_code != 0 and "文書「存在しない規程」が見つかりません" in missing.output


@pytest.mark.parametrize("role", [Role.REQUESTER, Role.OPERATOR, Role.APPROVER])
def test_only_administrators_manage_documents(client: TestClient, rt: Runtime, tenant: Tenant,
                                              csrf: str, login: Callable[[str], str],
                                              make_user: Callable[..., User],
                                              texts: dict[str, str], role: Role) -> None:
    """GIVEN a document uploaded by the administrator
    WHEN a requester, operator or approver opens the pages, uploads or retires
    THEN every call is 403 and nothing changes; there is no link to the page for them."""
    upload(client, csrf, {"旅費規程.md": texts["travel"].encode()})
    doc_id = document_id(rt, tenant, "旅費規程")
    other = login(make_user(role, departments=["経理"]).email)
    before = stored(rt)
    assert client.get("/admin/knowledge").status_code == 403
    assert client.get(f"/admin/knowledge/{doc_id}").status_code == 403
    refused = upload(client, other, {"社内FAQ.md": texts["faq"].encode()})
    assert refused.status_code == 403 and "<code>forbidden</code>" in refused.text
    retire = client.post(f"/admin/knowledge/{doc_id}/retire", data={"csrf_token": other})
    assert retire.status_code == 403
    restrict = client.post(f"/admin/knowledge/{doc_id}/restriction",
                           data={"csrf_token": other, "min_role": "admin"})
    assert restrict.status_code == 403
    assert stored(rt) == before
    assert titles(rt, tenant, "ホテル代の上限")[:1] == ["旅費規程"]


def test_another_tenants_document_is_not_found(client: TestClient, rt: Runtime, tenant: Tenant,
                                               csrf: str, login: Callable[[str], str],
                                               make_tenant: Callable[..., Tenant],
                                               make_user: Callable[..., User],
                                               texts: dict[str, str]) -> None:
    """GIVEN 旅費規程 of tenant A
    WHEN the administrator of tenant B opens or retires it by its id
    THEN 404 both times, A's document stays in search, and B's own list is empty."""
    upload(client, csrf, {"旅費規程.md": texts["travel"].encode()})
    doc_id = document_id(rt, tenant, "旅費規程")
    other_tenant = make_tenant("kaede", "かえで商事株式会社")
    foreign = login(make_user(Role.ADMIN, tenant_obj=other_tenant).email)
    page = client.get(f"/admin/knowledge/{doc_id}")
    assert page.status_code == 404 and "<code>not_found</code>" in page.text
    assert "旅費規程" not in page.text
    retire = client.post(f"/admin/knowledge/{doc_id}/retire", data={"csrf_token": foreign})
    assert retire.status_code == 404
    restrict = client.post(f"/admin/knowledge/{doc_id}/restriction",
                           data={"csrf_token": foreign, "min_role": "admin"})
    assert restrict.status_code == 404
    assert "旅費規程" not in client.get("/admin/knowledge").text
    assert titles(rt, tenant, "ホテル代の上限")[:1] == ["旅費規程"]


def test_admin_navigation_links_to_the_page(client: TestClient, csrf: str) -> None:
    page = client.get("/admin/users")
    assert '<a href="/admin/knowledge">ナレッジ文書</a>' in page.text
