"""How much a person changed a draft, the diff of an edit, the sentences a draft quotes.

*Accepted without substantive edit* means: approved (and sent) with an edit ratio below
:data:`ACCEPTED_BELOW`, where the edit ratio is ``1 − SequenceMatcher(None, generated,
sent, autojunk=False).ratio()`` over the characters of the generated and the sent text
(0: unchanged, 1: nothing in common). ``autojunk`` is off because its heuristic treats
every character that makes up more than 1 % of a text over 200 characters as junk; in
Japanese that is の, は, 。 …, and a one-character edit of a long answer would then count as
a rewrite of 70 %.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass

ACCEPTED_BELOW = 0.10
# A cited sentence counts as quoted when the answer contains a run of at least this share
# of it (article numbers and list markers are dropped when quoting, so not all of it).
QUOTED_SHARE = 0.6
MIN_SENTENCE = 10  # shorter lines are captions and headings, not statements
MIN_PLAIN = 5  # nor are lines left this short without their spaces and punctuation
# Article and item numbers at the start of a line: 第１２条　, ２　, (3), 1. (Markdown) …
_LEAD = re.compile(r"\s*(?:(?:第[0-9０-９一二三四五六七八九十百]+条(?:の[0-9０-９]+)?"
                   r"|[0-9０-９]{1,2}[.．]?|[(（][0-9０-９一二三四五六七八九十]+[)）]|[-*・])[ 　]+)?")
# What a quote may add, drop or change without changing what it says: spaces, table bars,
# leaders (・・・), brackets and commas. Compared after NFKC (１０日 = 10日).
_NOISE = re.compile(r"[\s|｜・･…:：、，,。「」『』()\[\]【】*#]+")
_SENTENCE = re.compile(r"[^。！？!?\n]+(?:[。！？!?]+|\n|$)|\n")


def edit_ratio(generated: str, sent: str) -> float:
    if generated == sent:
        return 0.0
    matcher = difflib.SequenceMatcher(None, generated, sent, autojunk=False)
    return round(1.0 - matcher.ratio(), 4)


def accepted(ratio: float | None) -> bool:
    return ratio is not None and ratio < ACCEPTED_BELOW


def unified_diff(before: str, after: str) -> str:
    """A line diff (``-`` removed, ``+`` added) of one revision against the one before."""
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), "before", "after",
                                 n=1, lineterm="")
    return "\n".join(lines)


@dataclass(frozen=True)
class Segment:
    text: str
    marked: bool


def highlight(passage: str, answer: str) -> list[Segment]:
    """The passage cut into sentences and lines, those that the answer quotes marked
    (without their article or item number, which quoting drops). A quote counts however it
    is spaced or punctuated: a table row 「| 100km以上 | 3,000円 |」 or an item
    「本人が結婚したとき・・・5日」 is quoted by 「100km以上は3,000円」, 「本人が結婚したとき
    5日」. Plain text: the template escapes it and wraps marked segments in ``<mark>``."""
    segments: list[Segment] = []

    def add(text: str, marked: bool) -> None:
        if not text:
            return
        if segments and segments[-1].marked == marked:
            segments[-1] = Segment(segments[-1].text + text, marked)
        else:
            segments.append(Segment(text, marked))

    quoted_text = _plain(answer)
    for piece in _SENTENCE.findall(passage):
        lead = _LEAD.match(piece)
        start = lead.end() if lead else 0
        core = piece[start:].rstrip()
        if len(core) >= MIN_SENTENCE and _quoted(_plain(core), quoted_text):
            add(piece[:start], False)
            add(core, True)
            add(piece[start + len(core):], False)
        else:
            add(piece, False)
    return segments
def _plain(text: str) -> str:
    return _NOISE.sub("", unicodedata.normalize("NFKC", text))


def _quoted(sentence: str, answer: str) -> bool:
    if len(sentence) < MIN_PLAIN:  # a table's | :- | -: | is no statement
        return False
    if sentence in answer:
        return True
    matcher = difflib.SequenceMatcher(None, sentence, answer, autojunk=False)
    match = matcher.find_longest_match(0, len(sentence), 0, len(answer))
    return match.size >= QUOTED_SHARE * len(sentence)
