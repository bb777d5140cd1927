"""Validate the shipped synonym dictionary ``synonyms.tsv``.

Plain script, no project imports:

    python src/ushiro/knowledge/data/check_synonyms.py [path/to/synonyms.tsv]

Checks the format (UTF-8 without BOM, header, four tab-separated non-empty
fields, ``|``-separated variants, known domain), duplicates (canonical terms,
(canonical, variant) pairs, also after NFKC + casefold), that no variant equals
its canonical, minimum counts, that the required examples are present and that no
known false friend is listed (FALSE_FRIENDS).
Prints counts per domain.  Exits 1 when anything is wrong.
"""

from __future__ import annotations

import sys
import unicodedata
from collections import Counter
from pathlib import Path

HEADER = ["canonical", "variants", "domain", "note"]
DOMAINS = [
    "人事",
    "労務",
    "給与",
    "社会保険",
    "経理",
    "税務",
    "旅費",
    "総務",
    "法務",
    "情報システム",
    "一般",
]
MIN_CANONICALS = 400
MIN_VARIANTS = 1200

# canonical -> variants that must be listed under it.
REQUIRED: dict[str, list[str]] = {
    "年次有給休暇": ["有給", "有休", "年休", "有給休暇", "年次休暇", "有給休み"],
    "時間外労働": ["残業", "時間外", "残業時間", "オーバータイム"],
    "賞与": ["ボーナス", "一時金", "夏季賞与", "冬季賞与"],
    "賃金": ["給料", "給与", "給与支給", "サラリー"],
    "産前産後休業": ["産休"],
    "育児休業": ["育休", "育児休暇"],
    "慶弔休暇": ["忌引", "忌引き", "忌引休暇", "特別休暇(慶弔)"],
    "通勤手当": ["交通費(通勤)", "定期代", "通勤費", "交通費"],
    "旅費": ["出張旅費", "出張費", "交通費(出張)", "交通費"],
    "振込": ["振り込み"],
    "申込": ["申し込み"],
    "取扱": ["取り扱い"],
    "領収書": ["レシート"],
    "適格請求書": ["インボイス"],
    "タクシー料金": ["タクシー代"],
    "健康保険": ["健保"],
    "厚生年金保険": ["厚年"],
    "雇用保険": ["雇保"],
    "労働者災害補償保険": ["労災"],
    "源泉徴収": ["源泉"],
    "年末調整": ["年調"],
    "マイナンバー": ["マイナ"],
    "住所変更届": ["住所変更"],
    "休暇": ["休み"],
    "遅刻・早退": ["遅刻", "早退"],
    "パソコン": ["PC"],
    "パスワード再発行": ["パスワード忘れ"],
    "精算": ["清算"],
    "有料特急": ["新幹線"],
    "書籍": ["本代", "本を買う"],
    "時間外労働手当": ["残業代"],
    "賃金支払日": ["給料日", "支払日"],
    "退職": ["辞める"],
    "社内行事": ["忘年会", "新年会", "飲み会"],
}

# (canonical, variant) pairs that must NOT be listed: words that look alike but name
# something else, so that listing them would send a question to the wrong clause.
FALSE_FRIENDS: list[tuple[str, str]] = [
    ("懇親会", "忘年会"), ("懇親会", "新年会"), ("懇親会", "飲み会"), ("懇親会", "打ち上げ"),
    ("懇親会", "歓送迎会"), ("懇親会", "送別会"), ("懇親会", "歓迎会"),
    ("単身赴任", "単身"),      # 単身者 (single people) is not 単身赴任
    ("賃金控除", "控除"),      # 所得控除, 基礎控除 are tax deductions
    ("私用外出", "外出"),      # business trips out of the office
    ("提出期限", "期限"), ("不課税", "対象外"), ("非課税取引", "非課税"),
    ("父母", "親"),            # Sudachi cuts 親会社 as 親/会社
    ("書籍", "本"),            # 本規程, 本人, 本社
]


def norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def has_control(text: str) -> bool:
    return any(unicodedata.category(ch) == "Cc" for ch in text)


def pad(text: str, width: int) -> str:
    """Left-justify ``text`` to ``width`` terminal columns (CJK counts as 2)."""
    cols = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(width - cols, 0)


def out(line: str = "") -> None:
    sys.stdout.write(line + "\n")


def check(path: Path) -> int:
    errors: list[str] = []

    def err(lineno: int, msg: str) -> None:
        errors.append(f"{path.name}:{lineno}: {msg}")

    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        err(1, "file starts with a UTF-8 BOM")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        out(f"{path}: not valid UTF-8: {exc}")
        return 1
    if "\r" in text:
        err(0, "file contains CR characters (use LF line endings)")
    if not text.endswith("\n"):
        err(0, "file does not end with a newline")

    lines = text.lstrip("\ufeff").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines or lines[0].split("\t") != HEADER:
        err(1, "header must be: " + "<TAB>".join(HEADER))

    rows: dict[str, set[str]] = {}
    per_domain_canon: Counter[str] = Counter()
    per_domain_var: Counter[str] = Counter()
    variant_owners: dict[str, set[str]] = {}
    canon_norm: dict[str, int] = {}

    for lineno, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != 4:
            err(lineno, f"expected 4 tab-separated fields, got {len(fields)}")
            continue
        canonical, variants_field, domain, _note = fields
        for name, value in zip(HEADER, fields, strict=True):
            if not value.strip():
                err(lineno, f"empty field {name!r}")
            elif value != value.strip():
                err(lineno, f"leading/trailing whitespace in {name!r}")
            if has_control(value):
                err(lineno, f"control character in {name!r}")
        if domain not in DOMAINS:
            err(lineno, f"unknown domain {domain!r}")
        if "|" in canonical:
            err(lineno, f"canonical {canonical!r} contains '|'")

        key = norm(canonical)
        if key in canon_norm:
            err(lineno, f"canonical {canonical!r} duplicates line {canon_norm[key]}")
            continue
        canon_norm[key] = lineno

        variants = variants_field.split("|")
        seen: set[str] = set()
        kept: set[str] = set()
        for variant in variants:
            if not variant.strip():
                err(lineno, f"empty variant in {canonical!r}")
                continue
            if variant != variant.strip():
                err(lineno, f"whitespace around variant {variant!r}")
            vkey = norm(variant)
            if vkey == key:
                err(lineno, f"variant {variant!r} equals its canonical {canonical!r}")
                continue
            if vkey in seen:
                err(lineno, f"duplicate (canonical, variant) pair ({canonical!r}, {variant!r})")
                continue
            seen.add(vkey)
            kept.add(variant)
            variant_owners.setdefault(vkey, set()).add(canonical)

        rows[canonical] = kept
        per_domain_canon[domain] += 1
        per_domain_var[domain] += len(kept)

    for canonical, needed in REQUIRED.items():
        if canonical not in rows:
            errors.append(f"required canonical {canonical!r} is missing")
            continue
        missing = [v for v in needed if v not in rows[canonical]]
        if missing:
            errors.append(f"required variants missing under {canonical!r}: {missing}")

    for canonical, variant in FALSE_FRIENDS:
        if variant in rows.get(canonical, set()):
            errors.append(f"false friend listed: {variant!r} under {canonical!r}")

    n_canon = sum(per_domain_canon.values())
    n_var = sum(per_domain_var.values())
    if n_canon < MIN_CANONICALS:
        errors.append(f"only {n_canon} canonical terms (need >= {MIN_CANONICALS})")
    if n_var < MIN_VARIANTS:
        errors.append(f"only {n_var} variants (need >= {MIN_VARIANTS})")

    out(f"{pad('domain', 14)}{'canonical':>10}{'variants':>10}")
    for domain in DOMAINS:
        out(f"{pad(domain, 14)}{per_domain_canon[domain]:>10}{per_domain_var[domain]:>10}")
    out(f"{pad('total', 14)}{n_canon:>10}{n_var:>10}")
    shared = sum(1 for owners in variant_owners.values() if len(owners) > 1)
    variant_is_canon = sum(1 for v in variant_owners if v in canon_norm)
    out(f"variants listed under 2+ canonicals (ambiguous, expand to all): {shared}")
    out(f"variants that are also a canonical term: {variant_is_canon}")

    if errors:
        out(f"\n{len(errors)} problem(s):")
        for e in errors:
            out(f"  {e}")
        return 1
    out("OK")
    return 0


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else Path(__file__).with_name("synonyms.tsv")
    return check(path)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
