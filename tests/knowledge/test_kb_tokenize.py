"""Sudachi analysis and synonyms: what passages and questions turn into."""

from __future__ import annotations

import pytest

from ushiro.knowledge.retrieval.synonyms import FALLBACK, default_pairs, parse
from ushiro.knowledge.retrieval.tokenize import MAX_INPUT_BYTES, Analyzer, pieces, plain_tokens

SYNONYMS = [("年次有給休暇", "有給"), ("年次有給休暇", "有休"), ("年次有給休暇", "有給休暇"),
            ("年次有給休暇", "年休"), ("時間外労働", "残業"), ("賞与", "ボーナス"),
            ("通勤手当", "交通費"), ("旅費", "交通費"), ("退職", "辞める"),
            ("支給", "もらえる"), ("会社負担", "会社が払う")]


@pytest.mark.parametrize(("text", "tokens"), [
    ("年次有給休暇を取得する", ["年次", "有給", "休暇", "取得", "為る"]),
    ("ﾀｸｼｰ代を精算した", ["タクシー", "代", "精算", "為る"]),
    ("第十二条（賞与）", ["第", "12", "条", "賞与"]),
    ("第１２条　ＰＤＦで提出！", ["第", "12", "条", "pdf", "提出"]),
])
def test_plain_tokens_are_normalised_without_particles_or_symbols(text: str,
                                                                  tokens: list[str]) -> None:
    assert plain_tokens(text) == tokens


@pytest.mark.parametrize(("text", "index", "query"), [
    pytest.param("有給は何日", ["年次", "有給", "休暇", "何", "日"], None, id="variant-to-canonical"),
    pytest.param("有給休暇の日数", ["年次", "有給", "休暇", "日数"], None, id="longest-match"),
    pytest.param("年次有給休暇を与える", ["年次", "有給", "休暇", "与える"], None,
                 id="canonical-is-not-rewritten-inside"),
    pytest.param("半年休む", ["半年", "休む"], None, id="only-at-word-boundaries"),
    pytest.param("残業代", ["時間", "外", "労働", "代"], None, id="残業"),
    pytest.param("ボーナスの支給日", ["賞与", "支給", "日"], None, id="ボーナス"),
    pytest.param("交通費の精算", ["交通", "費", "精算"],
                 ["交通", "費", "旅費", "通勤", "手当", "精算"], id="ambiguous-expands-queries-only"),
    pytest.param("会社を辞めたい", ["会社", "退職"], None, id="inflected-form-matches"),
    pytest.param("手当は貰えますか", ["手当", "支給"], None, id="other-spelling-matches"),
    pytest.param("会社が払ってくれる", ["会社", "負担", "呉れる"], None, id="phrase-by-normal-forms"),
])
def test_synonyms(text: str, index: list[str], query: list[str] | None) -> None:
    """GIVEN the tenant's synonyms WHEN a passage or a question is analysed
    THEN variants read as their canonical term; an ambiguous one widens the question."""
    analyzer = Analyzer(SYNONYMS)
    assert analyzer.index_tokens(text) == index
    assert analyzer.query_tokens(text) == (query or index)


def test_input_longer_than_sudachi_accepts_is_split() -> None:
    text = ("就業規則の本文である。" * 3000 + "\n") * 3 + "あ" * 30000
    parts = list(pieces(text))
    assert len(parts) > 3 and all(len(p.encode()) <= MAX_INPUT_BYTES for p in parts)
    assert "".join(parts) == text
    assert plain_tokens(text).count("就業") == 9000


def test_synonym_file_parsing_is_forgiving() -> None:
    text = ("canonical\tvariants\tdomain\tnote\n"
            "年次有給休暇\t有給|有休| |有給\t人事\tメモ\n"
            "\n# コメント行\n"
            "賞与\n"
            "時間外労働\t残業\n"
            "\tだけ\n")
    assert parse(text) == [("年次有給休暇", "年次有給休暇"), ("年次有給休暇", "有給"),
                           ("年次有給休暇", "有休"), ("賞与", "賞与"),
                           ("時間外労働", "時間外労働"), ("時間外労働", "残業")]


def test_shipped_or_fallback_synonyms_cover_the_common_terms() -> None:
    pairs = set(default_pairs())
    assert pairs, "no synonyms at all"
    canonicals = {c for c, _ in pairs}
    assert {"年次有給休暇", "時間外労働", "賞与"} <= canonicals | {c for c, _ in parse(FALLBACK)}
