"""What one line of a rule book or FAQ is: an article's first line (and its caption), a
heading, a question, the start of commentary, or a line of a table of contents.

Every recogniser reads the NFKC form of the line (full-width digits, brackets and spaces
are half-width), so 第１２条（年次有給休暇） and 第12条(年次有給休暇) are the same line.
"""

from __future__ import annotations

import re
import unicodedata

from ushiro.knowledge.choices import COMMENTARY_MARK

_NUM = r"[0-9]+|[〇一二三四五六七八九十百千]+"
_ARTICLE = re.compile(rf"^第\s*({_NUM})\s*条((?:\s*の\s*(?:{_NUM}))*)(.*)$")
_CAPTIONED = re.compile(r"^[(【]([^()【】]{1,40})[)】]\s*(.*)$")
_CHAPTER = re.compile(rf"^第\s*({_NUM})\s*(章|節|款)(?:\s+|$)(.*)$")
_SUPPLEMENT = re.compile(r"^(?:附\s*則|付\s*則|別\s*表\s*[0-9]*)(?:\s*[(【].*[)】])?$")
CAPTION = re.compile(r"^[(【]([^()【】]{1,40})[)】]$")
# 問1, Q2., Q3:, Q.; a number alone on its line (Q1) takes the next line as the question.
_QUESTION = re.compile(r"^(?:(問|Q)\s*([0-9]+)\s*[.:、)]?|(?:問|Q)\s*[.:])\s*(.*)$")
# 【質問】, [質問], 〔Q〕 …: a question without a number.
_BRACKET_QUESTION = re.compile(r"^[【\[〔<《(]\s*(?:質問|問|Q|照会要旨)\s*[】\]〕>》)]\s*(.*)$")
# === Q1 ===, --- Q1 ---, *** 問2 ***: decorations around a label.
_DECORATED = re.compile(r"^[=\-*~_+]{2,}\s*(.*?)\s*[=\-*~_+]{2,}$")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*$")
# 【解説】, (解説), <解説>, and the model rules' 【第1条 目的】 after the article. Not （注）:
# a company's own rules write notes that are part of the rule.
_COMMENTARY = re.compile(r"^[【\[〔<《(]\s*(?:解説|コメント)\s*[】\]〕>》)]\s*(.*)$")
_ABOUT_ARTICLE = re.compile(rf"^【\s*(第\s*(?:{_NUM})\s*条(?:\s*の\s*(?:{_NUM}))*)\s*(.*?)\s*】$")
# A table-of-contents entry: a label, then dot leaders or a wide gap, then a page number.
_TOC_ENTRY = re.compile(r"^(?:第\s*\S+?\s*[条章節款]|附\s*則|付\s*則).*?"
                        r"(?:[.・…‥·]{2,}|\s{2,}|\t)\s*(?:p\.?\s*)?[0-9]{1,3}$")
_TOC_TITLE = re.compile(r"^[#【\[]*\s*目\s*次\s*[】\]]*$")
_LIST_MARK = re.compile(r"^(?:[-*+・]\s+|[0-9]+[.)]\s+)")
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
# A caption written after the number without brackets (第40条 慶弔休暇): short, no
# punctuation, digits or は/が/を, not a sentence cut by a page edge (ending in a particle).
_BARE_CAPTION = re.compile(r"^[^、。,.!?:;「」0-9はがを]{1,25}$")
_PARTICLE_END = tuple("はがをにでともへやより")
_HIRAGANA = re.compile(r"[\u3041-\u309f]")
_KANJI_DIGITS = {"〇": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
                 "八": 8, "九": 9}
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


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


def _bare_caption(rest: str) -> bool:
    if rest in ("削除", "(削除)") or not _BARE_CAPTION.match(rest):
        return False
    if rest.endswith(_PARTICLE_END):
        return False
    return len(_HIRAGANA.findall(rest)) <= len(rest) * 0.4


def article_label(line: str, *, heading: bool = False) -> tuple[str, str] | None:
    """('第12条(年次有給休暇)', body) for an article's first line, else None.

    A line that only refers to an article (第12条の規定により…) is not one: the number
    must be followed by a caption, a space or the end of the line. A caption is bracketed
    (第12条（年次有給休暇）) or, alone after the number, a short phrase that is no sentence
    (第40条　慶弔休暇); in a heading (``heading``: ### 第40条　慶弔休暇) whatever follows the
    number is the caption.
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
    elif rest.strip() and (heading and not rest.strip().endswith("。") and len(rest) <= 60
                           or _bare_caption(rest.strip())):
        label += "(" + re.sub(r"\s+", " ", rest.strip()) + ")"
        rest = ""
    return label, rest.strip()


def article_number(label: str) -> int | None:
    match = re.match(r"^第([0-9]+)条", label)
    return int(match.group(1)) if match else None


def heading_of(line: str) -> tuple[int, str] | None:
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


def undecorated(line: str) -> str:
    """The label inside === Q1 === (the line itself when it has no such decoration)."""
    match = _DECORATED.match(nfkc(line))
    return match.group(1) if match and match.group(1) else line


def question_label(line: str) -> str | None:
    """'Q2 結婚したら?' for a question's first line; 'Q1' or 'Q' alone when the question
    itself is on the next line."""
    text = nfkc(undecorated(line))
    bracket = _BRACKET_QUESTION.match(text)
    if bracket:
        return f"Q {bracket.group(1)}".strip()
    match = _QUESTION.match(text)
    if match is None:
        return None
    marker, num, question = match.groups()
    return f"{marker}{num} {question}".strip() if marker else f"Q {question}".strip()


def bracketed_article(line: str) -> str | None:
    """'第1条(目的)' for a line 【第1条　目的】, else None."""
    about = _ABOUT_ARTICLE.match(nfkc(line))
    if about is None:
        return None
    found = article_label(f"{about.group(1)} {about.group(2)}".strip(), heading=True)
    return found[0] if found else None


def commentary_of(line: str, article: str) -> str | None:
    """The label of commentary that starts at this line, else None: 【解説】, or 【第1条
    目的】 right after 第1条 itself (as the model rules write their notes). ``article`` is
    the label of the article before it; 【第5条　…】 after another article is that
    article's own heading, not commentary."""
    bracketed = bracketed_article(line)
    if bracketed is not None:
        same = bracketed.split("(")[0] == article.split("(")[0]
        return f"{article if '(' in article else bracketed}{COMMENTARY_MARK}" if same else None
    if _COMMENTARY.match(nfkc(line)):
        return f"{article}{COMMENTARY_MARK}"
    return None


def _plain(line: str) -> str:
    return nfkc(_LIST_MARK.sub("", _LINK.sub(r"\1", nfkc(line).lstrip("#").strip())))


def is_toc_entry(line: str) -> bool:
    """A line of a table of contents wherever it stands: 第1条（目的）・・・・1."""
    return bool(_TOC_ENTRY.match(_plain(line)))


def is_toc_title(line: str) -> bool:
    return bool(_TOC_TITLE.match(nfkc(line)))


def bare_label(line: str) -> str | None:
    """The label of a line that is only a label (第1条（目的）, 第2章 服務, 附則), as a table
    of contents lists them, else None."""
    text = _plain(line)
    article = article_label(text)
    if article is not None:
        return article[0] if not article[1] else None
    heading = heading_of(text)
    return heading[1] if heading is not None else None
