"""Documents as they come: several rule sets in one file, Q&A items in every usual form,
captions kept in labels, tables of contents left out — checked on the real published rules
in bench/data/docs/real/ (CC0) as well as on small texts."""

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
from ushiro.knowledge import AddStatus, DocumentIn
from ushiro.knowledge.choices import DocumentFormat
from ushiro.knowledge.ingest.extract import Extracted, extract
from ushiro.knowledge.ingest.passages import split
from ushiro.knowledge.ingest.rulesets import rule_sets

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "knowledge"
DOCS = ROOT / "bench" / "data" / "docs"
REAL_RULES = sorted(p for p in [*DOCS.glob("real/denkiyagi/*.md"), *DOCS.glob("real/tuqulore/*.md"),
                                *DOCS.glob("company/*.txt")] if "UPSTREAM" not in p.name)


def sections(text: str, fmt: DocumentFormat = DocumentFormat.TEXT) -> list[str]:
    return [p.section for p in split(Extracted(fmt, [text]), "文書")]


@pytest.mark.parametrize("path", REAL_RULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_article_of_the_real_rules_has_its_caption(path: Path) -> None:
    """GIVEN a real company's published rules (### 第N条　caption in Markdown) or the
    sample company's (（caption） above 第N条)
    THEN every article's label carries its caption: 第40条(慶弔休暇), never 第40条 alone."""
    drafts = split(extract(path.name, path.read_bytes(), max_bytes=10**8), path.stem)
    articles = {d.section for d in drafts if d.section.startswith("第") and "条" in d.section}
    assert articles
    assert sorted(s for s in articles if "(" not in s) == []


@pytest.mark.parametrize(("text", "expected"), [
    pytest.param("### 第40条　慶弔休暇\n\n1. 本人の結婚は5日。", ["第40条(慶弔休暇)"], id="markdown"),
    pytest.param("第40条（慶弔休暇）\n本人の結婚は5日。", ["第40条(慶弔休暇)"], id="bracket-line"),
    pytest.param("（慶弔休暇）\n第40条　本人の結婚は5日とする。", ["第40条(慶弔休暇)"], id="above"),
    pytest.param("第40条　慶弔休暇\n本人の結婚は5日とする。", ["第40条(慶弔休暇)"], id="bare"),
    pytest.param("### 第43条　育児・介護休業、子の看護休暇等\n\n別に定める。",
                 ["第43条(育児・介護休業、子の看護休暇等)"], id="markdown-with-comma"),
    pytest.param("（定義）\n第9条　この法律で労働者とは、使用される者をいう。\n"
                 "第10条　この法律で使用者とは、事業主をいう。\n（賃金）\n第11条　賃金とは…をいう。",
                 ["第9条(定義)", "第10条(定義)", "第11条(賃金)"], id="shared-statute-caption"),
])
def test_captions_stay_in_labels(text: str, expected: list[str]) -> None:
    """GIVEN an article caption written in any of the usual places
    THEN the label is 第N条(caption); a statute's caption above a run of articles (共通見出し)
    covers the uncaptioned articles after it."""
    assert sections(text, DocumentFormat.MARKDOWN) == expected


def test_faq_forms_are_one_passage_per_item() -> None:
    """GIVEN an FAQ with Q1/問2 on their own line, Ｑ３．, 【質問】/【回答】, === Q5 ===, Q./A.
    THEN each item is one passage, its label the question, its text question and answer."""
    path = FIXTURES / "faq_forms.txt"
    drafts = split(extract(path.name, path.read_bytes(), max_bytes=10**6), "社内FAQ")
    assert [d.section for d in drafts] == [
        "Q1 有給休暇は何日もらえますか。", "問2 慶弔休暇は何日ですか。",
        "Q3 住所が変わったらどうすればよいですか。", "Q パソコンが壊れたときは?",
        "Q5 名刺はどこで頼めますか。", "Q 交通費の精算期限はいつですか。",
        "Q 給与明細はどこで見られますか。"]
    answers = ["10日", "5日", "届け出て", "情報システム部", "総務部", "翌月5日", "給与システム"]
    for draft, answer in zip(drafts, answers, strict=True):
        assert answer in draft.text, draft


def test_markdown_question_headings_are_items() -> None:
    text = "# FAQ\n\n## Q3 有給は何日？\n\n10日です。\n\n## Q4 結婚したら？\n\n5日休めます。"
    assert sections(text, DocumentFormat.MARKDOWN) == ["Q3 有給は何日?", "Q4 結婚したら?"]


@pytest.mark.parametrize("contents", [
    pytest.param("目次\n第1章　総則\n第1条（目的）\n第2条（適用範囲）\n第2章　休暇\n第3条（慶弔休暇）\n",
                 id="titled"),
    pytest.param("## 目次\n\n- [第1条 目的](#1)\n- [第2条 適用範囲](#2)\n- [第3条 慶弔休暇](#3)\n",
                 id="markdown-links"),
    pytest.param("第1条（目的）・・・・・・1\n第2条（適用範囲）・・・・2\n第3条（慶弔休暇）……3\n",
                 id="dot-leaders"),
    pytest.param("第1条（目的）\n第2条（適用範囲）\n第3条（慶弔休暇）\n", id="untitled-run"),
])
def test_a_table_of_contents_is_never_a_passage(contents: str) -> None:
    """GIVEN rules that open with a table of contents (with or without 目次, dot leaders,
    page numbers, Markdown links)
    THEN the passages are the articles of the body, each once, with its body text."""
    body = ("第1章　総則\n（目的）\n第1条　この規則は就業に関する事項を定める。\n"
            "（適用範囲）\n第2条　この規則は全社員に適用する。\n第2章　休暇\n"
            "（慶弔休暇）\n第3条　本人の結婚は5日とする。")
    drafts = split(Extracted(DocumentFormat.MARKDOWN, [f"就業規則\n\n{contents}\n{body}"]),
                   "就業規則")
    assert [d.section for d in drafts] == ["第1条(目的)", "第2条(適用範囲)", "第3条(慶弔休暇)"]
    assert all("。" in d.text for d in drafts)
    assert "・・・" not in "".join(d.text for d in drafts)


def test_multi_rule_set_files_are_detected_in_markdown_and_text() -> None:
    for name, titles in (("規程集.md", ["就業規則", "賃金規程", "出張旅費規程"]),
                         ("規程集.txt", ["就業規則", "賃金規程"])):
        path = FIXTURES / name
        found = rule_sets(extract(name, path.read_bytes(), max_bytes=10**6))
        assert [s.title for s in found] == titles
    # A file with headings that are a rule book's sections is one document.
    single = extract("就業規則.md", (FIXTURES / "就業規則.md").read_bytes(), max_bytes=10**6)
    assert rule_sets(single) == []


def _sections(rt: Runtime, tenant: Tenant, query: str) -> list[tuple[str, str]]:
    return [(h.document, h.section) for h in knowledge.search(rt, command_line(tenant.id), query)]


def test_a_file_of_rule_sets_becomes_one_document_each(rt: Runtime, tenant: Tenant) -> None:
    """GIVEN one file holding 就業規則, 賃金規程 and 出張旅費規程, each with its own 第12条
    WHEN it is added THEN there are three documents named after the titles, and a citation
    of 第12条 says of which 規程; adding it again changes nothing; a changed file is a new
    version of each; a display title for such a file is refused in Japanese."""
    system = command_line(tenant.id)
    data = (FIXTURES / "規程集.md").read_bytes()
    results = knowledge.add_file(rt, system, DocumentIn("規程集.md", data))
    assert [(r.name, r.version, r.status) for r in results] == [
        ("就業規則", 1, AddStatus.ADDED), ("賃金規程", 1, AddStatus.ADDED),
        ("出張旅費規程", 1, AddStatus.ADDED)]
    assert _sections(rt, tenant, "通勤手当の上限")[0] == ("賃金規程", "第12条(通勤手当)")
    assert _sections(rt, tenant, "日当はいくら")[0] == ("出張旅費規程", "第12条(日当)")
    again = knowledge.add_file(rt, system, DocumentIn("規程集.md", data))
    assert {r.status for r in again} == {AddStatus.UNCHANGED}
    changed = data.replace("1日3,000円".encode(), "1日4,000円".encode())
    third = knowledge.add_file(rt, system, DocumentIn("規程集.md", changed))
    assert [(r.name, r.version) for r in third] == [
        ("就業規則", 2), ("賃金規程", 2), ("出張旅費規程", 2)]
    assert "4,000円" in knowledge.search(rt, system, "日当はいくら")[0].text
    with pytest.raises(UshiroError) as refused:
        knowledge.add_file(rt, system, DocumentIn("規程集.md", data, title="規程"))
    assert "複数の規程（「就業規則」、「賃金規程」、「出張旅費規程」）" in refused.value.message
    assert len(knowledge.list_documents(rt, system)) == 3


def test_the_real_rules_in_one_file_split_into_their_documents(rt: Runtime,
                                                               tenant: Tenant) -> None:
    """GIVEN ツクロア's five published rules (CC0) concatenated into one Markdown file
    THEN it becomes the five documents, each with every article captioned."""
    files = sorted((DOCS / "real" / "tuqulore").glob("*.md"))
    files = [p for p in files if "UPSTREAM" not in p.name]
    data = "\n\n".join(p.read_text(encoding="utf-8") for p in files).encode()
    results = knowledge.add_file(rt, command_line(tenant.id), DocumentIn("規程集.md", data))
    assert sorted(r.name for r in results) == sorted(p.stem for p in files)
    hits = knowledge.search(rt, command_line(tenant.id), "慶弔休暇は何日", k=10)
    assert hits and all("(" in h.section for h in hits if h.section.startswith("第"))


def test_cli_and_admin_upload_split_a_file_of_rule_sets(kb_cli, tmp_path: Path,
                                                        client: TestClient, rt: Runtime,
                                                        tenant: Tenant,
                                                        make_user: Callable[..., User],
                                                        login: Callable[[str], str]) -> None:
    """`ushiro kb add 規程集.md` reports one row per rule set; the admin upload lists each
    document the file became."""
    path = tmp_path / "規程集.md"
    path.write_bytes((FIXTURES / "規程集.md").read_bytes())
    assert kb_cli("init").exit_code == 0
    added = kb_cli("kb", "add", str(path), "--json")
    assert added.exit_code == 0, added.output
    rows = json.loads(added.stdout)["documents"]
    assert [(r["document"], r["file"]) for r in rows] == [
        ("就業規則", str(path)), ("賃金規程", str(path)), ("出張旅費規程", str(path))]
    plain = kb_cli("kb", "add", str(path))
    assert "1 件を取り込みました" in plain.stdout and plain.stdout.count("unchanged") == 3

    admin = make_user(Role.ADMIN)
    csrf = login(admin.email)
    page = client.post("/admin/knowledge", data={"csrf_token": csrf},
                       files=[("files", ("規程集.md", path.read_bytes(), "text/markdown"))])
    assert page.status_code == 200, page.text[:1000]
    assert page.text.count('class="upload-ok"') == 3
    for title in ("就業規則", "賃金規程", "出張旅費規程"):
        assert f">{title}</a>" in page.text
    assert {d.name for d in knowledge.list_documents(rt, command_line(tenant.id))} == {
        "就業規則", "賃金規程", "出張旅費規程"}


def test_commentary_is_marked_and_a_note_of_the_rule_is_not() -> None:
    """GIVEN model rules with 【第1条　目的】 notes after 第1条 and a 【解説】 block, and a
    company rule with a （注） note and 【第5条　日当】 as an article's own heading
    THEN the notes are passages labelled …【解説】; the （注） stays in its article; the
    bracketed heading opens 第5条(日当)."""
    model = ("（目的）\n第1条　この規則は定める。\n【第1条　目的】\n１　就業規則は作成が必要です。\n"
             "（適用範囲）\n第2条　全員に適用する。\n【解説】\n適用範囲を定めます。")
    assert sections(model) == ["第1条(目的)", "第1条(目的)【解説】", "第2条(適用範囲)",
                               "第2条(適用範囲)【解説】"]
    company = ("（日当）\n第4条　日当は3,000円とする。\n（注）税込とする。\n"
               "【第5条　宿泊料】\n宿泊料は10,000円とする。")
    assert sections(company) == ["第4条(日当)", "第5条(宿泊料)"]
