"""Cutting a document into the passages search returns and citations name.

A passage is one article (第N条, 第N条の2, also 第十二条 and 第１２条), one Q&A item (問1, Q2,
Q：) or the text under one heading (Markdown ``#``; HTML and Word headings arrive as
Markdown). 章 and 節 are kept as context. Text from PDF is repaired first: lines broken by
the page layout in the middle of a sentence are joined again, page numbers and running
headers are dropped. Labels use half-width digits (第12条(年次有給休暇)) so they match
however the document wrote them; the passage text keeps the document's own wording.
Long sections are cut into chunks of about 400–800 characters that keep the label.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from ushiro.knowledge.ingest.extract import Extracted
from ushiro.knowledge.ingest.structure import (
    CAPTION,
    article_label,
    bare_label,
    bracketed_article,
    commentary_of,
    heading_of,
    is_toc_entry,
    is_toc_title,
    nfkc,
    number,
    question_label,
    undecorated,
)
from ushiro.knowledge.retrieval.tokenize import index_text

__all__ = ["MAX_CHARS", "PassageDraft", "article_label", "chunks", "number", "rejoin", "split"]

MAX_CHARS = 800
MIN_CHARS = 400
LABEL_CHARS = 120

_PAGE_NUMBER = re.compile(r"^(?:-\s*)?[0-9]{1,4}(?:\s*-)?$|^[0-9]{1,4}\s*/\s*[0-9]{1,4}$"
                          r"|^(?:p\.?|page)\s*[0-9]{1,4}$", re.I)
# Line starts that begin a new item even without a blank line before them.
_ITEM = re.compile(r"^(?:[0-9]+\s|[0-9]+[.)]|\([0-9]+\)|[①-⑳]|[一二三四五六七八九十]+\s"
                   r"|[・•●○◆◇■□※*-]\s?|[A-Za-z][.)]\s)")
# A closing 」 is not among them: 以下「会社」/という。 breaks inside a sentence.
_SENTENCE_END = ("。", "!", "?", ":", ")")
_SENTENCE = re.compile(r"(?<=[。!?!?])")
# Bare article labels in a row (no text between) that make a table of contents.
TOC_RUN = 3


@dataclass(frozen=True)
class PassageDraft:
    """A passage before it is stored: ``index_text`` is what gets tokenised."""

    ordinal: int
    section: str
    context: str
    text: str
    page: int | None

    @property
    def index_text(self) -> str:
        return index_text(self.section, self.text)


@dataclass(frozen=True)
class Line:
    text: str
    page: int | None


@dataclass
class _Unit:
    label: str
    context: str
    lines: list[Line] = field(default_factory=list)


def _is_structural(line: str) -> bool:
    text = nfkc(line)
    return bool(heading_of(line) or CAPTION.match(text) or question_label(line)
                or article_label(line) or _ITEM.match(text))


def _standalone(line: str) -> bool:
    """Lines that never continue onto the next one: headings, captions, bare article numbers."""
    text = nfkc(line)
    if heading_of(line) or CAPTION.match(text):
        return True
    article = article_label(line)
    return article is not None and not article[1]


def _join(prev: str, line: str) -> str:
    if prev[-1:].isascii() and prev[-1:].isalnum() and line[:1].isascii() and line[:1].isalnum():
        return f"{prev} {line}"
    return prev + line


def rejoin(lines: list[str]) -> list[str]:
    """Join lines that the PDF layout broke in the middle of a sentence."""
    out: list[str] = []
    for raw in lines:
        line = raw.strip()
        if not line:
            if out and out[-1]:
                out.append("")
            continue
        if _PAGE_NUMBER.match(nfkc(line)):
            continue
        prev = out[-1] if out else ""
        if prev and not nfkc(prev).endswith(_SENTENCE_END) and not _standalone(prev) \
                and not _is_structural(line):
            out[-1] = _join(prev, line)
        else:
            out.append(line)
    return out


def _running_lines(pages: list[list[str]]) -> set[str]:
    """Headers and footers: the same first/last line on most pages of a long PDF."""
    if len(pages) < 3:
        return set()
    ends: Counter[str] = Counter()
    for lines in pages:
        kept = [line.strip() for line in lines if line.strip()]
        ends.update({nfkc(line) for line in kept[:1] + kept[-1:]})
    return {line for line, count in ends.items() if count >= 0.6 * len(pages) and len(line) < 60}


def document_lines(extracted: Extracted) -> list[Line]:
    numbered = extracted.from_layout
    pages = [page.split("\n") for page in extracted.pages]
    running = _running_lines(pages) if numbered else set()
    lines: list[Line] = []
    for index, raw in enumerate(pages):
        kept = [line for line in raw if nfkc(line) not in running]
        texts = rejoin(kept) if numbered else kept
        page = index + extracted.first_page if numbered else None
        if numbered and lines and texts and _continues(lines[-1].text, texts[0]):
            # A sentence the page break cut (「…日数に応じて同」 / 「額を支給する。」) is one line,
            # cited by the page it starts on.
            lines[-1] = Line(_join(lines[-1].text, texts[0].strip()), lines[-1].page)
            texts = texts[1:]
        lines.extend(Line(text.rstrip(), page) for text in texts)
    return lines


def _continues(prev: str, line: str) -> bool:
    return bool(prev and line.strip()) and not nfkc(prev).endswith(_SENTENCE_END) \
        and not _standalone(prev) and not _is_structural(line.strip())


def _toc_block(lines: list[Line], start: int) -> int:
    """Where the table of contents under a 目次 line at ``start`` ends: after the labels
    it lists, at the first line that is no label, or at the first label listed again (the
    body begins with the contents' first entry)."""
    seen: set[str] = set()
    end = start + 1
    for index in range(start + 1, len(lines)):
        text = lines[index].text
        if not text.strip() or is_toc_entry(text):
            end = index + 1
            continue
        label = bare_label(text)
        if label is None or label in seen:
            break
        seen.add(label)
        end = index + 1
    return end


def _label_run(lines: list[Line], start: int) -> tuple[int, int]:
    """(end, articles) of the run of bare labels from ``start`` (blank lines between)."""
    articles, end = 0, start
    for index in range(start, len(lines)):
        text = lines[index].text
        if not text.strip():
            continue
        label = bare_label(text)
        if label is None:
            break
        articles += label.startswith("第") and "条" in label
        end = index + 1
    return end, articles


def drop_contents(lines: list[Line]) -> list[Line]:
    """The lines without a table of contents: a 目次 block, entries with dot leaders or page
    numbers anywhere, and runs of article labels with no text between them."""
    kept: list[Line] = []
    index = 0
    while index < len(lines):
        text = lines[index].text
        if is_toc_title(text):
            index = _toc_block(lines, index)
            continue
        if is_toc_entry(text):
            index += 1
            continue
        end, articles = _label_run(lines, index) if bare_label(text) else (index, 0)
        if articles >= TOC_RUN:
            index = end
            continue
        kept.append(lines[index])
        index += 1
    return kept


class _Splitter:
    """Walks the lines once, opening a unit at every article, question, commentary and
    heading."""

    def __init__(self, fallback_label: str) -> None:
        self.stack: list[tuple[int, str]] = []
        self.units: list[_Unit] = [_Unit(fallback_label, "")]
        self.caption: Line | None = None
        # A caption above an article (statutes) also covers the uncaptioned articles that
        # follow it, up to the next caption or heading (a 共通見出し).
        self.shared: str = ""
        self.article = fallback_label  # the last article's label, which commentary is on
        self.pending = False  # the unit's label waits for its question (Q1 on its own line)

    @property
    def context(self) -> str:
        return " > ".join(text for _, text in self.stack)[:300]

    def open(self, label: str, first: Line | None = None) -> None:
        unit = _Unit(label[:LABEL_CHARS], self.context)
        if self.caption is not None:
            unit.lines.append(self.caption)
            self.caption = None
        if first is not None:
            unit.lines.append(first)
        self.units.append(unit)
        self.pending = False

    def heading(self, level: int, text: str) -> None:
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.open(text)
        self.stack.append((level, text))
        self.shared = ""

    def open_article(self, label: str, first: Line) -> None:
        if self.caption is not None:
            self.shared = nfkc(self.caption.text)[1:-1]
        if "(" not in label and self.shared:
            label += f"({self.shared})"
        elif "(" in label and self.caption is None:
            self.shared = ""
        self.article = label
        self.open(label, first)

    def open_question(self, label: str, first: Line) -> None:
        self.open(label, first)
        self.pending = label in ("Q",) or bool(re.fullmatch(r"(?:問|Q)[0-9]+", label))

    def append(self, line: Line) -> None:
        unit = self.units[-1]
        text = nfkc(line.text)
        if self.pending and text:
            unit.label = f"{unit.label} {text}"[:LABEL_CHARS]
            self.pending = False
        if text or unit.lines:
            unit.lines.append(line)

    def feed(self, line: Line, next_text: str) -> None:
        text = nfkc(line.text)
        if CAPTION.match(text) and article_label(next_text):
            self.caption = line  # （年次有給休暇） above 第12条: the article's caption
            return
        heading = heading_of(line.text)
        markdown = heading is not None and text.startswith("#")
        # A Markdown heading may itself be an article or a question (## 第12条, ### Q1 …);
        # its '#' line is then the label only, not part of the passage text.
        inner = heading[1] if markdown and heading else undecorated(line.text)
        first = Line(line.text.lstrip().lstrip("#").strip(), line.page) if markdown else line
        article = article_label(inner, heading=markdown)
        question = None if article else question_label(inner)
        commentary = None if article or question else commentary_of(inner, self.article)
        bracketed = None if article or question or commentary else bracketed_article(inner)
        if article or bracketed:
            self.open_article(article[0] if article else str(bracketed), first)
        elif question:
            self.open_question(question, first)
        elif commentary:
            self.open(commentary, first)
        elif heading:
            self.heading(*heading)
        else:
            self.append(line)

    def run(self, lines: list[Line]) -> list[_Unit]:
        texts = [line.text for line in lines]
        for index, line in enumerate(lines):
            following = next((t for t in texts[index + 1:index + 3] if t.strip()), "")
            self.feed(line, following)
        if self.caption is not None:
            self.units[-1].lines.append(self.caption)
        preamble = [line for line in self.units[0].lines if line.text.strip()]
        if len(preamble) == 1 and len(nfkc(preamble[0].text)) <= 40 \
                and not nfkc(preamble[0].text).endswith("。"):
            self.units[0].lines.clear()  # the document's title line: citations name it anyway
        return self.units


def _pieces(text: str) -> list[str]:
    """A line too long for one chunk, cut at sentence ends (or hard, as a last resort)."""
    if len(text) <= MAX_CHARS:
        return [text]
    pieces: list[str] = []
    for sentence in _SENTENCE.split(text):
        while len(sentence) > MAX_CHARS:
            pieces.append(sentence[:MAX_CHARS])
            sentence = sentence[MAX_CHARS:]
        if sentence:
            pieces.append(sentence)
    return pieces


def chunks(lines: list[Line]) -> list[tuple[str, int | None]]:
    """Pack whole lines (paragraphs) into chunks of at most MAX_CHARS, in order.

    A tail shorter than a quarter of MIN_CHARS joins the chunk before it, so no chunk is a
    stray sentence without context.
    """
    packed: list[tuple[list[str], int | None]] = []
    size = 0
    for line in lines:
        for piece in _pieces(line.text):
            if not packed or (size and size + len(piece) > MAX_CHARS):
                packed.append(([], line.page))
                size = 0
            packed[-1][0].append(piece)
            size += len(piece) + 1
    if len(packed) > 1 and len("".join(packed[-1][0])) < MIN_CHARS // 4:
        tail = packed.pop()
        packed[-1][0].extend(tail[0])
    texts = [("\n".join(parts).strip(), page) for parts, page in packed]
    return [(text, page) for text, page in texts if text]


def split(extracted: Extracted, fallback_label: str) -> list[PassageDraft]:
    """The passages of one document, in document order."""
    units = _Splitter(nfkc(fallback_label)).run(drop_contents(document_lines(extracted)))
    drafts: list[PassageDraft] = []
    for unit in units:
        for text, page in chunks(unit.lines):
            drafts.append(PassageDraft(len(drafts) + 1, unit.label, unit.context, text, page))
    return drafts
