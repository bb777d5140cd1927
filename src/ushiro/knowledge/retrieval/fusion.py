"""The lexical ranking: word BM25 (Sudachi + synonyms) fused with character trigram BM25.

Each backend gives its best ``max(k, DEPTH)`` passages among the documents the caller may
search; the two scores are put on one scale by dividing each by its ranking's best score,
and added with the trigram side weighted by ``w``:

    score(p) = best_word · (word(p) / best_word + w · char(p) / best_char)

    w = min(1, max(0.5, characters of the question / 100))

The weight grows with the question: a short question is colloquial, a few words that the
word analysis (synonyms, normalised forms) understands and trigrams barely cover (有給, 日当
have none); a long question restates the rule's own formal phrases (国税庁 照会要旨 run to
150–300 characters), where matching 3-character windows is the better evidence.

Multiplying back by the best word score keeps the result on the word BM25 scale that the
drafters' thresholds were set on (a passage the word ranking puts first scores at least
what it scored alone). Scores, not ranks, are fused (unlike the dense fusion in
:mod:`.dense`): both sides are BM25 over the same passages, and how far the first passage
is ahead of the second is information that rank fusion throws away. Measured on the sets of
``bench/retrieval.py``, score fusion beat reciprocal rank fusion of the same two rankings
on the real sets, and a fixed weight (0.3–1.0) was behind the length-dependent one on the
long formal questions or on the colloquial ones (``bench/README.md``).

The word ranking decides whether there is a match at all: a question sharing no word with
any passage gets no hits, as before, whatever trigrams it shares. Equal fused scores are
ordered by passage id; everything is computed in Python from the in-memory index, so the
ranking is the same in every process and on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ushiro.knowledge.retrieval.backend import Hit, SearchBackend
from ushiro.knowledge.retrieval.ngrams import NgramBackend, trigrams

MIN_CHAR_WEIGHT, MAX_CHAR_WEIGHT, FULL_WEIGHT_CHARS = 0.5, 1.0, 100
DEPTH = 100  # places taken from each ranking before fusing (at least k)


def char_weight(question: str) -> float:
    """How much the trigram ranking counts for this question (module docstring)."""
    return min(MAX_CHAR_WEIGHT, max(MIN_CHAR_WEIGHT, len(question) / FULL_WEIGHT_CHARS))


def fuse(words: Sequence[Hit], chars: Sequence[Hit], *, k: int, weight: float) -> list[Hit]:
    """The best ``k`` of the two rankings by normalised score sum (module docstring)."""
    if not words:
        return []
    best_word = words[0].score
    scale = best_word * weight / chars[0].score if chars else 0.0
    fused = {hit.passage_id: hit.score for hit in words}
    for hit in chars:  # always after the words: the float sums are reproducible
        fused[hit.passage_id] = fused.get(hit.passage_id, 0.0) + hit.score * scale
    best = sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
    return [Hit(pid, score) for pid, score in best]


@dataclass(frozen=True)
class LexicalSearch:
    """Word and trigram BM25 of one tenant's passages, fused. Immutable once built."""

    words: SearchBackend
    chars: NgramBackend

    def search(self, tokens: Sequence[str], text: str, *, k: int,
               documents: frozenset[int] | None = None) -> list[Hit]:
        """The best ``k`` passages for the question ``text`` (``tokens``: its words)."""
        if k < 1:
            return []
        depth = max(k, DEPTH)
        words = self.words.search(tokens, k=depth, documents=documents)
        if not words:
            return []
        chars = self.chars.search(trigrams(text), k=depth, documents=documents)
        return fuse(words, chars, k=k, weight=char_weight(text))
