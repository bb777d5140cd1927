"""Character trigram BM25: the second lexical ranking, fused with the word ranking.

Words from Sudachi miss what a character index catches: compounds cut differently in the
question and the passage (受講料 / 講習会の出席費用), long formal questions that repeat the
passage's own phrases (給与等として課税), words outside the dictionary. SQLite FTS5 trigram
is strong on such text for exactly that reason. This backend indexes the NFKC + casefolded
(character by character, see :func:`_tables`) label and text of each passage as overlapping 3-character windows inside runs of letters,
digits, kana and kanji (punctuation and spaces break runs; a window never crosses them),
scored with Lucene BM25 (k1 = 1.2, b = 0.75) as the word backend is.

It keeps the contract of :mod:`ushiro.knowledge.retrieval.backend`; its query "tokens" are
the trigrams of the question (:func:`trigrams`), each distinct trigram counted once however
often the question repeats it. A term of n characters is already n − 2 trigrams, so
counting repeats as well would weigh a repeated long term twice over: the 照会要旨 of a tax
Q&A that names 住宅借入金等特別控除 three times would score that term's 8 trigrams three
times each and drown the rest of the question (the word ranking keeps repeats: a word is
one token). SQLite FTS5's OR query counts each term once too.

Trigrams are held as int64 codes (three 21-bit code points), not strings: a 20,000-passage
index has about 6 million (trigram, passage) postings, and a dict of a million short
strings would cost more than the postings.
Built with numpy in one pass, about a second at 20,000 passages; immutable after that.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from ushiro.core.text import fold
from ushiro.knowledge.retrieval.backend import ArrayState, DocumentMasks, Hit, top_k

if TYPE_CHECKING:
    import numpy as np

N = 3
_RUN = re.compile(r"[\w\u3005\u3040-\u30ff\u30fc\u4e00-\u9fff]")


@dataclass(frozen=True)
class NgramPassage:
    passage_id: int
    document_id: int
    text: str  # what is indexed: label and text, as for the word index


@cache
def _tables() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Per code point of the basic plane: its NFKC + casefold form when that is one
    character (全角 Ａ → a, ｶ → カ, 　 → space), and whether that form continues a run
    (letters, digits, kana, kanji). Folding through a table keeps an index build of
    20,000 passages from spending seconds in ``unicodedata.normalize``; what it cannot
    fold (a form of several characters: ㈱, ß) stays as it is, on both sides alike."""
    import numpy as np

    folded = np.arange(0x10000, dtype=np.int64)
    for cp in range(0x10000):
        if 0xD800 <= cp < 0xE000:
            continue  # surrogates: never characters of a text
        form = fold(chr(cp))
        if len(form) == 1:
            folded[cp] = ord(form)
    inside = np.array([bool(_RUN.match(chr(int(cp)))) for cp in folded], dtype=bool)
    return folded, inside


def _codes(text: str) -> np.ndarray[Any, Any]:
    """The int64 codes of the trigrams of ``text``, in text order."""
    return _windows(text)[0]


def _windows(text: str) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(codes, positions) of the trigrams of a text: every window of three run characters
    after folding, coded as three 21-bit code points."""
    import numpy as np

    points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"),
                           dtype=np.uint32).astype(np.int64)
    if len(points) < N:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    folded, run = _tables()
    inside = np.ones(len(points), dtype=bool)
    plane = points < 0x10000
    points[plane] = folded[points[plane]]
    inside[plane] = run[points[plane]]
    kana = (points >= 0x3041) & (points <= 0x309F)
    valid = inside[:-2] & inside[1:-1] & inside[2:] & ~(kana[:-2] & kana[1:-1] & kana[2:])
    codes = (points[:-2] << 42) | (points[1:-1] << 21) | points[2:]
    return codes[valid], np.flatnonzero(valid)


def trigrams(text: str) -> list[str]:
    """The question's query tokens for this backend: its trigrams in text order, repeats
    kept (the backend counts each distinct trigram once, module docstring)."""
    return [_decode(int(code)) for code in _codes(text)]


def _decode(code: int) -> str:
    mask = (1 << 21) - 1
    return chr(code >> 42) + chr((code >> 21) & mask) + chr(code & mask)


def _encode(gram: str) -> int:
    return (ord(gram[0]) << 42) | (ord(gram[1]) << 21) | ord(gram[2])


class NgramBackend(ArrayState):
    """BM25 over character trigrams; postings sorted by trigram code, each with the
    passage's row and its precomputed BM25 weight (Lucene: idf · tf / (tf + k1·norm))."""

    def __init__(self, passages: Sequence[NgramPassage], *, k1: float = 1.2,
                 b: float = 0.75) -> None:
        import numpy as np

        self.passage_ids = np.array([p.passage_id for p in passages], dtype=np.int64)
        self.size = len(passages)
        self.document_ids = np.array([p.document_id for p in passages], dtype=np.int64)
        self._masks = DocumentMasks(self.document_ids)
        grams, rows, tf, lengths = _postings([p.text for p in passages])
        self._vocab, starts, df = np.unique(grams, return_index=True, return_counts=True)
        self._starts = np.append(starts, len(grams)).astype(np.int64)
        self._rows = rows.astype(np.int32)
        idf = np.log1p((self.size - df + 0.5) / (df + 0.5))
        norm = k1 * (1 - b + b * lengths / max(float(lengths.mean()) if self.size else 1.0,
                                               1.0))
        per_posting_idf = np.repeat(idf, df)
        self._weights = (per_posting_idf * tf / (tf + norm[rows])).astype(np.float32)

    def search(self, query: Sequence[str], *, k: int,
               documents: frozenset[int] | None = None) -> list[Hit]:
        import numpy as np

        codes = np.array([_encode(g) for g in query if len(g) == N], dtype=np.int64)
        if not len(codes) or k < 1 or not len(self._vocab):
            return []
        unique = np.unique(codes)  # each distinct trigram once (module docstring)
        at = np.searchsorted(self._vocab, unique)
        at[at == len(self._vocab)] = 0
        at = at[self._vocab[at] == unique]
        if not len(at):
            return []
        starts, sizes = self._starts[at], self._starts[at + 1] - self._starts[at]
        # Every posting of the query's trigrams in one gather: position j of the run of a
        # trigram is its start + j.
        offsets = np.repeat(starts - np.cumsum(sizes) + sizes, sizes)
        take = offsets + np.arange(int(sizes.sum()))
        scores = np.bincount(self._rows[take], weights=self._weights[take],
                             minlength=self.size)
        return top_k(scores, self.passage_ids, k,
                     None if documents is None else self._masks.of(documents))


CHUNK = 2048  # texts analysed together: one numpy pass each, bounded memory


def _postings(texts: Sequence[str]) -> tuple[np.ndarray[Any, Any], ...]:
    """(trigram code, row, tf) per distinct trigram of each text, sorted by code then row,
    and the number of trigrams of each text (its BM25 length)."""
    import numpy as np

    grams, rows, tf, lengths = [], [], [], []
    for first in range(0, len(texts), CHUNK):
        chunk = list(texts[first:first + CHUNK])
        # "\n" is not a run character, so no window spans two texts.
        codes, positions = _windows("\n".join(chunk))
        starts = np.cumsum([0] + [len(text) + 1 for text in chunk[:-1]])
        row = np.searchsorted(starts, positions, side="right") - 1 + first
        lengths.append(np.bincount(row - first, minlength=len(chunk)))
        order = np.lexsort((row, codes))
        codes, row = codes[order], row[order]
        new = np.ones(len(codes), dtype=bool)
        new[1:] = (codes[1:] != codes[:-1]) | (row[1:] != row[:-1])
        at = np.flatnonzero(new)
        grams.append(codes[at])
        rows.append(row[at])
        tf.append(np.diff(np.append(at, len(codes))))
    if not grams:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty.astype(np.float64), np.zeros(0)
    all_grams = np.concatenate(grams)
    order = np.argsort(all_grams, kind="stable")  # chunks are in row order: rows stay sorted
    return (all_grams[order], np.concatenate(rows)[order],
            np.concatenate(tf)[order].astype(np.float64),
            np.concatenate(lengths).astype(np.float64))
