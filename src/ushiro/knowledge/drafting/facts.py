"""What a question asks for, and the lines of a clause that hold it.

A rule's passage is read as lines with their place in the clause: a list item under the
item that introduces it (「本人が結婚するとき」 → its 休暇日数 row), a table row (Markdown
``| 10km以上15km未満 | 355円 |`` or HTML ``<tr><td>``) as key and value, a 「政令指定都市
・・・ 1泊あたり8,000円」 item likewise. :func:`best_lines` ranks them for a question by the
question's words, the kind of fact it asks for (:func:`question_kind`) and its numbers
(片道12km falls in 10km以上15km未満, not in 2km未満). Table-of-contents lines, template blanks
(「　日」, 「月額　円」), HTML comments, commentary (【解説】, 注記) and Q lines never count as
rule text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# The kind of fact a question asks for. Its question word decides (いくら, 何日, どうなる):
# the first of these that occurs wins, so the narrower forms (何歳, いつまで) come before the
# broader ones (いつ, 何). Only a question without one is read by its nouns (上限, 期間,
# 手続), because a noun also names the topic: 「休職期間が終わったらどうなりますか」 asks what
# happens, not for a number of days.
_ASKING: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("age", re.compile(r"何歳|いくつまで")),
    ("deadline", re.compile(r"いつまで|何日前|何日以内|どのくらいの間|何日後|間に合")),
    ("amount", re.compile(r"いくら|幾ら|何円")),
    ("date", re.compile(r"何日締め|何日払い|何日支払|何日に支給|何日に振")),
    ("days", re.compile(r"何日|何週|何か月|何ヶ月|何カ月")),
    ("time", re.compile(r"何時")),
    ("date", re.compile(r"いつ|何月|何曜")),
    ("procedure", re.compile(r"どうすれば|どうやって|どのように|どうしたら|どうやったら")),
    ("outcome", re.compile(r"どうな[りるっ]|どう扱|どういう扱い")),
    ("who", re.compile(r"誰に|誰が|だれに|どこに(?:相談|連絡|問い合わせ|聞け|出せ|提出)|窓口")),
    ("count", re.compile(r"何回|何人|何年")),
)
_NAMED: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("age", re.compile(r"年齢")),
    ("deadline", re.compile(r"期限|締め?切")),
    ("amount", re.compile(r"金額|上限|限度|補助|割増|率|手当|費用|代は|料金")),
    ("days", re.compile(r"日数|どれくらい|どのくらい|期間")),
    ("time", re.compile(r"時間は|時刻")),
    ("procedure", re.compile(r"手続|方法|申請")),
    ("yesno", re.compile(r"ますか|ですか|られる|れる[?？]|いい[?？]|出る|もらえ|ある[?？]|の[?？]"
                         r"|本当|ほんと")),
)

_FACTS = {
    "amount": re.compile(r"[0-9][0-9,.]*\s*(?:[万千億]\s*)?(?:円|%|％|倍)|実費|都度"),
    "days": re.compile(r"[0-9][0-9.]*\s*(?:日|週間|週|か月|ヶ月|カ月|箇月|年)|前日|翌日"),
    "deadline": re.compile(r"[0-9]+\s*(?:日|週間|か月|ヶ月|カ月|箇月|年)\s*(?:前|以内|後)|前日|末日"
                           r"|までに|以内"),
    "age": re.compile(r"[0-9]+\s*歳"),
    "date": re.compile(r"[0-9]+\s*月|[0-9]+\s*日|末日|曜日?|前日|翌日|毎月"),
    "time": re.compile(r"[0-9]+\s*時|[0-9]+:[0-9]{2}|午前|午後"),
    "count": re.compile(r"[0-9]+\s*(?:回|人|年)"),
    "yesno": re.compile(r"しない|しません|できない|できる|認める|認めない|含む|含まない|限り|限る|のみ"
                        r"|対象とする|対象としない|対象外"
                        r"|無給|有給|支給する|負担|この限りでない|ならない|得る|ことができ"),
    "procedure": re.compile(r"申請|届け?出|提出|手続|承認|許可|振り?込|申し出"),
    "condition": re.compile(r"場合|限り|以上|未満|但し|ただし|認め"),
    # Who decides or answers: a role or a department.
    "who": re.compile(r"責任者|担当者|担当部|部長|課長|上長|所属長|人事|総務|経理|管理者|窓口"),
    # What follows from a case: 「…ときは、満了の日をもって自然退職とする」.
    "outcome": re.compile(r"(?:とき|場合)(?:は|には)、.*(?:とする|となる|みなす|しない|できない)"),
}
_ANY_FACT = re.compile(r"[0-9]")

# Lines that are never the rule: a table-of-contents line (dots then a page number), a
# template blank (full-width space where the number belongs), commentary and notes.
_TOC = re.compile(r"(?:\.{3,}|…{2,}|・{3,}|‥{2,})\s*[0-9]+\s*$")
_BLANK = re.compile(r"(?<![0-9０-９])[　 ]+(?:日|円|か月|ヶ月|時間|歳|分|%|回)(?=$|[、。）)\s]|[をとにのでまは以間与付前後])"
                    r"|月額[　 ]+円|[（(][　 ]+[）)]")
_COMMENTARY = re.compile(r"^(?:【解説】|【注】|注記|注[0-9]*[:：）)]|※|解説[:：]|\[解説\])")
_ANSWER = re.compile(r"^(?:A|Ａ|答|回答)[0-9０-９]*[.．:：]?[ 　]*|^【回答】[ 　]*", re.IGNORECASE)
_QUESTION = re.compile(r"^(?:Q|Ｑ|問)[0-9０-９]*[.．:：　 ]", re.IGNORECASE)
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_TAG = re.compile(r"<[^>]{0,200}>")
_CELL = re.compile(r"<t[dh][^>]*>(.*?)</t[dh]>", re.DOTALL)
_MARKER = re.compile(r"^(?:[0-9０-９]{1,2}[.．)）]|[*・\-+]|[（(][0-9０-９一二三四五六七八九十]+[)）]"
                     r"|[一二三四五六七八九十]{1,3}[ 　]|[①-⑳])[ 　]*")
_ARTICLE_NO = re.compile(r"^#*\s*第[0-9０-９一二三四五六七八九十百]+条(?:の[0-9０-９一二三四五六七八九十]+)?"
                         r"[ 　]*")
# 「第40条　慶弔休暇」, 「### 第3条の2（航空機の利用）」, 「（年次有給休暇）」: a heading, not rule text.
# A caption after the article number may hold a comma (第39条　育児・介護休業、子の看護休暇等).
_ARTICLE_HEAD = re.compile(r"^(?:#*\s*第[0-9０-９一二三四五六七八九十百]+条(?:の[0-9０-９一二三四五六七八九十]+)?"
                           r"[ 　]*[（(]?([^（()）。]{1,24})[）)]?|[（(]?([^（()）。、]{1,24})[）)]?)$")
_CAPTION_ONLY = re.compile(r"^[（(]([^（()）]{1,30})[）)]$")
_KEY_VALUE = re.compile(r"\s*(?:・・・|・{3,}|…+|\.{3,})\s*")

_UNITS = "km|キロ|年|か月|ヶ月|カ月|日|時間|歳|人|泊|週"
_NUMBER = rf"([0-9]+(?:\.[0-9]+)?)\s*({_UNITS})"
_RANGE = re.compile(rf"{_NUMBER}\s*(以上|超|を超え|未満|以下|まで)")
_ASKED_NUMBER = re.compile(rf"{_NUMBER}\s*(を超え|超|未満)?")


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


# Places an employee names and the class a travel rule uses for them.
_PLACE_CLASSES = (
    ("政令指定都市", "札幌 仙台 さいたま 千葉 横浜 川崎 相模原 新潟 静岡 浜松 名古屋 京都 大阪 堺 神戸 "
                "岡山 広島 北九州 福岡 熊本".split()),
    ("東京23区", "千代田 中央区 港区 新宿 文京 台東 墨田 江東 品川 目黒 大田区 世田谷 渋谷 中野 杉並 "
               "豊島 北区 荒川 板橋 練馬 足立 葛飾 江戸川 丸の内 銀座 六本木 池袋 都内".split()),
)


def place_classes(question: str) -> list[str]:
    """「大阪出張」 → ["政令指定都市"]: the class of the places a question names."""
    text = fold(question)
    return [name for name, places in _PLACE_CLASSES if any(p in text for p in places)]


def question_kind(question: str) -> str:
    """amount | days | deadline | age | date | time | count | procedure | outcome | who |
    yesno | what."""
    text = fold(question)
    for kind, pattern in (*_ASKING, *_NAMED):
        if pattern.search(text):
            return kind
    return "what"


def holds_fact(kind: str, text: str) -> bool:
    """Whether ``text`` states a fact of the asked kind (a number for 'what')."""
    pattern = _FACTS.get(kind)
    return bool((pattern or _ANY_FACT).search(fold(text)))


def is_noise(text: str) -> bool:
    """A line that must never be quoted as the rule."""
    line = fold(text).strip()
    return (not line or bool(_TOC.search(line)) or bool(_BLANK.search(text))
            or bool(_COMMENTARY.match(line)) or bool(_QUESTION.match(line)))


@dataclass(frozen=True)
class Line:
    """One line of a clause. ``path``: the items it belongs to, outermost first; ``key`` and
    ``value``: a table row or 「A ・・・ B」 item split in two (else ``key`` is empty)."""

    text: str
    path: tuple[str, ...] = ()
    key: str = ""
    value: str = ""
    index: int = 0


def caption(text: str) -> str:
    """The article's caption from its first line (第40条　慶弔休暇 → 慶弔休暇), or ""."""
    for raw in text.splitlines()[:3]:
        line = fold(raw).strip()
        if (m := _CAPTION_ONLY.match(line)) or _ARTICLE_NO.match(line) and (
                m := _ARTICLE_HEAD.match(line)):
            return (m.group(1) or m.group(2)).strip(" 　")
    return ""


def _indent(raw: str) -> int:
    return len(raw.expandtabs(4)) - len(raw.expandtabs(4).lstrip())


def _clean(text: str) -> str:
    return _TAG.sub("", text).replace("`", "").strip(" 　")


def _rows(text: str) -> list[tuple[int, list[str], bool]]:
    """The text as (indent, cells, is_header) rows: an HTML table row is one row of cells
    (also when a passage boundary cut the table), a Markdown table row too (the row above
    the |---| line is its header), any other line one cell."""
    out: list[tuple[int, list[str], bool]] = []
    pending: list[str] = []
    pending_indent, pending_header, table_start = 0, False, 0
    for raw in _HTML_COMMENT.sub("", text).splitlines():
        cells = _CELL.findall(raw)
        if cells or any(tag in raw for tag in ("<tr", "</tr>", "<table", "</table>")):
            if "<table" in raw:
                table_start = len(out)
            if not pending:
                pending_indent, pending_header = _indent(raw), "<th" in raw
            pending.extend(_clean(c) for c in cells)
            if ("</tr>" in raw or "</table>" in raw) and pending:
                out.append((pending_indent, pending, pending_header))
                pending = []
            if "</table>" in raw:
                _mark_columns(out, table_start)
            continue
        stripped = raw.strip()
        if stripped.startswith("|") and stripped.endswith("|"):
            cells = [_clean(c) for c in stripped.strip("|").split("|")]
            if all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
                if out and len(out[-1][1]) > 1:
                    out[-1] = (out[-1][0], out[-1][1], True)
            else:
                out.append((_indent(raw), cells, False))
            continue
        if stripped:
            out.append((_indent(raw), [stripped], False))
    if pending:
        out.append((pending_indent, pending, pending_header))
    return out


def _mark_columns(rows: list[tuple[int, list[str], bool]], start: int) -> None:
    """A table of rows as wide as each other (3 cells or more): the first row names the
    columns (0.5年 | 1.5年 | … above 10日 | 11日 | …)."""
    table = rows[start:]
    widths = {len(cells) for _, cells, _ in table}
    if len(table) >= 2 and len(widths) == 1 and widths.pop() >= 3 and not table[0][2]:
        rows[start] = (table[0][0], table[0][1], True)


def _column_lines(cells: list[str], names: list[str], path: tuple[str, ...],
                  first: int) -> list[Line]:
    """One line per cell of a row under column names: 「6.5年以上 ・・・ 20日」."""
    label = (cells[0],) if not _ANY_FACT.search(names[0]) and len(cells) == len(names) else ()
    skip = len(label)
    return [Line(f"{name} ・・・ {value}", path + label, name, value, first + i)
            for i, (name, value) in enumerate(zip(names[skip:], cells[skip:], strict=False))
            if value and not is_noise(value)]


def _key_value(body: str, marked: bool) -> tuple[str, str]:
    """「政令指定都市 ・・・ 1泊あたり8,000円」, or an item 「役員　5,000円」 → key and value."""
    parts = _KEY_VALUE.split(body, maxsplit=1)
    if len(parts) == 2 and parts[0] and parts[1]:
        return parts[0], parts[1]
    parts = re.split(r"　+", body, maxsplit=1)
    if marked and len(parts) == 2 and len(parts[0]) <= 20 and _ANY_FACT.search(fold(parts[1])):
        return parts[0], parts[1]
    return "", ""


def clause_lines(text: str) -> list[Line]:
    """The rule lines of a passage with their items, without headings, comments or noise."""
    lines: list[Line] = []
    stack: list[tuple[int, str]] = []  # (indent, item text) of the enclosing items
    header: tuple[str, ...] = ()
    columns: list[str] = []
    intro: tuple[int, str] | None = None
    for indent, cells, is_header in _rows(text):
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = tuple(t for _, t in stack)
        if is_header:
            header, columns = (" / ".join(cells),), cells
            continue
        if len(cells) > 2 and len(cells) == len(columns):
            lines.extend(_column_lines(cells, columns, path, len(lines)))
            continue
        if len(cells) > 1:
            key, value = cells[0], "、".join(c for c in cells[1:] if c)
            if not is_noise(value):
                lines.append(Line(f"{key} ・・・ {value}", path + header, key, value, len(lines)))
            continue
        header, columns = (), []
        line = fold(cells[0])
        if line.startswith("#") or _CAPTION_ONLY.match(line) or is_noise(cells[0]) or (
                _ARTICLE_NO.match(line) and _ARTICLE_HEAD.match(line)):
            continue
        raw = _ANSWER.sub("", _clean(_ARTICLE_NO.sub("", cells[0].strip(), count=1)), count=1)
        marked = bool(_MARKER.match(raw))
        body = _MARKER.sub("", raw, count=1)
        if not body:
            continue
        if marked and intro and intro[0] >= indent:
            path = (*path, intro[1])  # 「次の額を支給する。」 above unindented items 一　役員　5,000円
        elif not marked:
            intro = (indent, body) if body.endswith("。") and "次" in body else None
        key, value = _key_value(body, marked)
        lines.append(Line(body, path, key, value, len(lines)))
        stack.append((indent, body))
    return lines


def _ranges(text: str) -> list[tuple[float, str, str]]:
    return [(float(m.group(1)), _unit(m.group(2)), m.group(3)) for m in _RANGE.finditer(fold(text))]


def _unit(unit: str) -> str:
    return {"キロ": "km", "ヶ月": "か月", "カ月": "か月"}.get(unit, unit)


def asked_numbers(question: str) -> list[tuple[float, str]]:
    """The numbers with units in the question (片道12km → (12, km); 勤続7年目 → (7, 年)); a
    number said to be exceeded (60時間を超えた) is just above it, one not reached just below."""
    shift = {"を超え": 0.01, "超": 0.01, "未満": -0.01}
    return [(float(m.group(1)) + shift.get(m.group(3) or "", 0.0), _unit(m.group(2)))
            for m in _ASKED_NUMBER.finditer(fold(question))]


_INCLUSIVE = frozenset({"以上", "以下", "まで"})


def range_fit(asked: list[tuple[float, str]], text: str) -> int:
    """+1 when a number of the question falls within the ranges the line states for its
    unit, -1 when the line states ranges for that unit and the number is outside them,
    0 when the line says nothing about it."""
    bounds = _ranges(text)
    result = 0
    for number, unit in asked:
        mine = [(value, op) for value, u, op in bounds if u == unit]
        if not mine:
            continue
        # A line naming the question's own number as an inclusive bound (年5日 → 「5日以上
        # 取得しなければならない」) holds it even when it states other bounds too.
        named = any(abs(value - number) < 1e-9 and op in _INCLUSIVE for value, op in mine)
        inside = named or all(_within(number, value, op) for value, op in mine)
        result = 1 if inside else -1
        if inside:
            break
    return result


def _within(number: float, bound: float, op: str) -> bool:
    if op == "以上":
        return number >= bound
    if op in ("超", "を超え"):
        return number > bound
    if op == "未満":
        return number < bound
    return number <= bound  # 以下, まで
