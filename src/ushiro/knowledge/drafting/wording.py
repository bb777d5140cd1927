"""Sentences of a reply from the lines of a rule: the rule's plain form (支給しない。) in the
polite form of a reply (支給しません。), a table row or 「A ・・・ B」 item as a sentence
(「本人が結婚するときの休暇日数は、最大5日です。」)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from ushiro.knowledge.drafting import facts
from ushiro.knowledge.drafting.facts import Line

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


def polite(sentence: str) -> str:
    """「宿泊費は支給しない。」 → 「宿泊費は支給しません。」; a noun phrase gets 「です」."""
    text = sentence.strip().rstrip("。")
    if not text:
        return ""
    if _ALREADY_POLITE.search(text):
        return text + "。"
    for plain, kind in _ENDINGS:
        if text.endswith(plain):
            return text[:-len(plain)] + kind + "。"
    if text.endswith("ない") and len(text) > 2:
        before = text[-3]
        if before in _NAI:
            return text[:-3] + _NAI[before] + "ません。"
        return text[:-2] + "ません。"
    last = text[-1]
    if last == "る" and len(text) > 1:
        return (text[:-1] + "ます。") if text[-2] in _E_OR_I_ROW else (text[:-1] + "ります。")
    if last in _U:
        return text[:-1] + _U[last] + "ます。"
    return text + "です。"


def sentences(text: str) -> list[str]:
    return [m.group(0).strip() for m in _SENTENCES.finditer(text) if m.group(0).strip()]


def fact_sentence(text: str, kind: str) -> str:
    """The sentence of a line that states the asked kind of fact (else its first)."""
    found = sentences(text)
    return next((s for s in found if facts.holds_fact(kind, s)), found[0] if found else text)


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
            return polite(sentences(item)[-1] if "次" in sentences(item)[-1] else item)
        if item.endswith("。"):
            return ""
    return ""


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
        if header := _header(line):
            return f"{header[0]}が{line.key}の場合、{header[1]}は{value}"
        if subject:
            return f"{subject}の{line.key}は、{value}"
        joint = "、" if line.key.endswith(("場合", "とき")) else "は、"
        return _intro(line) + f"{line.key}{joint}{value}"
    said = polite(fact_sentence(line.text, kind))
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
