"""Where reference material and the company's own rule state different values on one topic.

An answer follows the company's rule (search ranks it first); the operator is still shown
that the reference says otherwise (モデル就業規則: 定年は満60歳; the company: 満65歳), since
the difference is what a reviewer would otherwise miss, or what a reader of the reference
would ask about.

Two passages are on one topic when their article captions overlap (定年 / 定年等, 賃金の
支払 / 賃金支払日). Their values are compared by kind: ages, amounts, days of the month,
periods and counts (a number with its unit), and what is granted or refused (支給する /
支給しない). A conflict is a kind of value for which each passage states a value the other
does not (締め日 毎月末日 in both, but 支払日 当月末日 against 翌月15日): a reference that
offers 満60歳 and 満65歳 as alternatives does not contradict 満65歳.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from ushiro.knowledge.choices import DocumentKind
from ushiro.knowledge.retrieval.precedence import FLOOR, is_commentary
from ushiro.knowledge.schemas import SearchHit

# Own passages compared per query: the first few are the ones an answer rests on.
OWN_COMPARED = 3

_NUMBER = r"[0-9][0-9,]*(?:\.[0-9]+)?"
# (kind of value, pattern) over the NFKC text; the whole match is the value shown.
_VALUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("age", re.compile(rf"満?{_NUMBER}歳")),
    ("amount", re.compile(rf"{_NUMBER}(?:万|千)?円")),
    ("day_of_month", re.compile(rf"(?:当月|翌月|前月|毎月)(?:{_NUMBER}日|末日)")),
    ("hours", re.compile(rf"{_NUMBER}時間")),
    ("period", re.compile(rf"{_NUMBER}(?:か月|ヶ月|カ月|箇月|ケ月|年間|週間)")),
    ("days", re.compile(rf"{_NUMBER}(?:日間|労働日)")),
    ("percent", re.compile(rf"{_NUMBER}(?:%|パーセント|割)")),
)
_GRANT = re.compile(r"(支給|支払|付与|貸与|適用)(し(?:ない|ません)|する|します)")
_CAPTION = re.compile(r"\(([^()]{1,40})\)")
_KANJI_PAIR = re.compile(r"[\u4e00-\u9fff]{2}")


@dataclass(frozen=True)
class Conflict:
    """A reference passage stating other values than a company passage (a rule or an FAQ
    answer) on the same topic."""

    company: SearchHit
    reference: SearchHit
    company_values: tuple[str, ...]
    reference_values: tuple[str, ...]

    def describe(self) -> str:
        """「モデル就業規則 第49条(定年等)「満60歳」、就業規則 第21条(定年)「満65歳」」."""
        return (f"{self.reference.document} {self.reference.section}"
                f"「{'・'.join(self.reference_values)}」、{self.company.document} "
                f"{self.company.section}「{'・'.join(self.company_values)}」")


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def caption(section: str) -> str:
    match = _CAPTION.search(_nfkc(section))
    return match.group(1) if match else ""


def same_topic(a: str, b: str) -> bool:
    """Whether two article labels' captions are about one thing: one holds the other, or
    they share a two-kanji word (賃金の支払 / 賃金支払日 share 支払)."""
    first, second = caption(a), caption(b)
    if not first or not second:
        return False
    if first in second or second in first:
        return True
    pairs = {first[i:i + 2] for i in range(len(first) - 1)}
    return any(second[i:i + 2] in pairs and _KANJI_PAIR.fullmatch(second[i:i + 2])
               for i in range(len(second) - 1))


def values(text: str) -> dict[str, set[str]]:
    """The values a passage states, by kind (see the module docstring)."""
    normal = re.sub(r"\s+", "", _nfkc(text))
    found: dict[str, set[str]] = {}
    for kind, pattern in _VALUES:
        for match in pattern.finditer(normal):
            found.setdefault(kind, set()).add(match.group(0).replace(",", ""))
    for match in _GRANT.finditer(normal):
        negative = match.group(2) in ("しない", "しません")
        found.setdefault(f"grant:{match.group(1)}", set()).add(
            match.group(1) + ("しない" if negative else "する"))
    return found


def _differing(own: dict[str, set[str]],
               other: dict[str, set[str]]) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    mine: list[str] = []
    theirs: list[str] = []
    for kind in sorted(own.keys() & other.keys()):
        only_mine, only_theirs = own[kind] - other[kind], other[kind] - own[kind]
        if only_mine and only_theirs:
            mine.extend(sorted(only_mine))
            theirs.extend(sorted(only_theirs))
    return (tuple(mine), tuple(theirs)) if mine else None


def conflicts(hits: Sequence[SearchHit]) -> list[Conflict]:
    """The conflicts among one query's hits: each reference passage against the first
    :data:`OWN_COMPARED` company passages on its topic, among the hits that match the query
    well (a score within :data:`~.precedence.FLOOR` of the best: a passage sharing a word
    with the question is not what it asks about). Commentary is left out (it explains, it
    does not rule)."""
    best = max((h.score for h in hits), default=0.0)
    relevant = [h for h in hits if h.score >= FLOOR * best]
    # The company's own: its rules and its FAQ answers.
    own = [h for h in relevant
           if h.kind != DocumentKind.REFERENCE and not is_commentary(h.section)]
    found: list[Conflict] = []
    for reference in relevant:
        if reference.kind != DocumentKind.REFERENCE or is_commentary(reference.section):
            continue
        for company in own[:OWN_COMPARED]:
            if not same_topic(company.section, reference.section):
                continue
            differing = _differing(values(company.text), values(reference.text))
            if differing is not None:
                found.append(Conflict(company, reference, *differing))
    return found
