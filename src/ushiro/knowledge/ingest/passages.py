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
import unicodedata
from collections import Counter
from dataclasses import dataclass, field

from ushiro.knowledge.ingest.extract import Extracted
from ushiro.knowledge.retrieval.tokenize import index_text

MAX_CHARS = 800
MIN_CHARS = 400
LABEL_CHARS = 120

_NUM = r"[0-9]+|[〇一二三四五六七八九十百千]+"
# Matched against the NFKC form of a line: full-width digits and brackets are half-width.
_ARTICLE = re.compile(rf"^第\s*({_NUM})\s*条((?:\s*の\s*(?:{_NUM}))*)(.*)$")
_CAPTIONED = re.compile(r"^[(【]([^()【】]{1,40})[)】]\s*(.*)$")
_CHAPTER = re.compile(rf"^第\s*({_NUM})\s*(章|節|款)(?:\s+|$)(.*)$")
_SUPPLEMENT = re.compile(r"^(?:附\s*則|付\s*則|別\s*表\s*[0-9]*)(?:\s*[(【].*[)】])?$")
_CAPTION = re.compile(r"^[(【]([^()【】]{1,40})[)】]$")
_QUESTION = re.compile(r"^(?:(問|Q)\s*([0-9]+)\s*[.:、)]?|Q\s*[.:])\s*(.*)$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*$")
_PAGE_NUMBER = re.compile(r"^(?:-\s*)?[0-9]{1,4}(?:\s*-)?$|^[0-9]{1,4}\s*/\s*[0-9]{1,4}$"
                          r"|^(?:p\.?|page)\s*[0-9]{1,4}$", re.I)
# Line starts that begin a new item even without a blank line before them.
_ITEM = re.compile(r"^(?:[0-9]+\s|[0-9]+[.)]|\([0-9]+\)|[①-⑳]|[一二三四五六七八九十]+\s"
                   r"|[・•●○◆◇■□※*-]\s?|[A-Za-z][.)]\s)")
# A closing 」 is not among them: 以下「会社」/という。 breaks inside a sentence.
_SENTENCE_END = ("。", "!", "?", ":", ")")
_SENTENCE = re.compile(r"(?<=[。!?!?])")
_KANJI_DIGITS = {"〇": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
                 "八": 8, "九": 9}
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}


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


def number(text: str) -> int:
    """'12', '十二', '二十一', '一〇' → int."""
    if text.isdigit():
        return int(text)
    if not any(ch in _KANJI_UNITS for ch in text):
        return int("".join(str(_KANJI_DIGITS[ch]) for ch in text))
    total, current = 0, 0
    for ch in text:
        if ch in _KANJI_DIGITS:
            current = _KANJI_DIGITS[ch]
        else:
            total += (current or 1) * _KANJI_UNITS[ch]
            current = 0
    return total + current


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def article_label(line: str) -> tuple[str, str] | None:
    """('第12条(年次有給休暇)', body) for an article's first line, else None.

    A line that only refers to an article (第12条の規定により…) is not one: the number
    must be followed by a caption, a space or the end of the line.
    """
    match = _ARTICLE.match(nfkc(line))
    if match is None:
        return None
    main, branches, rest = match.groups()
    caption = _CAPTIONED.match(rest.lstrip())
    if caption is None and rest and not rest[0].isspace():
        return None
    label = f"第{number(main)}条"
    for branch in re.findall(_NUM, branches):
        label += f"の{number(branch)}"
    if caption is not None:
        label += f"({caption.group(1).strip()})"
        rest = caption.group(2)
    return label, rest.strip()


def _heading_of(line: str) -> tuple[int, str] | None:
    """(level, text) for a Markdown heading or a 章/節/附則 line."""
    text = nfkc(line)
    md = _HEADING.match(text)
    if md:
        return len(md.group(1)), md.group(2).strip()
    chapter = _CHAPTER.match(text)
    if chapter:
        level = {"章": 7, "節": 8, "款": 9}[chapter.group(2)]
        title = f"第{number(chapter.group(1))}{chapter.group(2)}"
        return level, f"{title} {chapter.group(3).strip()}".strip()
    if _SUPPLEMENT.match(text):
        return 7, re.sub(r"\s+", "", text)
    return None


def _question_label(line: str) -> str | None:
    match = _QUESTION.match(nfkc(line))
    if match is None:
        return None
    marker, num, question = match.groups()
    return f"{marker}{num} {question}".strip() if marker else f"Q {question}".strip()


def _is_structural(line: str) -> bool:
    text = nfkc(line)
    return bool(_heading_of(line) or _CAPTION.match(text) or _question_label(line)
                or article_label(line) or _ITEM.match(text))


def _standalone(line: str) -> bool:
    """Lines that never continue onto the next one: headings, captions, bare article numbers."""
    text = nfkc(line)
    if _heading_of(line) or _CAPTION.match(text):
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
        lines.extend(Line(text.rstrip(), index + 1 if numbered else None) for text in texts)
    return lines


class _Splitter:
    """Walks the lines once, opening a unit at every article, question and heading."""

    def __init__(self, fallback_label: str) -> None:
        self.stack: list[tuple[int, str]] = []
        self.units: list[_Unit] = [_Unit(fallback_label, "")]
        self.caption: Line | None = None

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

    def heading(self, level: int, text: str) -> None:
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.open(text)
        self.stack.append((level, text))

    def feed(self, line: Line, next_text: str) -> None:
        text = nfkc(line.text)
        if _CAPTION.match(text) and article_label(next_text):
            self.caption = line  # （年次有給休暇） above 第12条: the article's caption
            return
        heading = _heading_of(line.text)
        markdown = heading is not None and text.startswith("#")
        # A Markdown heading may itself be an article or a question (## 第12条, ### Q1 …);
        # its '#' line is then the label only, not part of the passage text.
        inner = heading[1] if markdown and heading else line.text
        first = Line(line.text.lstrip().lstrip("#").strip(), line.page) if markdown else line
        article = article_label(inner)
        question = None if article else _question_label(inner)
        if article:
            label = article[0]
            if "(" not in label and self.caption is not None:
                label += f"({nfkc(self.caption.text)[1:-1]})"
            self.open(label, first)
        elif question:
            self.open(question, first)
        elif heading:
            self.heading(*heading)
        elif text or self.units[-1].lines:
            self.units[-1].lines.append(line)

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
    units = _Splitter(nfkc(fallback_label)).run(document_lines(extracted))
    drafts: list[PassageDraft] = []
    for unit in units:
        for text, page in chunks(unit.lines):
            drafts.append(PassageDraft(len(drafts) + 1, unit.label, unit.context, text, page))
    return drafts
