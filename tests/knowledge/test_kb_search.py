"""Adding documents and searching them through the services: synonyms, tenants, roles,
versions, and bad input that changes nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import event, func, select

from ushiro import knowledge
from ushiro.audit.models import AuditEvent
from ushiro.audit.verify import verify_instance
from ushiro.core.errors import ErrorCode, UshiroError
from ushiro.core.runtime import Runtime
from ushiro.identity import Principal, Role, Tenant, User, command_line, principal_for
from ushiro.knowledge import DocumentIn
from ushiro.knowledge import repository as kb_repository
from ushiro.knowledge.models import KnowledgeState, Synonym


@pytest.fixture
def add(rt: Runtime, tenant: Tenant) -> Callable[..., knowledge.AddResult]:
    def run(filename: str, text: str | bytes, tenant_obj: Tenant | None = None,
            **options: object) -> knowledge.AddResult:
        data = text.encode() if isinstance(text, str) else text
        return knowledge.add_document(rt, command_line((tenant_obj or tenant).id),
                                      DocumentIn(filename, data, **options))  # type: ignore[arg-type]

    return run


@pytest.fixture
def company(add, texts) -> None:
    add("就業規則.txt", texts["rules"])
    add("旅費規程.md", texts["travel"])
    add("社内FAQ.md", texts["faq"])


def as_principal(rt: Runtime, user: User, tenant: Tenant) -> Principal:
    with rt.db.reading() as session:
        return principal_for(session, session.get(User, user.id), session.get(Tenant, tenant.id))


def top(rt: Runtime, tenant: Tenant, query: str, k: int = 5,
        principal: Principal | None = None) -> list[tuple[str, str]]:
    return [(h.document, h.section)
            for h in knowledge.search(rt, principal or command_line(tenant.id), query, k=k)]


def audit_count(rt: Runtime) -> int:
    with rt.db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


@pytest.mark.parametrize(("query", "expected"), [
    ("有給は何日もらえますか", ("就業規則", "第12条(年次有給休暇)")),
    ("有休の申請は何日前まで", ("就業規則", "第12条(年次有給休暇)")),
    ("残業の上限は何時間", ("就業規則", "第9条(時間外労働及び休日労働)")),
    ("ボーナスはいつ出ますか", ("就業規則", "第17条(賞与)")),
    ("忌引きで休めるのは何日", ("就業規則", "第13条(慶弔休暇)")),
    ("出張の日当はいくら", ("旅費規程", "第4条(日当)")),
    ("ホテル代の上限", ("旅費規程", "第5条(宿泊費)")),
    ("飛行機に乗れるのは何km以上", ("旅費規程", "第3条の2(航空機の利用)")),
    ("引っ越ししたときの住所変更", ("社内FAQ", "問3 住所が変わったときの手続きは?")),
])
def test_questions_find_the_clause(rt, tenant, company, query, expected) -> None:
    """GIVEN a company's rules, travel policy and FAQ, and the shipped synonyms
    WHEN an employee asks in their own words (有給, 残業, ボーナス, ホテル代…)
    THEN the clause that answers it ranks first."""
    assert top(rt, tenant, query)[0] == expected


def test_ambiguous_word_reaches_every_meaning(rt, tenant, company) -> None:
    """交通費 means 通勤手当 to HR and 旅費 to travel policy: a question finds both."""
    hits = top(rt, tenant, "交通費はいくらまで出ますか", k=4)
    assert ("就業規則", "第16条(通勤手当)") in hits
    assert ("旅費規程", "第3条(交通費)") in hits


def test_hits_carry_text_version_and_context(rt, tenant, company) -> None:
    hit = knowledge.search(rt, command_line(tenant.id), "賞与", k=1)[0]
    assert hit.version == 1 and hit.context == "第5章 賃金"
    assert hit.text.startswith("（賞与）\n第１７条") and hit.score > 0


def test_a_search_asks_the_database_only_for_the_stamp(rt, tenant, company) -> None:
    """GIVEN a tenant whose index is built WHEN it is searched again THEN the only query is
    the stamp check (the hits' text is kept with the index), and the hits are complete."""
    knowledge.search(rt, command_line(tenant.id), "賞与")
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    event.listen(rt.db.engine, "before_cursor_execute", seen)
    try:
        hits = knowledge.search(rt, command_line(tenant.id), "有給は何日もらえますか", k=3)
    finally:
        event.remove(rt.db.engine, "before_cursor_execute", seen)
    assert len(statements) == 1 and "kb_state" in statements[0]
    assert hits[0].section == "第12条(年次有給休暇)" and "１０日の年次有給休暇" in hits[0].text


def test_tenants_never_see_each_other(rt, tenant, make_tenant, add, texts, make_user) -> None:
    """GIVEN tenant A with its 就業規則 and tenant B with only a travel policy
    THEN B's searches never return A's passages, nor A's member's B's: a principal searches
    its own tenant, there is no argument naming another one."""
    other = make_tenant("momiji", "もみじ商事株式会社")
    add("就業規則.txt", texts["rules"])
    add("旅費規程.md", texts["travel"], tenant_obj=other)
    b_hits = knowledge.search(rt, command_line(other.id), "年次有給休暇と賞与と出張の日当", k=20)
    assert b_hits and {h.document for h in b_hits} == {"旅費規程"}
    assert top(rt, other, "有給") == []
    member_of_a = as_principal(rt, make_user(Role.ADMIN), tenant)
    a_hits = knowledge.search(rt, member_of_a, "出張の日当と宿泊料", k=20)
    assert {h.document for h in a_hits} <= {"就業規則"}


def test_restricted_documents_by_role_and_department(rt, tenant, add, company,
                                                     make_user) -> None:
    """GIVEN an evaluation standard for operators and a payroll manual for 経理 only
    THEN requesters see neither, an operator of 人事・労務 sees only the first, an operator
    of 経理 sees both, the admin sees both; and the filter is applied before the top-k cut."""
    add("人事評価基準.md", "# 人事評価\n## 賞与の査定\n賞与の査定は人事評価のS〜Dで決める。賞与賞与。",
        min_role=Role.OPERATOR)
    add("給与計算マニュアル.md", "# 給与計算\n## 賞与の計算\n賞与の源泉徴収は前月の給与から計算する。賞与。",
        departments=["経理"])
    people = {
        "requester": make_user(Role.REQUESTER),
        "hr": make_user(Role.OPERATOR, departments=["人事・労務"]),
        "accounting": make_user(Role.OPERATOR, departments=["経理"]),
        "admin": make_user(Role.ADMIN),
    }
    seen = {}
    for who, user in people.items():
        hits = knowledge.search(rt, as_principal(rt, user, tenant), "賞与", k=10)
        seen[who] = {h.document for h in hits} - {"就業規則", "旅費規程", "社内FAQ"}
    assert seen == {"requester": set(), "hr": {"人事評価基準"},
                    "accounting": {"人事評価基準", "給与計算マニュアル"},
                    "admin": {"人事評価基準", "給与計算マニュアル"}}
    requester = as_principal(rt, people["requester"], tenant)
    assert top(rt, tenant, "賞与", k=1, principal=requester) == [("就業規則", "第17条(賞与)")]
    listed = {d.title for d in knowledge.list_documents(rt, requester)}
    assert listed == {"就業規則", "旅費規程", "社内FAQ"}


def test_unknown_department_is_refused(add) -> None:
    with pytest.raises(UshiroError) as caught:
        add("規程.md", "# 規程\n本文", departments=["存在しない部"])
    assert caught.value.code is ErrorCode.VALIDATION and "存在しない部" in caught.value.message


def test_adding_again_makes_a_new_version_that_search_cites(rt, tenant, add, texts) -> None:
    """GIVEN 就業規則 version 1 WHEN the revised file is added under the same name
    THEN it becomes version 2, search returns only version 2's wording and names it."""
    first = add("就業規則.txt", texts["rules"])
    same = add("就業規則.txt", texts["rules"])
    revised = texts["rules"].replace("１０日の年次有給休暇", "１２日の年次有給休暇")
    second = add("就業規則.txt", revised, effective_date=__import__("datetime").date(2025, 4, 1))
    assert (first.version, first.status) == (1, knowledge.AddStatus.ADDED)
    assert (same.version, same.status) == (1, knowledge.AddStatus.UNCHANGED)
    assert (second.version, second.status) == (2, knowledge.AddStatus.NEW_VERSION)
    hits = knowledge.search(rt, command_line(tenant.id), "有給", k=20)
    assert {h.version for h in hits} == {2}
    assert hits[0].section == "第12条(年次有給休暇)" and "１２日" in hits[0].text
    assert knowledge.counts(rt, command_line(tenant.id)) == {"documents": 1, "versions": 2,
                                               "passages": 2 * first.passages}
    [listed] = knowledge.list_documents(rt, command_line(tenant.id))
    assert (listed.version, str(listed.effective_date)) == (2, "2025-04-01")


def test_new_title_or_restriction_without_new_content(rt, tenant, add, texts) -> None:
    add("旅費規程.md", texts["travel"])
    again = add("旅費規程.md", texts["travel"], title="出張旅費規程", min_role=Role.APPROVER)
    assert again.status is knowledge.AddStatus.UNCHANGED and again.title == "出張旅費規程"
    [doc] = knowledge.list_documents(rt, command_line(tenant.id))
    assert (doc.title, doc.min_role, doc.version) == ("出張旅費規程", "approver", 1)
    assert top(rt, tenant, "日当", k=1)[0][0] == "出張旅費規程"


BAD_INPUTS = [
    pytest.param("壊れた.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog", ErrorCode.DOCUMENT_UNREADABLE,
                 id="corrupt-pdf"),
    pytest.param("壊れた.docx", b"PK\x03\x04 not really a zip", ErrorCode.DOCUMENT_UNREADABLE,
                 id="corrupt-docx"),
    pytest.param("規程.txt", b"\x82\xa0" + bytes(range(128, 256)) * 8, ErrorCode.DOCUMENT_UNREADABLE,
                 id="undecodable"),
    pytest.param("空.md", b"  \n\n ", ErrorCode.DOCUMENT_UNREADABLE, id="empty"),
    pytest.param("規程.xls", b"whatever", ErrorCode.UNSUPPORTED_FORMAT, id="unsupported"),
    pytest.param("巨大.txt", "第1条　本文。".encode() * 400, ErrorCode.DOCUMENT_TOO_LARGE,
                 id="enormous"),
]


@pytest.mark.parametrize(("filename", "data", "code"), BAD_INPUTS)
def test_bad_files_change_nothing(rt, tenant, add, company, monkeypatch, filename, data,
                                  code) -> None:
    """GIVEN an indexed knowledge base WHEN a file that cannot be read is added
    THEN a Japanese error with a stable code is raised and nothing at all is stored."""
    monkeypatch.setattr(rt.settings, "max_document_bytes", 4000)
    before = (knowledge.counts(rt, command_line(tenant.id)), audit_count(rt), _stamp(rt, tenant))
    with pytest.raises(UshiroError) as caught:
        add(filename, data)
    assert caught.value.code is code and caught.value.message
    assert (knowledge.counts(rt, command_line(tenant.id)), audit_count(rt), _stamp(rt, tenant)) == before


def test_scanned_pdf_needs_ocr_and_changes_nothing(rt, tenant, add, company,
                                                   scanned_pdf) -> None:
    before = knowledge.counts(rt, command_line(tenant.id))
    with pytest.raises(UshiroError) as caught:
        add("スキャン.pdf", scanned_pdf)
    assert caught.value.code is ErrorCode.DOCUMENT_NEEDS_OCR and "OCR" in caught.value.message
    assert knowledge.counts(rt, command_line(tenant.id)) == before


def test_failure_while_storing_leaves_nothing_half_indexed(rt, tenant, add, company, texts,
                                                           monkeypatch) -> None:
    """A failure after the document and version rows were written rolls all of it back."""
    before = (knowledge.counts(rt, command_line(tenant.id)), audit_count(rt), _stamp(rt, tenant))

    def broken(session, rows):
        raise RuntimeError("disk full")

    monkeypatch.setattr(kb_repository, "insert_passages", broken)
    with pytest.raises(RuntimeError):
        add("新規程.md", texts["faq"].replace("社内FAQ", "新規程"))
    with pytest.raises(RuntimeError):
        add("就業規則.txt", texts["rules"] + "\n第２１条　追加の条文。")
    assert (knowledge.counts(rt, command_line(tenant.id)), audit_count(rt), _stamp(rt, tenant)) == before
    assert top(rt, tenant, "有給", k=1)[0] == ("就業規則", "第12条(年次有給休暇)")


def _stamp(rt: Runtime, tenant: Tenant) -> str | None:
    with rt.db.reading() as session:
        state = session.get(KnowledgeState, tenant.id)
        return state.stamp if state else None


def test_adding_is_audited_and_the_chain_verifies(rt, tenant, add, texts) -> None:
    add("旅費規程.md", texts["travel"])
    with rt.db.reading() as session:
        actions = list(session.scalars(select(AuditEvent.action).where(
            AuditEvent.chain == tenant.id).order_by(AuditEvent.seq)))
    assert verify_instance(rt).ok
    assert actions[-2:] == ["tenant.create", "knowledge.document.added"]


def test_a_new_tenant_reads_the_shipped_synonyms_without_a_copy(rt, make_tenant) -> None:
    """GIVEN a new tenant WHEN it searches THEN it reads the shipped synonyms, and nothing
    is copied into kb_synonyms for it (nor audited: nobody changed anything)."""
    fresh = make_tenant()
    assert knowledge.search(rt, command_line(fresh.id), "有給") == []
    assert knowledge.search(rt, command_line(fresh.id), "有給") == []
    with rt.db.reading() as session:
        rows = session.scalar(select(func.count()).select_from(Synonym)
                              .where(Synonym.tenant_id == fresh.id))
        seeds = session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.chain == fresh.id, AuditEvent.action == "knowledge.synonyms.seed"))
    assert rows == 0 and seeds == 0
    assert "有給" in knowledge.synonyms(rt, command_line(fresh.id))["年次有給休暇"]


def test_index_follows_new_documents(rt, tenant, add, texts) -> None:
    add("旅費規程.md", texts["travel"])
    assert top(rt, tenant, "賞与") == []
    add("就業規則.txt", texts["rules"])
    assert top(rt, tenant, "賞与", k=1) == [("就業規則", "第17条(賞与)")]


def test_edited_synonyms_apply_to_passages_already_indexed(rt, tenant, add) -> None:
    """GIVEN a rule that says 在宅勤務 WHEN the admin adds ホームオフィス as its variant
    THEN a question using that word finds it; removing the synonym takes that away again."""
    add("在宅勤務規程.md", "# 在宅勤務規程\n## 第3条（申請）\n在宅勤務をする者は前日までに申請する。")
    assert top(rt, tenant, "ホームオフィス") == []
    added = knowledge.edit_synonyms(rt, command_line(tenant.id), "在宅勤務", ["ホームオフィス", "在宅"])
    assert added == 1  # 在宅 is already a shipped variant
    assert top(rt, tenant, "ホームオフィス", k=1) == [("在宅勤務規程", "第3条(申請)")]
    assert "ホームオフィス" in knowledge.synonyms(rt, command_line(tenant.id))["在宅勤務"]
    removed = knowledge.edit_synonyms(rt, command_line(tenant.id), "在宅勤務", ["ホームオフィス"],
                                      remove=True)
    assert removed == 1 and top(rt, tenant, "ホームオフィス") == []


def test_only_admins_may_add_documents(rt, tenant, make_user) -> None:
    operator = as_principal(rt, make_user(Role.OPERATOR), tenant)
    with pytest.raises(UshiroError) as caught:
        knowledge.add_document(rt, operator, DocumentIn("a.md", b"# a\nb"))
    assert caught.value.code is ErrorCode.FORBIDDEN


@pytest.mark.parametrize(("query", "k", "field"), [("  ", 5, "query"), ("有給", 0, "k"),
                                                    ("有給", 101, "k")])
def test_bad_search_input(rt, tenant, query, k, field) -> None:
    with pytest.raises(UshiroError) as caught:
        knowledge.search(rt, command_line(tenant.id), query, k=k)
    assert caught.value.field == field
