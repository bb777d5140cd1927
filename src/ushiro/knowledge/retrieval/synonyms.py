"""The shipped synonym list that seeds each tenant's editable synonym table.

``data/synonyms.tsv``: a header ``canonical<TAB>variants<TAB>domain<TAB>note``, then one
canonical term per line with its variants separated by ``|``. Blank lines and lines
starting with ``#`` are skipped; a damaged line is skipped rather than failing ingest or
search. Without the file, a small built-in list keeps the common HR and expense terms.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib import resources

from ushiro.core.text import fold

log = logging.getLogger(__name__)

FALLBACK = """canonical\tvariants\tdomain\tnote
年次有給休暇\t有給|有休|有給休暇|年休|年次休暇\t人事\t
時間外労働\t残業|時間外勤務\t人事\t
休日労働\t休日出勤\t人事\t
賞与\tボーナス\t人事\t
慶弔休暇\t忌引|忌引き|忌引休暇\t人事\t
育児休業\t育休\t人事\t
通勤手当\t交通費|通勤費\t人事\t交通費は旅費にもなる
旅費\t交通費|出張費\t経理\t
日当\t出張手当\t経理\t
宿泊費\tホテル代|宿泊代\t経理\t
経費精算\t立替精算|経費申請\t経理\t
領収書\tレシート\t経理\t
"""


def parse(text: str) -> list[tuple[str, str]]:
    """(canonical, variant) pairs; a canonical with no variants pairs with itself."""
    pairs: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        fields = [field.strip() for field in line.lstrip("\ufeff").split("\t")]
        if not fields[0] or fields[0].startswith("#"):
            continue
        if number == 1 and fold(fields[0]) == "canonical":
            continue
        canonical = fields[0]
        if len(canonical) > 100:
            log.warning("synonyms line %d skipped: canonical term too long", number)
            continue
        variants = [v.strip() for v in fields[1].split("|")] if len(fields) > 1 else []
        for variant in [canonical, *variants]:
            pair = (canonical, variant)
            if variant and len(variant) <= 100 and pair not in seen:
                seen.add(pair)
                pairs.append(pair)
    return pairs


@cache
def default_pairs() -> tuple[tuple[str, str], ...]:
    """The shipped list, or the built-in fallback when the file is missing or unreadable."""
    try:
        text = resources.files("ushiro.knowledge").joinpath("data/synonyms.tsv").read_text(
            "utf-8")
        pairs = parse(text)
    except (OSError, UnicodeDecodeError) as exc:
        log.info("shipped synonyms not available (%s); using the built-in list", exc)
        pairs = []
    return tuple(pairs or parse(FALLBACK))
