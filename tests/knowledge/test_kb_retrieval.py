"""Search over a real company's published rules (excerpts of ツクロア's CC0 handbook, see
tests/fixtures/knowledge/tuqulore/SOURCE.md): colloquial words reach the rule's own terms
through the shipped synonyms, false friends do not, and the fused ranking (word BM25 +
character trigram BM25) is deterministic."""

from __future__ import annotations

from pathlib import Path

import pytest

from ushiro import knowledge
from ushiro.core.runtime import Runtime
from ushiro.identity import Tenant, command_line
from ushiro.knowledge import DocumentIn
from ushiro.knowledge.retrieval import index as kb_index
from ushiro.knowledge.retrieval.tokenize import Analyzer

RULES = Path(__file__).parent.parent / "fixtures" / "knowledge" / "tuqulore"


@pytest.fixture
def handbook(rt: Runtime, tenant: Tenant) -> None:
    for path in sorted(RULES.glob("*規程.md")) + [RULES / "就業規則.md"]:
        knowledge.add_document(rt, command_line(tenant.id),
                               DocumentIn(path.name, path.read_bytes()))


def ranked(rt: Runtime, tenant: Tenant, query: str, k: int = 5) -> list[tuple[str, str]]:
    """(document, article number) of the hits: the label's caption is left out, so these
    tests do not depend on how a label spells it."""
    return [(h.document, h.section.split("(")[0].split("（")[0].split()[0])
            for h in knowledge.search(rt, command_line(tenant.id), query, k=k)]


@pytest.mark.parametrize(("query", "expected"), [
    pytest.param("新幹線に乗れるのは何キロから", {("出張旅費規程", "第11条")},
                 id="新幹線→有料特急"),
    pytest.param("仕事の本を買ったら補助はありますか", {("福利厚生規程", "第4条")}, id="本を買う→書籍"),
    pytest.param("忌引きは何日", {("就業規則", "第40条")}, id="忌引き→慶弔休暇"),
    pytest.param("母親が亡くなったら何日休めますか", {("就業規則", "第40条")},
                 id="母親・亡くなる→父母・死亡"),
    pytest.param("残業代はどう計算されますか", {("賃金規程", "第7条"), ("賃金規程", "第8条")},
                 id="残業代→時間外労働手当"),
    pytest.param("給料日はいつですか", {("賃金規程", "第11条")}, id="給料日→支払日"),
    pytest.param("会社を辞めたいときは何日前に申し出ればいいですか", {("就業規則", "第59条")},
                 id="辞めたい→退職"),
    pytest.param("出張の精算はいつまでに", {("出張旅費規程", "第7条")}, id="精算≡清算"),
    pytest.param("セミナーの懇親会費は出ますか", {("出張旅費規程", "第15条")}, id="懇親会"),
])
def test_colloquial_question_finds_the_article(rt, tenant, handbook, query, expected) -> None:
    """GIVEN a company's published rules and the shipped synonyms
    WHEN an employee asks in their own words (新幹線, 本, 残業代, 辞めたい …)
    THEN the article that answers it ranks first."""
    assert ranked(rt, tenant, query)[0] in expected


@pytest.mark.parametrize("query", ["忘年会の費用は会社が出してくれますか", "飲み会代は出ますか",
                                   "新年会の会費", "送別会の費用"])
def test_false_friend_does_not_reach_the_seminar_reception(rt, tenant, handbook,
                                                           query) -> None:
    """GIVEN the travel rule's clause on a seminar's 懇親会 (paid as training cost)
    WHEN an employee asks about an office party (忘年会, 飲み会 …)
    THEN that clause is not what search offers: an office party is not a seminar's
    reception, and the rules say nothing about it."""
    assert ("出張旅費規程", "第15条") not in ranked(rt, tenant, query, k=3)


@pytest.mark.parametrize(("variant", "canonical_token"), [
    ("忘年会", "懇親"), ("飲み会", "懇親"), ("単身者", "赴任"), ("基礎控除", "賃金"),
    ("親会社", "父母"), ("本規程", "書籍"),
])
def test_false_friends_are_not_in_the_shipped_synonyms(variant, canonical_token) -> None:
    analyzer = Analyzer(knowledge.default_pairs())
    assert canonical_token not in analyzer.query_tokens(variant)
    assert canonical_token not in analyzer.index_tokens(variant)


def test_fused_ranking_is_deterministic(rt, tenant, handbook) -> None:
    """GIVEN the same passages WHEN the index is built again and the question asked again
    THEN the hits, their order and their scores are identical (the ranking is computed in
    Python from the stored passages, so it is the same on SQLite and PostgreSQL)."""
    query = "出張で有料特急を使うときの交通費と宿泊費の上限"
    first = knowledge.search(rt, command_line(tenant.id), query, k=10)
    kb_index._indexes.clear()
    again = knowledge.search(rt, command_line(tenant.id), query, k=10)
    assert [(h.passage_id, h.score) for h in first] == [(h.passage_id, h.score) for h in again]
    assert [h.score for h in first] == sorted((h.score for h in first), reverse=True)
    assert {("出張旅費規程", "第11条"), ("出張旅費規程", "第14条")} <= set(ranked(rt, tenant,
                                                                           query, k=4))


def test_equal_scores_are_ordered_by_passage_id(rt, tenant) -> None:
    """Two documents with the same text score the same: the older passage comes first, on
    every database."""
    text = "### 第1条　社用車\n\n1. 社用車の私的利用は禁止する。\n".encode()
    for name in ("車両管理規程B.md", "車両管理規程A.md"):
        knowledge.add_document(rt, command_line(tenant.id), DocumentIn(name, text))
    hits = knowledge.search(rt, command_line(tenant.id), "社用車を私的に使ってよいか", k=2)
    assert [h.document for h in hits] == ["車両管理規程B", "車両管理規程A"]
    assert hits[0].score == hits[1].score and hits[0].passage_id < hits[1].passage_id


def test_tenant_synonyms_still_apply(rt, tenant, handbook) -> None:
    """GIVEN a word only this company uses (ツクロア文庫 for its book subsidy)
    WHEN the administrator adds it as a synonym THEN a question using it finds the article,
    which it did not before."""
    query = "ツクロア文庫の申請期限"
    assert ("福利厚生規程", "第4条") not in ranked(rt, tenant, query, k=1)
    knowledge.edit_synonyms(rt, command_line(tenant.id), "書籍購入補助", ["ツクロア文庫"])
    assert ranked(rt, tenant, query)[0] == ("福利厚生規程", "第4条")


def _checker():
    import importlib.util

    path = Path(knowledge.__file__).parent / "data" / "check_synonyms.py"
    spec = importlib.util.spec_from_file_location("check_synonyms", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, path.with_name("synonyms.tsv")


def test_shipped_synonym_list_passes_its_check(capsys) -> None:
    module, path = _checker()
    assert module.check(path) == 0, capsys.readouterr().out


@pytest.mark.parametrize(("canonical", "variant"), [("懇親会", "忘年会"), ("書籍", "本")])
def test_synonym_check_refuses_a_false_friend(tmp_path, capsys, canonical, variant) -> None:
    module, path = _checker()
    lines = path.read_text("utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.split("\t")[0] == canonical)
    fields = lines[at].split("\t")
    fields[1] += f"|{variant}"
    lines[at] = "\t".join(fields)
    damaged = tmp_path / "synonyms.tsv"
    damaged.write_text("\n".join(lines) + "\n", "utf-8")
    assert module.check(damaged) == 1
    assert f"false friend listed: {variant!r} under {canonical!r}" in capsys.readouterr().out
