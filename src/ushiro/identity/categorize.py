"""Which category a free-text question belongs to, from its words.

A chat question arrives without a category; without one the category's self-service mode
(answers) cannot apply and the request waits unsorted. Until triage classifies requests,
this is a plain keyword and synonym match:

- each active category of the tenant is described by its name, the parts of its name
  (「勤怠・休暇」 → 勤怠, 休暇) and, for the names of the default taxonomy, the words of
  ``data/category_keywords.json`` (有給, 有休, 年休 … for 勤怠・休暇);
- text and words are compared after NFKC and case folding (ＰＣ = pc);
- a category scores the summed length of its distinct words found in the text (a longer
  word is the more specific one: 「有給休暇」 beats 「休暇」 elsewhere);
- the best score wins; a tie between categories, or no word found, gives no category
  (a person sorts the request, as before).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TypeVar

_KEYWORDS = Path(__file__).parent / "data" / "category_keywords.json"
_NAME_PARTS = re.compile(r"[・･/／、,，\s]+")
MIN_PART = 2  # a one-character part of a name (「他」) would match almost any question

T = TypeVar("T")


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


@cache
def _shipped() -> dict[str, tuple[str, ...]]:
    data = json.loads(_KEYWORDS.read_text(encoding="utf-8"))
    return {_norm(name): tuple(words) for name, words in data.items()
            if not name.startswith("_")}


def words_for(name: str) -> frozenset[str]:
    """The normalised words that stand for a category called ``name``."""
    key = _norm(name)
    parts = [p for p in _NAME_PARTS.split(key) if len(p) >= MIN_PART]
    return frozenset({key, *parts, *(_norm(w) for w in _shipped().get(key, ()))})


def guess(text: str, candidates: Iterable[tuple[T, str]]) -> T | None:
    """The candidate (key, name) whose words best match ``text``; None when none or a tie."""
    haystack = _norm(text)
    scored: list[tuple[int, T]] = []
    for key, name in candidates:
        score = sum(len(w) for w in words_for(name) if w in haystack)
        if score:
            scored.append((score, key))
    if not scored:
        return None
    scored.sort(key=lambda pair: pair[0], reverse=True)
    if len(scored) > 1 and scored[0][0] == scored[1][0]:
        return None
    return scored[0][1]

