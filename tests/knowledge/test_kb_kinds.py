"""The company's own rule wins: document kinds (company rule, reference material, FAQ), the
order of authority in search, commentary below rules, and the conflicts an operator sees
when reference material states other values (service, CLI and the admin pages)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ushiro import knowledge
from ushiro.core.errors import UshiroError
from ushiro.core.runtime import Runtime
from ushiro.identity import Role, Tenant, User, command_line
from ushiro.identity import service as identity_service
from ushiro.knowledge import DocumentIn, DocumentKind, SearchHit
from ushiro.knowledge.retrieval import precedence
from ushiro.knowledge.retrieval.conflicts import same_topic

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "knowledge"
MODEL = (FIXTURES / "モデル就業規則.md").read_bytes()
COMPANY = (FIXTURES / "就業規則.md").read_bytes()


@pytest.fixture
def both(rt: Runtime, tenant: Tenant) -> None:
    """The company's 就業規則 and the model rules as reference material."""
    system = command_line(tenant.id)
    knowledge.add_document(rt, system, DocumentIn("モデル就業規則.md", MODEL,
                                                  kind=DocumentKind.REFERENCE))
    knowledge.add_document(rt, system, DocumentIn("就業規則.md", COMPANY))


def hits_for(rt: Runtime, tenant: Tenant, query: str, k: int = 5) -> list[SearchHit]:
    return knowledge.search(rt, command_line(tenant.id), query, k=k)


@pytest.mark.parametrize(("query", "company_section"), [
    ("定年は何歳ですか", "第21条(定年)"),
    ("給料はいつ支払われますか", "第30条(賃金の支払)"),
    ("退職金はもらえますか", "第35条(退職金)"),
])
def test_the_company_rule_ranks_above_reference_material(rt: Runtime, tenant: Tenant,
                                                         both: None, query: str,
                                                         company_section: str) -> None:
    """GIVEN the company's rules and the model rules (reference) on the same topics
    WHEN an employee's question matches both
    THEN the company's article is first, every company hit that matches well (score within
    precedence.FLOOR of the best) comes before the reference hits, reference commentary (【解説】) comes after the reference rules, and each hit
    says its document's kind."""
    hits = hits_for(rt, tenant, query)
    assert (hits[0].document, hits[0].section, hits[0].kind) == (
        "就業規則", company_section, "company")
    assert "reference" in {hit.kind for hit in hits}
    best = max(hit.score for hit in hits)
    matching = [i for i, hit in enumerate(hits)
                if hit.kind == "company" and hit.score >= precedence.FLOOR * best]
    references = [i for i, hit in enumerate(hits) if hit.kind == "reference"]
    assert max(matching) < min(references)
    commentary = [i for i, hit in enumerate(hits) if precedence.is_commentary(hit.section)]
    rules = [i for i, hit in enumerate(hits)
             if hit.kind == "reference" and not precedence.is_commentary(hit.section)]
    assert commentary and rules and max(rules) < min(commentary)


def test_reference_material_alone_is_still_found(rt: Runtime, tenant: Tenant,
                                                 both: None) -> None:
    """GIVEN a topic only the reference material covers (年次有給休暇の時季指定)
    THEN search finds it there, marked as reference: the drafter can say so."""
    hits = hits_for(rt, tenant, "有給の時季指定は何日ですか")
    assert (hits[0].document, hits[0].section, hits[0].kind) == (
        "モデル就業規則", "第23条(年次有給休暇の時季指定)", "reference")


def test_without_reference_material_the_order_is_plain_relevance(rt: Runtime,
                                                                 tenant: Tenant) -> None:
    """GIVEN only company rules THEN nothing is reordered (scores descend)."""
    knowledge.add_document(rt, command_line(tenant.id), DocumentIn("就業規則.md", COMPANY))
    hits = hits_for(rt, tenant, "定年と退職金と賃金")
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@pytest.mark.parametrize(("query", "company", "reference"), [
    ("定年は何歳ですか", ("満65歳",), ("満60歳",)),
    ("給料はいつ支払われますか", ("当月末日",), ("翌月15日",)),
    ("退職金はもらえますか", ("支給しない",), ("支給する",)),
])
def test_conflicts_between_reference_and_company_are_found(
        rt: Runtime, tenant: Tenant, both: None, query: str, company: tuple[str, ...],
        reference: tuple[str, ...]) -> None:
    """GIVEN the model rules saying 満60歳 / 翌月15日 / 支給する and the company 満65歳 /
    当月末日 / 支給しない
    THEN conflicts() pairs the company article with the reference article and names the
    differing values (not the commentary, which rules nothing)."""
    found = knowledge.conflicts(hits_for(rt, tenant, query))
    assert found, "a conflict"
    first = found[0]
    assert (first.company.document, first.reference.document) == ("就業規則", "モデル就業規則")
    assert set(company) <= set(first.company_values)
    assert set(reference) <= set(first.reference_values)
    assert all(not precedence.is_commentary(c.reference.section) for c in found)
    assert first.reference.document in first.describe()


def test_no_conflict_when_the_values_agree_or_the_topics_differ() -> None:
    def hit(kind: str, section: str, text: str) -> SearchHit:
        return SearchHit(1, "x", 1, section, "", None, 1.0, text, kind=kind)

    agree = [hit("company", "第21条(定年)", "定年は満65歳とする。"),
             hit("reference", "第49条(定年等)", "定年は満60歳又は満65歳とする。")]
    other_topic = [hit("company", "第40条(慶弔休暇)", "結婚は5日とする。"),
                   hit("reference", "第49条(定年等)", "定年は満60歳とする。")]
    assert knowledge.conflicts(agree) == []
    assert knowledge.conflicts(other_topic) == []
    assert same_topic("第41条(賃金の支払と控除)", "第30条(賃金の支払)")


def test_kind_is_kept_across_versions_and_can_be_changed(rt: Runtime, tenant: Tenant,
                                                         make_user: Callable[..., User]) -> None:
    """GIVEN a document added as reference material
    WHEN a new version is added without a kind THEN it stays reference material;
    WHEN an administrator makes it a company rule THEN search says so at once."""
    system = command_line(tenant.id)
    first = knowledge.add_document(rt, system, DocumentIn("モデル就業規則.md", MODEL,
                                                          kind=DocumentKind.REFERENCE))
    second = knowledge.add_document(rt, system, DocumentIn("モデル就業規則.md", MODEL + b"\n"))
    assert (first.kind, second.kind, second.version) == (
        DocumentKind.REFERENCE, DocumentKind.REFERENCE, 2)
    assert hits_for(rt, tenant, "定年")[0].kind == "reference"
    staff = make_user(Role.OPERATOR)
    with pytest.raises(UshiroError):  # administrators only
        knowledge.set_document_kind(rt, identity_service.principal(rt.db, staff.id, tenant.id),
                                    first.document_id, DocumentKind.COMPANY)
    assert knowledge.set_document_kind(rt, system, first.document_id, DocumentKind.COMPANY)
    assert hits_for(rt, tenant, "定年")[0].kind == "company"
    [listed] = knowledge.list_documents(rt, system)
    assert listed.kind is DocumentKind.COMPANY and listed.as_dict()["kind"] == "company"


def test_cli_reference_option_and_list_json(kb_cli, tmp_path: Path) -> None:
    """`ushiro kb add --reference` stores reference material, `--faq` an FAQ, `kb list
    --json` shows each document's kind, `kb search --json` each hit's; an unknown kind is
    refused in Japanese, naming the choices, and adds nothing."""
    (tmp_path / "モデル就業規則.md").write_bytes(MODEL)
    (tmp_path / "就業規則.md").write_bytes(COMPANY)
    (tmp_path / "社内FAQ.txt").write_text("Q1 有給は何日？\nA 10日です。", encoding="utf-8")
    assert kb_cli("init").exit_code == 0
    added = kb_cli("kb", "add", "--reference", str(tmp_path / "モデル就業規則.md"), "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["documents"][0]["kind"] == "reference"
    assert kb_cli("kb", "add", str(tmp_path / "就業規則.md")).exit_code == 0
    assert kb_cli("kb", "add", "--faq", str(tmp_path / "社内FAQ.txt")).exit_code == 0
    listed = json.loads(kb_cli("kb", "list", "--json").stdout)["documents"]
    assert {d["name"]: d["kind"] for d in listed} == {
        "モデル就業規則": "reference", "就業規則": "company", "社内FAQ": "faq"}
    plain = kb_cli("kb", "list")
    assert "[参考資料]" in plain.stdout and "[社内規程]" in plain.stdout
    hits = json.loads(kb_cli("kb", "search", "定年は何歳", "--json").stdout)["hits"]
    assert (hits[0]["document"], hits[0]["kind"]) == ("就業規則", "company")

    bad = kb_cli("kb", "add", "--kind", "memo", str(tmp_path / "就業規則.md"))
    assert bad.exit_code != 0
    assert "文書の種類「memo」は指定できません" in bad.output
    assert "reference（参考資料）" in bad.output
    both = kb_cli("kb", "add", "--reference", "--faq", str(tmp_path / "就業規則.md"))
    assert both.exit_code != 0 and "--faq のどれか" in both.output
    assert len(json.loads(kb_cli("kb", "list", "--json").stdout)["documents"]) == 3


def test_admin_upload_and_document_page_set_the_kind(client: TestClient, rt: Runtime,
                                                     tenant: Tenant,
                                                     make_user: Callable[..., User],
                                                     login: Callable[[str], str]) -> None:
    """GIVEN an administrator on /admin/knowledge
    WHEN they upload the model rules as 参考資料 THEN the results and the list show the
    kind; the document page changes it back to 社内規程; an unknown kind is a 422 page
    in Japanese that changes nothing."""
    admin = make_user(Role.ADMIN)
    csrf = login(admin.email)
    page = client.post("/admin/knowledge", data={"csrf_token": csrf, "kind": "reference"},
                       files=[("files", ("モデル就業規則.md", MODEL, "text/markdown"))])
    assert page.status_code == 200, page.text[:1000]
    assert 'class="badge kind-reference">参考資料' in page.text
    [document] = knowledge.list_documents(rt, command_line(tenant.id))
    assert document.kind is DocumentKind.REFERENCE
    listing = client.get("/admin/knowledge").text
    assert 'id="upload-kind"' in listing and "参考資料" in listing

    changed = client.post(f"/admin/knowledge/{document.id}/kind",
                          data={"csrf_token": csrf, "kind": "company"}, follow_redirects=True)
    assert changed.status_code == 200 and 'id="kind-saved"' in changed.text
    assert 'id="document-kind"><span class="badge kind-company">社内規程' in changed.text
    bad = client.post(f"/admin/knowledge/{document.id}/kind",
                      data={"csrf_token": csrf, "kind": "memo"})
    assert bad.status_code == 422 and "文書の種類「memo」は指定できません" in bad.text
    bad_upload = client.post("/admin/knowledge", data={"csrf_token": csrf, "kind": "x"},
                             files=[("files", ("就業規則.md", COMPANY, "text/markdown"))])
    assert bad_upload.status_code == 422 and "文書の種類「x」は指定できません" in bad_upload.text
    [document] = knowledge.list_documents(rt, command_line(tenant.id))
    assert document.kind is DocumentKind.COMPANY


def test_an_answer_published_as_faq_is_of_kind_faq(rt: Runtime, tenant: Tenant,
                                                   make_user: Callable[..., User]) -> None:
    """GIVEN an operator publishing a reviewed answer THEN the document is an FAQ, which
    search ranks with the company's own rules."""
    staff = identity_service.principal(rt.db, make_user(Role.OPERATOR).id, tenant.id)
    added = knowledge.publish_faq(rt, staff, DocumentIn(
        "faq-REQ-1.txt", "Q 定年は何歳ですか？\nA 満65歳です。".encode()))
    assert added.kind is DocumentKind.FAQ
    assert hits_for(rt, tenant, "定年")[0].kind == "faq"
