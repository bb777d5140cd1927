"""Personal data out of text before it leaves the desk; back in for the operator.

:func:`mask` replaces personal data with numbered placeholders (``[氏名1]``,
``[電話番号1]``, ``[口座番号1]``, ``[マイナンバー1]``, ``[住所1]``, ``[生年月日1]``,
``[メール1]``) and returns the mapping; :func:`unmask` puts the values back. The same value
(after normalising digits, separators and spaces) always gets the same placeholder, so a
model still sees that two mentions are one person. A :class:`Masker` keeps one mapping
over several texts (a question and its passages).

Detection runs on a *folded view* of the text that has the same length as the text
(full-width digits, letters and spaces → ASCII, hyphen look-alikes → ``-``, a few name
variant kanji → their common form), so every match maps back to the exact original span.
Matches are claimed in priority order (mail addresses first, names last); a span that
overlaps one already claimed is dropped.

What counts as personal data, and why the cues:

* マイナンバー: 12 digits (or 4-4-4) with a valid check digit (総務省令第85号 第5条), or
  any 12 digits next to マイナンバー/個人番号. About 10 % of random 12-digit numbers pass the
  check, so amounts (円, ¥, 金額) and business numbers (注文番号 …) veto the check-only path.
* 電話番号: separated Japanese numbers (03-1234-5678, 090-1234-5678, 03(1234)5678,
  +81 90 1234 5678) of 10 or 11 digits; unseparated ones only for mobiles (0X0 + 8 digits)
  or next to 電話/TEL/携帯/連絡先, because a bare 10-digit number is usually something else.
* 口座番号: 7 digits after 口座/普通/当座/支店/銀行…; ゆうちょ 記号・番号; the 口座名義
  (as 氏名).
* 住所: 〒 + postcode (with the address after it); prefecture + city + 丁目/番地/1-2-3;
  city/ward + town + 丁目/番地/1-2-3. A city alone (東京都千代田区, 東京23区) is not masked.
* 生年月日: dates (西暦 or 昭和/平成/令和) next to 生年月日/誕生日/生まれ only; other
  dates (施行日, 支払期日) are business data.
* 氏名: the tenant's users, with or without the space between family and given name;
  the family name alone before さん/様/殿/氏 when only one user has that family name.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

NAME = "氏名"
PHONE = "電話番号"
ACCOUNT = "口座番号"
MY_NUMBER = "マイナンバー"
ADDRESS = "住所"
BIRTH_DATE = "生年月日"
EMAIL = "メール"
LABELS = (NAME, PHONE, ACCOUNT, MY_NUMBER, ADDRESS, BIRTH_DATE, EMAIL)

Finder = Callable[[str], Iterable[tuple[int, int]]]

PLACEHOLDER = re.compile(r"[\[［]\s*(" + "|".join(LABELS) + r")\s*([0-9０-９]{1,4})\s*[\]］]")

# --- the folded view -------------------------------------------------------------------

_VARIANTS = {"髙": "高", "﨑": "崎", "嵜": "崎", "邊": "辺", "邉": "辺", "齋": "斉", "齊": "斉",
             "斎": "斉", "濵": "浜", "濱": "浜", "澤": "沢", "櫻": "桜", "嶋": "島", "嶌": "島",
             "廣": "広", "德": "徳", "槇": "槙", "籠": "篭", "冨": "富", "眞": "真", "國": "国"}
_FOLD = {**{code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)},
         0x3000: 0x20, 0x00A0: 0x20, **dict.fromkeys(map(ord, "‐‑‒–—―−﹣"), ord("-")),
         **{ord(k): ord(v) for k, v in _VARIANTS.items()}}
_LONG_VOWEL_DASH = re.compile(r"(?<=\d)[ーｰ](?=\d)")  # 090ー1234ー5678 typed with the kana key


def fold_view(text: str) -> str:
    """A same-length comparison form of ``text`` (see the module docstring)."""
    view = _LONG_VOWEL_DASH.sub("-", text.translate(_FOLD))
    assert len(view) == len(text)
    return view


def _key(label: str, value: str) -> str:
    """The identity of a value: spaces and separators do not make a different value, and
    +81 90… is the same telephone as 090…."""
    key = re.sub(r"[\s\-()（）.・/]", "", unicodedata.normalize("NFKC", fold_view(value))).casefold()
    if label == PHONE and key.startswith("+81"):
        key = "0" + key[3:].removeprefix("0")
    return key


# --- マイナンバー -----------------------------------------------------------------------

def my_number_valid(digits: str) -> bool:
    """The check digit rule of 総務省令第85号 第5条 (12 ASCII or full-width digits)."""
    digits = re.sub(r"\D", "", fold_view(digits))
    if len(digits) != 12:
        return False
    weights = (6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
    remainder = sum(int(d) * w for d, w in zip(digits[:11], weights, strict=True)) % 11
    return int(digits[11]) == (0 if remainder <= 1 else 11 - remainder)


_MY_NUMBER = re.compile(r"(?<![0-9A-Za-z])(?<![0-9][- ])\d{4}[- ]?\d{4}[- ]?\d{4}(?![0-9])(?![- ]\d)")
_MY_NUMBER_CUE = re.compile(r"マイナンバー|個人番号|mynumber|my number")
_NOT_PERSONAL_NUMBER = re.compile(
    r"[¥￥$]|円|金額|合計|請求|税込|税抜|小計|注文番号|伝票番号|受付番号|管理番号|お問い合わせ番号"
    r"|問合せ番号|発注番号|契約番号|法人番号|登録番号|製造番号|品番|型番|jan")


def _window(view: str, start: int, end: int, before: int, after: int) -> tuple[str, str]:
    """The folded text just before and after a match, on the same line."""
    head = view[max(0, start - before):start].rsplit("\n", 1)[-1]
    tail = view[end:end + after].split("\n", 1)[0]
    norm = unicodedata.normalize
    return norm("NFKC", head).casefold(), norm("NFKC", tail).casefold()


def _my_numbers(view: str) -> Iterator[tuple[int, int]]:
    for m in _MY_NUMBER.finditer(view):
        head, tail = _window(view, m.start(), m.end(), 20, 12)
        if _MY_NUMBER_CUE.search(head) or _MY_NUMBER_CUE.search(tail):
            yield m.span()
        elif my_number_valid(m.group()) and not (
                _NOT_PERSONAL_NUMBER.search(head[-8:]) or re.match(r"\s?(円|万|千|[¥￥])", tail)):
            yield m.span()


# --- 電話番号 ---------------------------------------------------------------------------

_PHONE = re.compile(
    r"(?<![0-9+\-])(?:\+81[- ]?(?:\(0\)[- ]?)?\d{1,4}|\(0\d{1,4}\)|0\d{0,4})"
    r"[- ]?\(?\d{1,4}\)?[- ]?\d{3,4}"
    r"(?![0-9])(?!-\d)")
_PHONE_CUE = re.compile(r"電話|tel|携帯|連絡先|fax|ファックス|ファクス|☎")


def _phones(view: str) -> Iterator[tuple[int, int]]:
    for m in _PHONE.finditer(view):
        text = m.group()
        digits = re.sub(r"\D", "", text)
        if text.startswith("+81"):
            national = digits[2:]
            if 9 <= len(national) <= 10 and re.search(r"[- ()]", text[3:]):
                yield m.span()
            continue
        if len(digits) not in (10, 11) or not digits.startswith("0"):
            continue
        separated = bool(re.search(r"[- ()]", text))
        mobile = len(digits) == 11 and digits[:3] in ("050", "070", "080", "090", "020")
        head, _ = _window(view, m.start(), m.end(), 12, 0)
        if separated or mobile or _PHONE_CUE.search(head):
            yield m.span()


# --- メール -----------------------------------------------------------------------------

_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*"
                    r"\.[A-Za-z]{2,}")


def _emails(view: str) -> Iterator[tuple[int, int]]:
    for m in _EMAIL.finditer(view):
        yield m.span()


# --- 口座番号 ---------------------------------------------------------------------------

_ACCOUNT = re.compile(
    r"(?:口座番号|口座|普通預金|普通|当座預金|当座|貯蓄預金|貯蓄|総合口座|支店|出張所|銀行|信用金庫|信金"
    r"|信用組合|労働金庫|\((?:普|当)\))[^\d\n。]{0,10}?(?<![0-9])(\d{7})(?![0-9])(?!\s?(?:円|万|件|人|個|時間))")
_YUCHO = re.compile(r"記号\s?[:：]?\s?(1\d{4}(?:-\d)?)\s?[-、,]?\s?番号\s?[:：]?\s?(\d{6,8})(?![0-9])")
_YUCHO_DASHED = re.compile(r"(?<![0-9\-])1\d{4}-\d{6,8}(?![0-9\-])")
# 口座名義：ヤマダ タロウ / 名義人 山田太郎 (a separator after 名義, so 名義変更 is not a name)
_HOLDER = re.compile(
    r"(?:口座名義人?|名義人?)(?:\s?[:：]\s?|\s|は\s?)"
    r"([ァ-ヶーｦ-ﾟ]+(?:[ ][ァ-ヶーｦ-ﾟ]+)?|[一-龥々]{1,5}(?:[ ][一-龥々]{1,5})?)")


def _accounts(view: str) -> Iterator[tuple[int, int]]:
    for m in _ACCOUNT.finditer(view):
        yield m.span(1)
    for m in _YUCHO.finditer(view):
        yield m.start(1), m.end(2)
    for m in _YUCHO_DASHED.finditer(view):
        head, _ = _window(view, m.start(), m.end(), 20, 0)
        if "ゆうちょ" in head or "郵便貯金" in head:
            yield m.span()


def _holders(view: str) -> Iterator[tuple[int, int]]:
    for m in _HOLDER.finditer(view):
        yield m.span(1)


# --- 住所 -------------------------------------------------------------------------------

PREFECTURES = (
    "北海道 青森県 岩手県 宮城県 秋田県 山形県 福島県 茨城県 栃木県 群馬県 埼玉県 千葉県 東京都 "
    "神奈川県 新潟県 富山県 石川県 福井県 山梨県 長野県 岐阜県 静岡県 愛知県 三重県 滋賀県 京都府 "
    "大阪府 兵庫県 奈良県 和歌山県 鳥取県 島根県 岡山県 広島県 山口県 徳島県 香川県 愛媛県 高知県 "
    "福岡県 佐賀県 長崎県 熊本県 大分県 宮崎県 鹿児島県 沖縄県").split()
_KANJI_NUM = "〇一二三四五六七八九十百千"
_N = rf"(?:\d{{1,5}}|[{_KANJI_NUM}]{{1,5}})"
# 1丁目2番3号, 1-2-3, 123番地の4, 二丁目5番, 北1条西2丁目: a number, then 丁目/番地/番/号/-.
_BLOCK = rf"{_N}(?:\s?(?:丁目|番地の?|番|号|-|条[東西南北]?){_N}?){{1,4}}(?:号室?)?"
_WORD = r"[一-龥々〆ヶケァ-ヶー]"
_CITY = rf"(?:{_WORD}{{1,7}}|さいたま|つくば|いわき|ひたちなか|かすみがうら|つくばみらい|みどり|あさぎり)(?:市|区|町|村|郡)"
_TOWN = rf"(?:{_WORD}[一-龥々〆ヶケぁ-んァ-ヶー]{{0,10}}?)?"
_BUILDING = (r"(?:[ ]?[ぁ-んァ-ヶー一-龥A-Za-z]{0,15}(?:ビル|ハイツ|マンション|荘|コーポ|レジデンス|タワー"
             r"|ハウス|アパート|メゾン|パレス|ヒルズ|コート|プラザ|館|寮)[ァ-ヶー一-龥A-Za-z]{0,6}"
             r"(?:[ ]?[A-Z]?\d{1,4}(?:号室|号|階|F)?)?|[ ]?\d{1,4}(?:号室|階|F))?")
_ADDRESS_TAIL = rf"(?:{_CITY}){{1,3}}{_TOWN}{_BLOCK}{_BUILDING}"
_POSTAL = re.compile(
    rf"(?:〒|郵便番号\s?[:：]?)\s?\d{{3}}-?\d{{4}}(?![0-9])"
    rf"(?:\s?(?:{'|'.join(PREFECTURES)})?\s?(?:{_CITY}){{1,3}}(?:{_TOWN}{_BLOCK}{_BUILDING})?)?")
_WITH_PREFECTURE = re.compile(rf"(?:{'|'.join(PREFECTURES)})\s?{_ADDRESS_TAIL}")
_WITHOUT_PREFECTURE = re.compile(_ADDRESS_TAIL)


def _postal(view: str) -> Iterator[tuple[int, int]]:
    for m in _POSTAL.finditer(view):
        yield m.span()


def _with_prefecture(view: str) -> Iterator[tuple[int, int]]:
    for m in _WITH_PREFECTURE.finditer(view):
        yield m.span()


def _without_prefecture(view: str) -> Iterator[tuple[int, int]]:
    for m in _WITHOUT_PREFECTURE.finditer(view):
        yield m.span()


# --- 生年月日 ---------------------------------------------------------------------------

_KN = rf"(?:\d{{1,2}}|[{_KANJI_NUM}]{{1,3}})"
_DATE = re.compile(
    rf"(?<![0-9])(?:(?:19|20)\d{{2}}|(?:明治|大正|昭和|平成|令和|[MTSHR]\.?)\s?(?:{_KN}|元))"
    rf"(?:\s?年\s?{_KN}\s?月\s?{_KN}\s?日|[/.\-]\d{{1,2}}[/.\-]\d{{1,2}}(?![0-9]))")
_BIRTH_BEFORE = re.compile(r"生年月日|誕生日|生まれ|出生|birth|dob")
_BIRTH_AFTER = re.compile(r"^\s?[(（]?\s?(?:生まれ|生|産まれ|出生)")


def _birth_dates(view: str) -> Iterator[tuple[int, int]]:
    for m in _DATE.finditer(view):
        head, tail = _window(view, m.start(), m.end(), 15, 6)
        if _BIRTH_BEFORE.search(head) or _BIRTH_AFTER.search(tail):
            yield m.span()


# --- 氏名 -------------------------------------------------------------------------------

_HONORIFIC = r"(?=\s?(?:さん|様|さま|殿|氏|くん|君))"
# A family name alone must not be the end of a longer one (小山田さん is not 山田さん), but
# may follow a particle or a department (総務部の山田さん, 経理課山田様).
_FAMILY_START = r"(?:(?<![一-龥々ァ-ヶーA-Za-z])|(?<=[部課係室班所店]))"


def _name_patterns(names: Iterable[str]) -> list[re.Pattern[str]]:
    """Full names with or without the space; family name + honorific when unambiguous."""
    full: set[tuple[str, ...]] = set()
    families: dict[str, set[tuple[str, ...]]] = {}
    for name in names:
        parts = tuple(fold_view(name).split())
        if not parts or len("".join(parts)) < 2:
            continue
        full.add(parts)
        if len(parts) >= 2:
            families.setdefault(parts[0], set()).add(parts)
    patterns = [re.compile(r"(?<![A-Za-z])" + r"\s?".join(map(re.escape, parts)), re.IGNORECASE)
                for parts in sorted(full, key=lambda p: -len("".join(p)))]
    patterns += [re.compile(_FAMILY_START + re.escape(family) + _HONORIFIC, re.IGNORECASE)
                 for family, people in sorted(families.items()) if len(people) == 1]
    return patterns


def _finder(pattern: re.Pattern[str]) -> Finder:
    def find(view: str) -> Iterator[tuple[int, int]]:
        for m in pattern.finditer(view):
            yield m.span()

    return find


# --- claiming spans and numbering -----------------------------------------------------

_FINDERS: tuple[tuple[str, Finder], ...] = (
    (EMAIL, _emails), (MY_NUMBER, _my_numbers), (PHONE, _phones), (ACCOUNT, _accounts),
    (ADDRESS, _postal), (ADDRESS, _with_prefecture), (BIRTH_DATE, _birth_dates),
    (ADDRESS, _without_prefecture), (NAME, _holders),
)


@dataclass(frozen=True)
class Masked:
    text: str
    mapping: dict[str, str]  # placeholder → the original text it replaced


@dataclass
class Masker:
    """Masks several texts with one numbering: the same value → the same placeholder."""

    names: Sequence[str] = ()
    mapping: dict[str, str] = field(default_factory=dict)
    _by_key: dict[tuple[str, str], str] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._names = [(NAME, _finder(p)) for p in _name_patterns(self.names)]

    def spans(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, label) of the personal data in ``text``, in text order."""
        view = fold_view(text)
        found: list[tuple[int, int, str]] = []
        for label, finder in (*_FINDERS, *self._names):
            for start, end in finder(view):
                start, end = _trim(text, start, end)
                if end > start and not any(s < end and start < e for s, e, _ in found):
                    found.append((start, end, label))
        return sorted(found)

    def mask(self, text: str) -> str:
        out: list[str] = []
        last = 0
        for start, end, label in self.spans(text):
            out.append(text[last:start])
            out.append(self._placeholder(label, text[start:end]))
            last = end
        out.append(text[last:])
        return "".join(out)

    def _placeholder(self, label: str, value: str) -> str:
        key = (label, _key(label, value))
        placeholder = self._by_key.get(key)
        if placeholder is None:
            self._counts[label] = self._counts.get(label, 0) + 1
            placeholder = f"[{label}{self._counts[label]}]"
            self._by_key[key] = placeholder
            self.mapping[placeholder] = value
        return placeholder


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def mask(text: str, *, names: Sequence[str] = ()) -> Masked:
    """``text`` with its personal data replaced by placeholders, and the mapping back."""
    masker = Masker(names)
    return Masked(masker.mask(text), dict(masker.mapping))


def unmask(text: str, mapping: dict[str, str]) -> str:
    """Placeholders in ``text`` (also written ［氏名１］ or [ 氏名1 ]) → the original values.
    Placeholders not in the mapping are left as they are."""

    def restore(m: re.Match[str]) -> str:
        number = unicodedata.normalize("NFKC", m.group(2))
        return mapping.get(f"[{m.group(1)}{number}]", m.group())

    return PLACEHOLDER.sub(restore, text)
