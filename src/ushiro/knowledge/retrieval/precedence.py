"""The company's own rule wins: how search orders company rules, reference material and
commentary, and where a reference passage states something else than the company's rule.

Ranking is by relevance first, then by authority: among the passages that match well (a
score of at least :data:`FLOOR` times the best), the company's own rules and FAQs come
before reference material (model rules, government guides); commentary (【解説】) comes
after both. A company passage that matches only faintly keeps its place by score among the
reference passages: it is not the company's rule *on that topic*.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from ushiro.knowledge.choices import COMMENTARY_MARK, DocumentKind

# Relative to the best score: what "matches well" means for the order of authority.
FLOOR = 0.5
# Candidates fetched per result wanted when the index holds several kinds, so that a
# company passage just below the first k can still be lifted above reference material.
WIDEN = 4
WIDEST = 60


class Ranked(Protocol):
    @property
    def score(self) -> float: ...

    @property
    def kind(self) -> str: ...

    @property
    def section(self) -> str: ...


H = TypeVar("H", bound=Ranked)


def is_commentary(section: str) -> bool:
    return section.endswith(COMMENTARY_MARK)


def tier(hit: Ranked, best: float) -> int:
    """0: the company's own rule or FAQ, matching well; 1: reference material, or an own
    passage matching faintly; 2: commentary."""
    if is_commentary(hit.section):
        return 2
    if hit.kind != DocumentKind.REFERENCE and hit.score >= FLOOR * best:
        return 0
    return 1


def candidates(k: int) -> int:
    """How many hits to ask the backend for, to keep ``k`` after reordering."""
    return min(max(k * WIDEN, 20), WIDEST)


def reorder(hits: Sequence[H], k: int) -> list[H]:
    """The k best of ``hits`` (best first by score) in the order of authority, each tier
    still by score (a stable sort keeps the backend's tie-break)."""
    if not hits:
        return []
    best = max(hit.score for hit in hits)
    return sorted(hits, key=lambda hit: tier(hit, best))[:k]
