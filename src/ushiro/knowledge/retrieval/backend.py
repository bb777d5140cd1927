"""Search backends and the per-process cache of built indexes.

The contract every backend keeps (:class:`SearchBackend`):

* **Built** once from the searchable passages of **one tenant**: ``(passage_id,
  document_id, tokens)``, tokens already analysed by the tenant's
  :class:`~ushiro.knowledge.retrieval.tokenize.Analyzer`. A backend never sees two tenants, and never
  touches the database: tenant isolation is the caller's filter (one backend per tenant).
* **Input** of a search: the query's tokens (same analyser), ``k`` ≥ 1, and ``documents``,
  the ids of the documents the caller may search (``None``: all of the index). The filter is
  applied *before* the top-k cut, so a document the caller may not read never takes a place.
* **Output**: at most ``k`` :class:`Hit` (passage id, score), only scores > 0, best first;
  equal scores are ordered by passage id, ascending, so the ranking is the same in every
  process and on every database.
* Immutable after it is built (what it caches on the side never changes a result):
  concurrent searches from several threads are safe.

:class:`BM25Backend` is the built-in one over words (bm25s, Lucene BM25 over pre-tokenised
text, in memory); :class:`~ushiro.knowledge.retrieval.ngrams.NgramBackend` keeps the same
contract over character trigrams, and :mod:`~ushiro.knowledge.retrieval.fusion` fuses the
two. An index is rebuilt whenever the tenant's knowledge generation changes. The optional
:class:`~ushiro.knowledge.retrieval.dense.DenseBackend` keeps the same contract with the
query's vector as input, and is fused with the lexical ranking when a model is configured.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    import numpy as np


MASKS_KEPT = 64  # document filters remembered per index (20,000 passages: 20 KB each)


@dataclass(frozen=True)
class IndexedPassage:
    passage_id: int
    document_id: int
    tokens: Sequence[str]


@dataclass(frozen=True)
class Hit:
    passage_id: int
    score: float


class SearchBackend(Protocol):
    """See the module docstring for the contract."""

    def search(self, query: Sequence[str], *, k: int,
               documents: frozenset[int] | None = None) -> list[Hit]: ...


class DocumentMasks:
    """Which passages of an index belong to a set of documents, remembered per set: the same
    few permission sets come back with every search (one per role and department mix), and
    ``np.isin`` over every passage costs more than the scoring. Masks are read-only and
    shared between threads."""

    def __init__(self, document_ids: np.ndarray[Any, Any]) -> None:
        self._document_ids = document_ids
        self._masks: OrderedDict[frozenset[int], np.ndarray[Any, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, documents: frozenset[int]) -> np.ndarray[Any, Any]:
        import numpy as np

        with self._lock:
            mask = self._masks.get(documents)
            if mask is not None:
                self._masks.move_to_end(documents)
                return mask
        mask = np.isin(self._document_ids, np.fromiter(documents, dtype=np.int64))
        mask.flags.writeable = False
        with self._lock:
            self._masks[documents] = mask
            while len(self._masks) > MASKS_KEPT:
                self._masks.popitem(last=False)
        return mask


def top_k(scores: np.ndarray[Any, Any], passage_ids: np.ndarray[Any, Any], k: int,
          allowed: np.ndarray[Any, Any] | None) -> list[Hit]:
    """The contract's cut, for every backend: scores > 0 of allowed passages only, filtered
    before the cut, best first, ties by passage id."""
    import numpy as np

    matching = scores > 0
    if allowed is not None:
        matching &= allowed
    candidates = np.flatnonzero(matching)
    if len(candidates) > k:
        # Keep everything tied with the k-th score so the id tie-break below is exact.
        kth = np.partition(scores[candidates], len(candidates) - k)[len(candidates) - k]
        candidates = candidates[scores[candidates] >= kth]
    order = np.lexsort((passage_ids[candidates], -scores[candidates]))
    return [Hit(int(passage_ids[i]), float(scores[i])) for i in candidates[order][:k]]


class BM25Backend:
    """Lucene-variant BM25 (k1=1.2, b=0.75) from bm25s, scored with numpy."""

    def __init__(self, passages: Sequence[IndexedPassage], *, k1: float = 1.2,
                 b: float = 0.75) -> None:
        import bm25s  # numpy and bm25s load on first search, not with every command
        import numpy as np

        self.passage_ids = np.array([p.passage_id for p in passages], dtype=np.int64)
        self.document_ids = np.array([p.document_id for p in passages], dtype=np.int64)
        self.size = len(passages)
        self._bm25: Any = None
        self._vocab: dict[str, int] = {}
        self._masks = DocumentMasks(self.document_ids)
        if passages:
            self._bm25 = bm25s.BM25(k1=k1, b=b, method="lucene")
            self._bm25.index([list(p.tokens) for p in passages], show_progress=False)
            self._vocab = self._bm25.vocab_dict

    def search(self, query: Sequence[str], *, k: int,
               documents: frozenset[int] | None = None) -> list[Hit]:

        ids = [self._vocab[token] for token in query if token in self._vocab]
        if not ids or k < 1:
            return []
        scores: np.ndarray[Any, Any] = self._bm25.get_scores_from_ids(ids)
        return top_k(scores, self.passage_ids, k,
                     None if documents is None else self._masks.of(documents))


T = TypeVar("T")


class IndexCache(Generic[T]):
    """Built indexes per key (database, tenant), valid while the tenant's stamp is unchanged.

    Building happens outside the cache lock, under a per-key lock, so one tenant's rebuild
    never blocks another tenant's searches and two threads never build the same index.
    """

    def __init__(self, capacity: int = 32) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[tuple[str, int], tuple[str, T]] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[tuple[str, int], threading.Lock] = {}

    def get(self, key: tuple[str, int], stamp: str, build: Callable[[], T]) -> T:
        found = self._fresh(key, stamp)
        if found is not None:
            return found
        with self._lock:
            key_lock = self._building.setdefault(key, threading.Lock())
        with key_lock:
            found = self._fresh(key, stamp)
            if found is not None:
                return found
            value = build()
            with self._lock:
                self._entries[key] = (stamp, value)
                self._entries.move_to_end(key)
                while len(self._entries) > self.capacity:
                    self._entries.popitem(last=False)
            return value

    def _fresh(self, key: tuple[str, int], stamp: str) -> T | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != stamp:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
