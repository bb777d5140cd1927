"""Sentences of a reply from the lines of a rule: the rule's plain form (支給しない。) in the
polite form of a reply (支給しません。), a table row or 「A ・・・ B」 item as a sentence
(「本人が結婚するときの休暇日数は、最大5日です。」)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from ushiro.knowledge.drafting import facts
from ushiro.knowledge.drafting.facts import Line
from ushiro.knowledge.retrieval.tokenize import ends_in_ichidan_verb

_SENTENCES = re.compile(r"[^。]+。?")
_ALREADY_POLITE = re.compile(r"(?:ます|です|ください|ません|ました|でした)$")
# Endings of a rule's plain form and their polite form, the longest first.
_ENDINGS: tuple[tuple[str, str], ...] = (
    ("ことができる", "ことができます"), ("ことがある", "ことがあります"),
    ("この限りでない", "この限りではありません"), ("この限りではない", "この限りではありません"),
    ("ものとする", "ものとします"), ("とする", "とします"), ("である", "です"),
    ("ではない", "ではありません"), ("でない", "ではありません"), ("しない", "しません"),
    ("できない", "できません"), ("ならない", "なりません"), ("限る", "限ります"),
    ("入る", "入ります"), ("要る", "要ります"), ("する", "します"), ("できる", "できます"),
    ("ある", "あります"), ("いる", "います"), ("こと", "こととなっています"), ("した", "しました"),
)
_NAI = dict(zip("わかさたなまらがばや", "いきしちにみりぎびい", strict=True))
_U = dict(zip("うくすつぬむぶぐ", "いきしちにみびぎ", strict=True))
_E_OR_I_ROW = set("えけせてねへめれげぜでべぺいきしちにひみりぎじぢびぴ")
_VERB_END = re.compile(r"(?:ない|[うくすつぬむぶぐる])$")
_CONDITION = re.compile(r"^(?:但し|ただし)、?|限り|場合は|申請|届け?出|承認|許可|無給|会社が認め")


# 「宿泊費は支給しない」 speaks as the company; told to the employee it is 「支給されません」,
# 「賃金を支給しない」 「賃金は支給されません」 (but 「会社は日当を支給する」 keeps its agent).
_RECEIVED = (("支給しない", "支給されません"), ("支給する", "支給されます"))
_OBJECT = {"支給しない": "は", "支給する": "が"}


def polite(sentence: str) -> str:
    """「宿泊費は支給しない。」 → 「宿泊費は支給されません。」; a noun phrase gets 「です」."""
    text = sentence.strip().rstrip("。")
    if not text:
        return ""
    for plain, received in _RECEIVED:
        if text.endswith("を" + plain) and "会社は" not in text:
            return text[:-len(plain) - 1] + _OBJECT[plain] + received + "。"
        if (text.endswith(plain) and len(text) > len(plain)
                and "を" not in text.rsplit("、", 1)[-1]):  # 宿泊費を次のとおり支給する
            return text[:-len(plain)] + received + "。"
    if _ALREADY_POLITE.search(text):
        return text + "。"
    for plain, kind in _ENDINGS:
        if text.endswith(plain):
            return text[:-len(plain)] + kind + "。"
    if text.endswith(("はない", "もない", "がない", "くない")):
        return text[:-2] + "ありません。"  # 定めはない → 定めはありません
    if text.endswith("ない") and len(text) > 2:
        before = text[-3]
        if before in _NAI:
            return text[:-3] + _NAI[before] + "ません。"
        return text[:-2] + "ません。"
    last = text[-1]
    if last == "る" and len(text) > 1:
        ichidan = text[-2] in _E_OR_I_ROW or ends_in_ichidan_verb(text)
        return (text[:-1] + "ます。") if ichidan else (text[:-1] + "ります。")
    if last in _U:
        return text[:-1] + _U[last] + "ます。"
    return text + "です。"


def sentences(text: str) -> list[str]:
    return [m.group(0).strip() for m in _SENTENCES.finditer(text) if m.group(0).strip()]


def fact_sentence(text: str, kind: str) -> str:
    """The sentence of a line that states the asked kind of fact (else its first)."""
    found = sentences(text)
    return next((s for s in found if facts.holds_fact(kind, s)), found[0] if found else text)


# A short line is told whole: its second sentence is the part of the answer the rule adds
# (「この際、自転車保険に加入していなければならない」), not something to hold back.
WHOLE_LINE = 160


def told(text: str, kind: str, whole: bool = True) -> str:
    """The line's fact sentence in the polite form, with the sentence after it when the line
    is short (and ``whole``)."""
    found = sentences(text)
    first = fact_sentence(text, kind)
    out = polite(first)
    at = found.index(first) if first in found else -1
    if whole and len(text) <= WHOLE_LINE and 0 <= at < len(found) - 1:
        out += polite(re.sub(r"^(?:但し|ただし)、?", "", found[at + 1]))
    return out


def _subject(line: Line) -> str:
    """The item a line belongs to when it names a case (「本人が結婚するとき」), not a sentence."""
    for item in reversed(line.path):
        if " / " in item:
            continue
        return "" if item.endswith("。") else item
    return ""


def _header(line: Line) -> tuple[str, str] | None:
    for item in line.path:
        names = item.split(" / ")
        if len(names) == 2 and all(names):
            return names[0], names[1]
    return None


def _intro(line: Line) -> str:
    """The sentence introducing the list a line is in (「宿泊費を次のとおり支給する。」)."""
    for item in reversed(line.path):
        if item.endswith("。") and "次" in item:
            return polite(next(s for s in sentences(item) if "次" in s))
        if item.endswith("。"):
            return ""
    return ""


# 「従業員が次の各号の一に該当した場合は、諭旨解雇又は懲戒解雇とする。」: what befalls the
# cases listed below it.
_CONSEQUENCE = re.compile(r"次の[^。]*?(?:場合|とき)(?:に)?は、([^。]+)。")


def _case_answer(line: Line) -> str:
    """An item that names a case of a list whose introduction states what befalls them:
    「無断欠勤が14日以上に及び…たときは、諭旨解雇又は懲戒解雇とします。」, or ""."""
    if line.key or not line.path or line.text.endswith("。"):
        return ""
    m = _CONSEQUENCE.search(line.path[-1])
    return f"{line.text}は、{polite(m.group(1))}" if m else ""


def _value(value: str) -> str:
    value = value.strip()
    if value.endswith("。") or _VERB_END.search(value):
        return polite(value)
    return value + "です。"


def answer_sentences(line: Line, same: Sequence[Line], kind: str) -> str:
    """The answer in one or two sentences, from the chosen line (or the rows of its list it
    ties with, when the question names none of them: 役員は7,500円、一般社員は2,500円です)."""
    subject = _subject(line)
    if line.key and len(same) > 1:
        rows = "、".join(f"{x.key}は{x.value.rstrip('。')}" for x in same[:6])
        return (_intro(line) or (f"{subject}、" if subject else "")) + rows + "です。"
    if line.key:
        value = _value(fact_sentence(line.value, kind) if line.value.endswith("。")
                       else line.value)
        header = _header(line)
        if line.value.startswith("支給しない"):  # not 「支給額は支給しません」
            return f"{header[0] + 'が' if header else ''}{line.key}の場合、支給されません。"
        if header:
            return f"{header[0]}が{line.key}の場合、{header[1]}は{value}"
        if subject:
            return f"{subject}の{line.key}は、{value}"
        joint = "、" if line.key.endswith(("場合", "とき")) else "は、"
        return _intro(line) + f"{line.key}{joint}{value}"
    if case := _case_answer(line):
        return case
    said = told(line.text, kind)
    if subject.endswith(("場合", "とき")):
        return f"{subject}、{said}"
    return _intro(line) + said


def condition_of(line: Line, lines: Sequence[Line], wanted: set[str],
                 overlap: Callable[[str], float]) -> str:
    """A condition or exception the clause attaches to the answer (但し…, 申請, 無給, 会社が
    認めた場合), in the polite form, or ""."""
    own = sentences(line.value or line.text)
    for sentence in own[1:]:
        if _CONDITION.search(sentence):
            return polite(re.sub(r"^(?:但し|ただし)、?", "", sentence))
    scored = [(overlap(x.text), -x.index, x) for x in lines
              if x.index != line.index and not x.key and _CONDITION.search(x.text)
              and x.text not in line.path]
    scored = [s for s in scored if s[0] > 0]
    if not scored:
        return ""
    best = max(scored, key=lambda s: (s[0], s[1]))[2]
    first = sentences(best.text)[0]
    return polite(re.sub(r"^(?:但し|ただし)、?", "", first))
