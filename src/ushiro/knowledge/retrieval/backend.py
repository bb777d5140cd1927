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


class ArrayState:
    """A backend whose state is its attributes (numpy arrays and plain numbers), as a
    persisted index saves and loads them (persist.py): every attribute but the document
    filters, which start empty again. A field added to a backend is persisted with it."""

    document_ids: np.ndarray[Any, Any]
    _masks: DocumentMasks

    def __getstate__(self) -> dict[str, Any]:
        return {name: value for name, value in vars(self).items()
                if not isinstance(value, DocumentMasks)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)
        self._masks = DocumentMasks(self.document_ids)


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

    # What a persisted index holds (persist.py): the arrays, the bm25s index, the size; the
    # vocabulary is the bm25s index's and the document filters start empty.
    def __getstate__(self) -> dict[str, Any]:
        return {"passage_ids": self.passage_ids, "document_ids": self.document_ids,
                "size": self.size, "bm25": self._bm25}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.passage_ids, self.document_ids = state["passage_ids"], state["document_ids"]
        self.size, self._bm25 = state["size"], state["bm25"]
        self._vocab = {} if self._bm25 is None else self._bm25.vocab_dict
        self._masks = DocumentMasks(self.document_ids)

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

    Entries are evicted least recently used first: beyond ``capacity`` entries, or, for a
    cache made with ``size`` (an entry's bytes, measured once when it is stored), beyond the
    ``budget`` in bytes a caller passes to :meth:`get`. The entry just stored stays even when
    it alone exceeds the budget (the searches right after it use it), except with a budget
    of 0, which keeps nothing.
    """

    def __init__(self, capacity: int = 32, *, size: Callable[[T], int] | None = None) -> None:
        self.capacity = capacity
        self._size = size
        self._entries: OrderedDict[tuple[str, int], tuple[str, T, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[tuple[str, int], threading.Lock] = {}
        self.bytes = 0  # sum of the sizes of the entries kept

    def get(self, key: tuple[str, int], stamp: str, build: Callable[[], T], *,
            budget: int | None = None) -> T:
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
            self._store(key, stamp, value, budget)
            return value

    def _store(self, key: tuple[str, int], stamp: str, value: T, budget: int | None) -> None:
        by_bytes = self._size is not None and budget is not None
        size = self._size(value) if self._size is not None and by_bytes else 0
        with self._lock:
            self._forget(key)
            self._entries[key] = (stamp, value, size)
            self.bytes += size
            keep = 0 if by_bytes and budget == 0 else 1  # the newest, unless nothing is kept
            while len(self._entries) > keep and (
                    self.bytes > budget if by_bytes and budget is not None
                    else len(self._entries) > self.capacity):
                self._forget(next(iter(self._entries)))

    def _forget(self, key: tuple[str, int]) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.bytes -= entry[2]

    def _fresh(self, key: tuple[str, int], stamp: str) -> T | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != stamp:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.bytes = 0
