"""Dense retrieval over passage vectors, and its fusion with the BM25 ranking.

:class:`DenseBackend` keeps the contract of :mod:`ushiro.knowledge.retrieval.backend` (one tenant,
the document filter before the top-k cut, only scores > 0, best first, ties by passage id),
with the query's vector (:meth:`~ushiro.knowledge.retrieval.embeddings.Embedder.embed_query`) as its
input instead of tokens. The score is the cosine similarity.

:class:`HybridSearch` asks both backends for their best ``max(k, CANDIDATES)`` passages
among the documents allowed and fuses the two rankings by **reciprocal rank fusion**:

    score(p) = Σ over the rankings that contain p of 1 / (RRF_K + rank of p),  rank from 1

with ``RRF_K = 60``, the constant of Cormack, Clarke and Büttcher (SIGIR 2009), which damps
the difference between the first places so that neither ranking dominates. Ranks, not
scores, are fused: BM25 scores and cosines are on unrelated scales. Equal fused scores are
ordered by passage id. Everything is computed in Python from vectors stored as float32, so
the fused ranking is the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ushiro.knowledge.retrieval.backend import ArrayState, DocumentMasks, Hit, top_k
from ushiro.knowledge.retrieval.embeddings import Embedder
from ushiro.knowledge.retrieval.fusion import LexicalSearch

if TYPE_CHECKING:
    import numpy as np

RRF_K = 60
CANDIDATES = 50  # places taken from each ranking before fusing (at least k)


@dataclass(frozen=True)
class FusedHit(Hit):
    """A fused hit: ``score`` is the RRF score; ``lexical`` the BM25 score (0.0 when only
    the dense ranking found it), ``dense`` the cosine (0.0 when only BM25 found it)."""

    lexical: float = 0.0
    dense: float = 0.0


def encode_vector(vector: np.ndarray[Any, Any]) -> str:
    """A vector as stored: base64 of little-endian float32 (exact, and plain text in the
    JSON Lines of a backup)."""
    import numpy as np

    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def decode_vectors(encoded: Sequence[str], dimension: int) -> np.ndarray[Any, Any]:
    """Stored vectors as one (len(encoded), dimension) float32 matrix."""
    import numpy as np

    matrix = np.frombuffer(b"".join(base64.b64decode(v) for v in encoded), dtype="<f4")
    return matrix.reshape(len(encoded), dimension).astype(np.float32)


class DenseBackend(ArrayState):
    """Cosine similarity against every passage of the tenant (exact, in memory: 20,000
    passages × 256 dimensions is 20 MB and one matrix-vector product per query)."""

    def __init__(self, passage_ids: Sequence[int], document_ids: Sequence[int],
                 vectors: np.ndarray[Any, Any]) -> None:
        import numpy as np

        self.passage_ids = np.array(passage_ids, dtype=np.int64)
        self.document_ids = np.array(document_ids, dtype=np.int64)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.vectors.flags.writeable = False
        self.size = len(self.passage_ids)
        self._masks = DocumentMasks(self.document_ids)

    def search(self, query: np.ndarray[Any, Any], *, k: int,
               documents: frozenset[int] | None = None) -> list[Hit]:
        import numpy as np

        if k < 1 or self.size == 0:
            return []
        scores = self.vectors @ np.asarray(query, dtype=np.float32)
        return top_k(scores, self.passage_ids, k,
                     None if documents is None else self._masks.of(documents))


def fuse(lexical: Sequence[Hit], dense: Sequence[Hit], *, k: int,
         rrf_k: int = RRF_K) -> list[FusedHit]:
    """Reciprocal rank fusion of two rankings (see the module docstring), the best ``k``."""
    fused: dict[int, float] = {}
    for ranking in (lexical, dense):  # always in this order: the float sums are reproducible
        for rank, hit in enumerate(ranking, start=1):
            fused[hit.passage_id] = fused.get(hit.passage_id, 0.0) + 1.0 / (rrf_k + rank)
    lexical_scores = {hit.passage_id: hit.score for hit in lexical}
    dense_scores = {hit.passage_id: hit.score for hit in dense}
    best = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
    return [FusedHit(pid, score, lexical_scores.get(pid, 0.0), dense_scores.get(pid, 0.0))
            for pid, score in best]


@dataclass(frozen=True)
class HybridSearch:
    """Lexical (word + trigram BM25, :mod:`.fusion`) and dense rankings of one tenant's
    passages, fused. Immutable once built."""

    lexical: LexicalSearch
    dense: DenseBackend
    embedder: Embedder

    def search(self, tokens: Sequence[str], text: str, *, k: int,
               documents: frozenset[int] | None = None) -> list[FusedHit]:
        """The best ``k`` passages for the question ``text`` (``tokens``: its analysis)."""
        if k < 1:
            return []
        depth = max(k, CANDIDATES)
        lexical = self.lexical.search(tokens, text, k=depth, documents=documents)
        dense = self.dense.search(self.embedder.embed_query(text), k=depth,
                                  documents=documents)
        return fuse(lexical, dense, k=k)
