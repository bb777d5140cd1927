"""The character trigram backend against a plain-Python BM25 over the same trigrams, and the
fusion of the word and trigram rankings."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from ushiro.core.text import fold
from ushiro.knowledge.retrieval.backend import Hit
from ushiro.knowledge.retrieval.fusion import char_weight, fuse, with_field
from ushiro.knowledge.retrieval.ngrams import NgramBackend, NgramPassage, trigrams

TEXTS = [
    (10, 1, "第1条（目的）\nこの規程は、出張旅費の支給について定める。"),
    (11, 1, "第2条（日当）\n出張１日につき日当を支給する。日帰り出張は半額とする。"),
    (12, 2, "第3条（宿泊費）\n宿泊費は実費とし、上限は１泊12,000円とする。"),
    (13, 2, "第4条（交通費）\n有料特急は片道100km以上の場合に利用できる。"),
    (14, 3, "Q1. 出張の日当はいくらですか？\nA. 出張1日につき2,000円です。"),
]


def reference(query: str, k1: float = 1.2, b: float = 0.75) -> dict[int, float]:
    """Lucene BM25 over the trigrams of each text, the slow obvious way; each distinct
    trigram of the query counts once."""
    docs = {pid: Counter(trigrams(text)) for pid, _, text in TEXTS}
    lengths = {pid: sum(c.values()) for pid, c in docs.items()}
    average = sum(lengths.values()) / len(docs)
    out: dict[int, float] = {}
    for gram in set(trigrams(query)):
        df = sum(1 for c in docs.values() if gram in c)
        if not df:
            continue
        idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
        for pid, counts in docs.items():
            tf = counts.get(gram, 0)
            if tf:
                norm = k1 * (1 - b + b * lengths[pid] / average)
                out[pid] = out.get(pid, 0.0) + idf * tf / (tf + norm)
    return out


@pytest.fixture(scope="module")
def backend() -> NgramBackend:
    return NgramBackend([NgramPassage(*row) for row in TEXTS])


def test_trigrams_stay_inside_runs_and_are_folded() -> None:
    assert trigrams("ＡＢＣ、出張費") == ["abc", "出張費"]
    assert trigrams("日当") == []  # two characters: no trigram
    assert trigrams("有給　休暇") == []  # a space breaks the run


@pytest.mark.parametrize("query", ["出張の日当はいくら", "宿泊費の上限", "有料特急は何km以上",
                                   "出張旅費の支給 出張旅費"])
def test_scores_are_bm25_over_trigrams(backend, query) -> None:
    expected = reference(query)
    hits = backend.search(trigrams(query), k=10)
    assert {h.passage_id: pytest.approx(h.score, rel=1e-5) for h in hits} == expected
    assert [h.passage_id for h in hits] == sorted(expected, key=lambda p: (-expected[p], p))


def test_a_term_repeated_in_the_question_counts_once(backend) -> None:
    """GIVEN a long question that names the same term several times
    WHEN the trigram ranking scores it
    THEN the repeats add nothing: the scores are those of the question naming it once."""
    once = backend.search(trigrams("宿泊費の上限と出張旅費"), k=10)
    thrice = backend.search(trigrams("宿泊費の上限と出張旅費、出張旅費、出張旅費"), k=10)
    assert thrice == once


def test_contract_filter_before_cut_and_nothing_unmatched(backend) -> None:
    assert backend.search(trigrams("出張の日当"), k=1, documents=frozenset({3}))[0].passage_id == 14
    assert backend.search(trigrams("出張の日当"), k=5, documents=frozenset({2})) == []
    assert backend.search(trigrams("まったく無関係な質問"), k=5) == []
    assert backend.search([], k=5) == []
    assert NgramBackend([]).search(trigrams("出張の日当"), k=5) == []
    assert fold("ＡＢＣ") == "abc"


def test_fusion_normalises_each_side_and_keeps_the_word_scale() -> None:
    words = [Hit(1, 8.0), Hit(2, 4.0)]
    chars = [Hit(2, 30.0), Hit(3, 15.0)]
    fused = fuse(words, chars, k=3, weight=0.5)
    # 1: 8; 2: 4 + 8 * 0.5 * 30/30 = 8; 3: 8 * 0.5 * 15/30 = 2 — the tie goes to the lower id
    assert [(h.passage_id, h.score) for h in fused] == [(1, 8.0), (2, 8.0), (3, 2.0)]
    assert fuse([], chars, k=3, weight=0.5) == []  # no word in common: no hit at all
    assert fuse(words, [], k=3, weight=0.5) == words


@pytest.mark.parametrize(("length", "weight"), [(10, 0.5), (50, 0.5), (75, 0.75), (100, 1.0),
                                                (300, 1.0)])
def test_trigram_weight_grows_with_the_question(length, weight) -> None:
    assert char_weight("あ" * length) == pytest.approx(weight)


def test_a_field_adds_its_weighted_score_to_the_trigram_ranking() -> None:
    chars = [Hit(1, 6.0), Hit(2, 5.0), Hit(3, 1.0)]
    questions = [Hit(2, 4.0), Hit(4, 1.0)]
    # 2: 5 + 0.5 * 4 = 7; 1: 6; 3: 1; 4: 0.5 (in the field only)
    assert with_field(chars, questions, k=4, weight=0.5) == [Hit(2, 7.0), Hit(1, 6.0),
                                                             Hit(3, 1.0), Hit(4, 0.5)]
    assert with_field(chars, [], k=2, weight=0.5) == chars[:2]
