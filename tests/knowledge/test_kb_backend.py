"""The search-backend contract, checked on the built-in BM25 backend."""

from __future__ import annotations

import threading

from ushiro.knowledge.retrieval.backend import BM25Backend, IndexCache, IndexedPassage


def backend() -> BM25Backend:
    passages = [
        IndexedPassage(40, 1, ["賞与", "支給", "6", "月"]),
        IndexedPassage(10, 2, ["賞与", "支給", "6", "月"]),   # same text, other document
        IndexedPassage(30, 1, ["賞与", "賞与", "査定"]),
        IndexedPassage(20, 3, ["日当", "支給"]),
        IndexedPassage(50, 3, []),
    ]
    return BM25Backend(passages)


def test_equal_scores_are_ordered_by_passage_id() -> None:
    hits = backend().search(["支給", "6"], k=5)
    assert [h.passage_id for h in hits][:2] == [10, 40]
    assert hits[0].score == hits[1].score > hits[2].score > 0


def test_only_positive_scores_best_first_at_most_k() -> None:
    hits = backend().search(["賞与"], k=2)
    assert len(hits) == 2 and hits[0].passage_id == 30
    assert all(h.score > 0 for h in hits)
    assert backend().search(["存在しない"], k=5) == []
    assert backend().search([], k=5) == []


def test_document_filter_applies_before_the_top_k_cut() -> None:
    """Passage 30 (document 1) is the best match for 賞与; without document 1 the single
    best place goes to the next document, not to an empty list."""
    hits = backend().search(["賞与"], k=1, documents=frozenset({2, 3}))
    assert [h.passage_id for h in hits] == [10]
    assert backend().search(["賞与"], k=3, documents=frozenset()) == []


def test_tie_at_the_cut_is_decided_by_id() -> None:
    passages = [IndexedPassage(i, 1, ["規程"]) for i in (9, 3, 7, 5)]
    hits = BM25Backend(passages).search(["規程"], k=2)
    assert [h.passage_id for h in hits] == [3, 5]


def test_empty_index() -> None:
    assert BM25Backend([]).search(["賞与"], k=3) == []


def test_cache_builds_once_per_stamp() -> None:
    cache: IndexCache[int] = IndexCache(capacity=2)
    builds: list[int] = []

    def build(value: int) -> int:
        builds.append(value)
        return value

    threads = [threading.Thread(target=cache.get, args=(("db", 1), "a", lambda: build(1)))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builds == [1]
    assert cache.get(("db", 1), "b", lambda: build(2)) == 2
    cache.get(("db", 2), "a", lambda: build(3))
    cache.get(("db", 3), "a", lambda: build(4))  # capacity 2: evicts (db, 1)
    assert cache.get(("db", 1), "b", lambda: build(5)) == 5
    assert builds == [1, 2, 3, 4, 5]


def test_document_filters_do_not_leak_into_each_other() -> None:
    """Each permission set gets its own filter, also when they alternate (the backend keeps
    the filters it has seen)."""
    index = backend()

    def found(documents: frozenset[int] | None) -> set[int]:
        return {h.passage_id for h in index.search(["支給"], k=5, documents=documents)}

    for _ in range(2):
        assert found(frozenset({2, 3})) == {10, 20}
        assert found(frozenset({1})) == {40}
        assert found(None) == {10, 20, 40}
