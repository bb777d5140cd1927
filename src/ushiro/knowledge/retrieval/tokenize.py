"""Japanese analysis for search: SudachiPy (mode A, normalised forms) plus synonyms.

The same :class:`Analyzer` turns passages (at ingest) and questions (at search) into
tokens, so both sides agree: text is NFKC-normalised and case-folded, cut by Sudachi in
its shortest mode (A), each word replaced by its normalised form (ﾀｸｼｰ→タクシー, 十二→12),
and particles, auxiliary verbs, symbols and whitespace dropped.

Synonyms rewrite a variant to its canonical term before it becomes tokens, longest match
first, at word boundaries (so 有給 reads as 年次有給休暇, but the 年休 inside 半年休む is
left alone). A term matches the words as written or their normalised forms, so an inflected
or differently spelt word counts too: 辞める matches 辞めたい (辞め → 辞める), もらえる
matches もらえますか and 貰えますか. A variant that belongs to several canonical terms (交通費 → 通勤手当, 旅費)
is ambiguous: passages keep it as written, and a question is expanded to all of them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from ushiro.core.text import fold

# Sudachi refuses one input over 49,149 bytes; stay well below, cut at lines and sentences.
MAX_INPUT_BYTES = 16_000
DROP_POS = frozenset({"助詞", "助動詞", "補助記号", "記号", "空白"})

_lock = threading.Lock()
_dictionary: Any = None
_local = threading.local()
_keep_by_pos: dict[int, bool] = {}


def _tokenizer() -> Any:
    """One Sudachi tokenizer per thread (they must not be shared), one dictionary per process."""
    tokenizer = getattr(_local, "tokenizer", None)
    if tokenizer is None:
        global _dictionary
        from sudachipy import Dictionary, SplitMode

        with _lock:
            if _dictionary is None:
                _dictionary = Dictionary(dict="core")
        tokenizer = _dictionary.tokenizer(mode=SplitMode.A)
        _local.tokenizer = tokenizer
    return tokenizer


def _keeps(pos_id: int) -> bool:
    keep = _keep_by_pos.get(pos_id)
    if keep is None:
        keep = _dictionary.pos_of(pos_id)[0] not in DROP_POS
        _keep_by_pos[pos_id] = keep
    return keep


def pieces(text: str, limit: int = MAX_INPUT_BYTES) -> Iterator[str]:
    """``text`` in pieces Sudachi accepts: whole lines, else sentences, else hard cuts."""
    if len(text.encode()) <= limit:
        yield text
        return
    buffer: list[str] = []
    size = 0
    for part in _parts(text, limit):
        length = len(part.encode())
        if buffer and size + length > limit:
            yield "".join(buffer)
            buffer, size = [], 0
        buffer.append(part)
        size += length
    if buffer:
        yield "".join(buffer)


def _parts(text: str, limit: int) -> Iterator[str]:
    for line in text.splitlines(keepends=True):
        if len(line.encode()) <= limit:
            yield line
            continue
        for sentence in re.split(r"(?<=。)", line):
            if len(sentence.encode()) <= limit:
                yield sentence
                continue
            step = limit // 4  # a run without any break: cut by characters (≤ 4 bytes each)
            for start in range(0, len(sentence), step):
                yield sentence[start:start + step]


def morphemes(text: str) -> list[tuple[str, str | None]]:
    """(surface, token) per word of the folded text; token None for dropped parts of speech."""
    return [(surface, token) for surface, token, _ in words(text)]


def words(text: str) -> list[tuple[str, str | None, str]]:
    """(surface, token, normalised form) per word of the folded text: token None for dropped
    parts of speech, the normalised form kept for every word (synonyms match on it too)."""
    tokenizer = _tokenizer()
    out: list[tuple[str, str | None, str]] = []
    for piece in pieces(fold(text)):
        for m in tokenizer.tokenize(piece):
            norm = m.normalized_form().casefold().replace(" ", "")
            out.append((m.surface(), (norm or None) if _keeps(m.part_of_speech_id()) else None,
                        norm or m.surface()))
    return out


@lru_cache(maxsize=100_000)
def _normalised(term: str) -> str:
    """A synonym term by the normalised forms of its words; cached for the process (the
    same few thousand terms come back with every tenant's analyser)."""
    return "".join(n for _, _, n in words(term))


def parts_of_speech(text: str) -> list[tuple[str, str]]:
    """(surface, major part of speech: 名詞, 副詞, 形状詞 …) per word of the folded text."""
    tokenizer = _tokenizer()
    return [(m.surface(), m.part_of_speech()[0])
            for piece in pieces(fold(text)) for m in tokenizer.tokenize(piece)]


_TTE = re.compile(r"([一-龥々ァ-ヶー]{2,})って")


def colloquial_topic(text: str) -> str:
    """The colloquial topic marker って after a noun written as は: the analyser's dictionary
    reads 「出張って」 as 出 + 張って (a verb inside the noun), losing 出張; a verb of the
    whole run (手伝って, 間違って) stays."""
    def topic(m: re.Match[str]) -> str:
        run = m.group(1)
        alone = parts_of_speech(run)
        if not alone or alone[-1][1] != "名詞":
            return m.group(0)
        start = 0
        for surface, _ in parts_of_speech(m.group(0)):
            if start + len(surface) >= len(run):
                # The word holding the run's last character starts inside the run: the
                # dictionary broke the noun to make a verb of its end.
                return f"{run}は" if 0 < start else m.group(0)
            start += len(surface)
        return m.group(0)

    return _TTE.sub(topic, text)


def ends_in_ichidan_verb(text: str) -> bool:
    """Whether ``text`` ends in a 一段 verb (出る → 出ます, 見る → 見ます), which the kana
    before る cannot tell when it is a kanji (切る → 切ります)."""
    found = [m for piece in pieces(fold(text)) for m in _tokenizer().tokenize(piece)]
    return bool(found) and found[-1].part_of_speech()[4].startswith(("上一段", "下一段"))


def plain_tokens(text: str) -> list[str]:
    """Tokens without synonyms."""
    return [token for _, token in morphemes(text) if token]


class Analyzer:
    """Text → tokens with one tenant's synonyms. Immutable once built; safe to share."""

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        terms: dict[str, set[str]] = {}
        for canonical, variant in pairs:
            c, v = fold(canonical).strip(), fold(variant).strip()
            if not c:
                continue
            terms.setdefault(c, set()).add(c)
            if v and v != c:
                terms.setdefault(v, set()).add(c)
        self.terms = {term: tuple(sorted(canonicals)) for term, canonicals in terms.items()}
        self.prefixes = {term[:i] for term in self.terms for i in range(1, len(term) + 1)}
        # The same terms by the normalised forms of their words (辞める, 貰える): a term
        # written as a text would be written; the first term wins when two normalise alike.
        self.normalised: dict[str, str] = {}
        for term in sorted(self.terms):
            self.normalised.setdefault(_normalised(term), term)
        self.normalised_prefixes = {n[:i] for n in self.normalised
                                    for i in range(1, len(n) + 1)}
        self._expansions: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def index_tokens(self, text: str) -> list[str]:
        return self._tokens(text, query=False)

    def query_tokens(self, text: str) -> list[str]:
        return self._tokens(text, query=True)

    def _canonical(self, term: str) -> tuple[str, ...]:
        tokens = self._expansions.get(term)
        if tokens is None:
            tokens = tuple(plain_tokens(term))
            with self._lock:
                self._expansions[term] = tokens
        return tokens

    def _match(self, found: list[tuple[str, str | None, str]], start: int
               ) -> tuple[int, str] | None:
        """The longest synonym term made of whole words from ``start``, as written or by the
        words' normalised forms: (end, term)."""
        best = None
        surface, normalised = "", ""
        in_surface, in_normalised = True, True
        for end in range(start, len(found)):
            surface += found[end][0]
            normalised += found[end][2]
            in_surface = in_surface and surface in self.prefixes
            in_normalised = in_normalised and normalised in self.normalised_prefixes
            if not (in_surface or in_normalised):
                break
            if in_surface and surface in self.terms:
                best = (end + 1, surface)
            elif in_normalised and normalised in self.normalised:
                best = (end + 1, self.normalised[normalised])
        return best

    def _tokens(self, text: str, *, query: bool) -> list[str]:
        found = words(colloquial_topic(text) if query else text)
        out: list[str] = []
        i = 0
        while i < len(found):
            maybe = found[i][0] in self.prefixes or found[i][2] in self.normalised_prefixes
            hit = self._match(found, i) if maybe else None
            if hit is None:
                token = found[i][1]
                if token:
                    out.append(token)
                i += 1
                continue
            end, term = hit
            own = [token for _, token, _ in found[i:end] if token]
            canonicals = self.terms[term]
            if len(canonicals) == 1:
                out.extend(self._canonical(canonicals[0]))
            elif not query:
                out.extend(own)
            else:
                group: list[str] = [] if term in canonicals else list(own)
                for canonical in canonicals:
                    group.extend(t for t in self._canonical(canonical) if t not in group)
                out.extend(group)
            i = end
        return out


def index_text(section: str, text: str) -> str:
    """What a passage is indexed by. The label carries the article's caption (年次有給休暇),
    often on its own line before the article or absent from later chunks: index it with
    every chunk."""
    return f"{section}\n{text}"
