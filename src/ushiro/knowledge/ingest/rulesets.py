"""One file holding several rule sets (``# 就業規則`` … ``# 賃金規程`` …) is several documents.

Companies often keep their rules in one file: one top-level heading per rule set, each
followed by its own 第1条, 第2条 … Stored as one document, a citation would read 「第12条」
without saying of which 規程. So each rule set becomes its own document, named and titled
after its heading; adding the file again adds each of them again (a new version of the
document of that name, or nothing when the file is unchanged).

A rule set starts at a Markdown top-level heading (``# 賃金規程``; Word and HTML headings
arrive as Markdown) or, in plain text and PDF, at a short title line (…規程, …規則, …規定,
…細則, …要領, FAQ …) whose first article after it is 第1条. A file splits only when at least
two rule sets each hold an article or a question; anything else is one document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from ushiro.knowledge.ingest.extract import Extracted
from ushiro.knowledge.ingest.structure import (
    article_label,
    article_number,
    heading_of,
    is_toc_title,
    nfkc,
    question_label,
)

_TOP_HEADING = re.compile(r"^#\s+(.+?)\s*#*$")
_TITLE = re.compile(r"^[^。、,.!?]{1,40}(?:規程|規則|規定|細則|要領|要綱|基準|指針|方針|"
                    r"マニュアル|ガイドライン|FAQ|Q&A|よくある質問)(?:\s*[(【].*[)】])?$")
# Lines looked at after a plain title for its 第1条 (captions, chapters, 目的 …).
_LOOKAHEAD = 12


@dataclass(frozen=True)
class RuleSet:
    title: str
    extracted: Extracted


def _plain_title(lines: list[str], index: int) -> str | None:
    """The title at ``index`` when a plain-text rule set starts there (its first article
    within a few lines is 第1条)."""
    text = nfkc(lines[index])
    if not _TITLE.match(text) or article_label(text) or heading_of(text):
        return None
    for line in lines[index + 1:index + 1 + _LOOKAHEAD]:
        found = article_label(line)
        if found is not None:
            return text if article_number(found[0]) == 1 else None
        if _TITLE.match(nfkc(line)) and not is_toc_title(line):
            return None
    return None


def _title_at(lines: list[str], index: int, markdown: bool) -> str | None:
    if markdown:
        match = _TOP_HEADING.match(nfkc(lines[index]))
        if match is None or heading_of(match.group(1)) or article_label(match.group(1)):
            return None  # # 第1章 総則: a chapter of one rule set
        return match.group(1).strip()
    return _plain_title(lines, index)


def _has_items(lines: list[str]) -> bool:
    """Whether a part is a rule set of its own: its articles start at 第1条, or it holds
    questions (an FAQ)."""
    for line in lines:
        text = line.lstrip().lstrip("#").strip()
        article = article_label(text)
        if article is not None:
            return article_number(article[0]) == 1
        if question_label(text):
            return True
    return False


def rule_sets(extracted: Extracted) -> list[RuleSet]:
    """The rule sets of a file, in order; empty when it holds one (or none)."""
    lines: list[tuple[int, str]] = [(page, line) for page, text in enumerate(extracted.pages)
                                    for line in text.split("\n")]
    texts = [line for _, line in lines]
    markdown = any(_TOP_HEADING.match(nfkc(line)) for line in texts)
    starts = [(i, title) for i in range(len(texts))
              if (title := _title_at(texts, i, markdown)) is not None]
    if len(starts) < 2:
        return []
    bounds = [*(i for i, _ in starts), len(texts)]
    sets: list[RuleSet] = []
    for (start, title), end in zip(starts, bounds[1:], strict=True):
        body = texts[start:end]
        if not _has_items(body):
            return []  # a heading without articles: a document's sections, not rule sets
        pages: dict[int, list[str]] = {}
        for page, line in lines[start:end]:
            pages.setdefault(page, []).append(line)
        first = extracted.first_page + min(pages)
        sets.append(RuleSet(title, replace(extracted, first_page=first,
                                           pages=["\n".join(p) for p in pages.values()])))
    head = [line for line in texts[:starts[0][0]] if line.strip()]
    if head and _has_items(head):
        return []  # articles before the first title: one document that merely has headings
    return sets
