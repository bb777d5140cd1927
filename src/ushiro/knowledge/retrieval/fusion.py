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

The question of a Q&A item is a field of its own on the trigram side (``questions``): a
passage's trigram score is ``char(p) + QUESTION_WEIGHT · question(p)``, the second term BM25
over the trigrams of the item's question alone (the label after ``Q12``/``問3``,
:func:`question_of`). The item's question is worded as the asker words theirs, while its
answer mentions much that the question is not about (「…交際費には該当しません」 mentions
交際費): the same trigrams count more where they are what the item is about, as an
article's caption is indexed with every chunk. Only Q&A items have the field; articles keep
their caption in the label as before (weighting captions too lost R@5 on the statute and
rule sets). It is on the trigram side because that field is built from the label's text
with numpy; the same weight on the word side measured a little better on nta-inshi but
needs Sudachi for every label at each build (about 80 µs a label, 1.4 s at 18,000 Q&A
items).

The word ranking decides whether there is a match at all: a question sharing no word with
any passage gets no hits, as before, whatever trigrams it shares. Equal fused scores are
ordered by passage id; everything is computed in Python from the in-memory index, so the
ranking is the same in every process and on SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ushiro.knowledge.retrieval.backend import Hit, SearchBackend
from ushiro.knowledge.retrieval.ngrams import NgramBackend, trigrams

MIN_CHAR_WEIGHT, MAX_CHAR_WEIGHT, FULL_WEIGHT_CHARS = 0.5, 1.0, 100
DEPTH = 100  # places taken from each ranking before fusing (at least k)
QUESTION_WEIGHT = 0.5  # of a Q&A item's question on the trigram side (module docstring)
# The label a Q&A item gets at ingest: 'Q12 有給は何日ですか', '問3 …', 'Q …' (unnumbered).
_QUESTION_LABEL = re.compile(r"^(?:Q|問)[0-9]*\s+(\S.*)$", re.DOTALL)


def question_of(section: str) -> str:
    """The question of a Q&A item's label ('Q12 有給は何日?' → '有給は何日?'); '' for any
    other label (第12条(日当), a heading)."""
    match = _QUESTION_LABEL.match(section.strip())
    return match.group(1) if match else ""


def char_weight(question: str) -> float:
    """How much the trigram ranking counts for this question (module docstring)."""
    return min(MAX_CHAR_WEIGHT, max(MIN_CHAR_WEIGHT, len(question) / FULL_WEIGHT_CHARS))


def with_field(chars: Sequence[Hit], field: Sequence[Hit], *, k: int,
               weight: float) -> list[Hit]:
    """The best ``k`` by ``chars score + weight · field score``, ties by passage id."""
    summed = {hit.passage_id: hit.score for hit in chars}
    for hit in field:
        summed[hit.passage_id] = summed.get(hit.passage_id, 0.0) + weight * hit.score
    best = sorted(summed.items(), key=lambda item: (-item[1], item[0]))[:k]
    return [Hit(pid, score) for pid, score in best]


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
    questions: NgramBackend | None = None  # the Q&A items' questions, if the index has any

    def search(self, tokens: Sequence[str], text: str, *, k: int,
               documents: frozenset[int] | None = None) -> list[Hit]:
        """The best ``k`` passages for the question ``text`` (``tokens``: its words)."""
        if k < 1:
            return []
        depth = max(k, DEPTH)
        words = self.words.search(tokens, k=depth, documents=documents)
        if not words:
            return []
        grams = trigrams(text)
        chars = self.chars.search(grams, k=depth, documents=documents)
        if self.questions is not None:
            chars = with_field(chars, self.questions.search(grams, k=depth,
                                                            documents=documents),
                               k=depth, weight=QUESTION_WEIGHT)
        return fuse(words, chars, k=k, weight=char_weight(text))
