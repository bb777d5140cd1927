"""The shipped synonym list, a tenant's effective set and the analysers shared between sets.

The shipped list is read from the package once per process and never copied into the
database: a tenant stores only its own changes to it in ``kb_synonyms`` (``op`` ``add``: a
pair the list lacks, ``remove``: a shipped pair the tenant took out). Its effective set is
shipped ∪ added − removed, named by a digest (sha256 of the sorted pairs); every tenant with
the same set shares one :class:`Analyzer` (its synonym tables were two thirds of a cached
index's memory when each tenant built its own).

``data/synonyms.tsv``: a header ``canonical<TAB>variants<TAB>domain<TAB>note``, then one
canonical term per line with its variants separated by ``|``. Blank lines and lines
starting with ``#`` are skipped; a damaged line is skipped rather than failing ingest or
search. Without the file, a small built-in list keeps the common HR and expense terms.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from ushiro.core.text import fold
from ushiro.knowledge.retrieval.tokenize import Analyzer

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


ADD, REMOVE = "add", "remove"  # kb_synonyms.op
Pair = tuple[str, str]


@dataclass(frozen=True)
class SynonymSet:
    """A tenant's effective synonyms: the pairs (shipped order, then its additions) and the
    digest that names the set (equal sets, equal digests, one shared analyser)."""

    pairs: tuple[Pair, ...]
    digest: str


def digest_of(pairs: Iterable[Pair]) -> str:
    return hashlib.sha256(json.dumps(sorted(set(pairs)), ensure_ascii=False).encode()).hexdigest()


_shipped: list[SynonymSet] = []  # [the shipped set] once read


def shipped() -> SynonymSet:
    """The shipped list as a set: what a tenant without changes of its own uses. Read on
    every index build and knowledge write, so its digest is kept with the list it names."""
    pairs = default_pairs()
    found = _shipped[0] if _shipped else None
    if found is None or found.pairs is not pairs:
        found = SynonymSet(tuple(pairs), digest_of(pairs))
        _shipped[:] = [found]
    return found


def effective(changes: Iterable[tuple[str, str, str]]) -> SynonymSet:
    """shipped ∪ added − removed, from a tenant's ``(canonical, variant, op)`` rows."""
    base = shipped()
    added: list[Pair] = []
    removed: set[Pair] = set()
    for canonical, variant, op in changes:
        (removed.add if op == REMOVE else added.append)((canonical, variant))
    if not added and not removed:
        return base
    known = set(base.pairs)
    pairs = tuple([p for p in base.pairs if p not in removed]
                  + [p for p in dict.fromkeys(added) if p not in known and p not in removed])
    return SynonymSet(pairs, digest_of(pairs))


def changes_between(pairs: Iterable[Pair]) -> tuple[list[Pair], list[Pair]]:
    """(additions, removals) that make the shipped list into ``pairs``."""
    wanted = list(dict.fromkeys(pairs))
    base = shipped().pairs
    known, kept = set(base), set(wanted)
    return [p for p in wanted if p not in known], [p for p in base if p not in kept]


# Analysers by digest: weak references, so an analyser lives as long as an index (of any
# tenant) holds it, plus the few most recently asked for held strongly, so that the shipped
# set's analyser and those of ingest and edits are not rebuilt for every call.
RECENT_ANALYZERS = 8
_analyzers: weakref.WeakValueDictionary[str, Analyzer] = weakref.WeakValueDictionary()
_recent: OrderedDict[str, Analyzer] = OrderedDict()
_analyzers_lock = threading.Lock()


def analyzer_for(synonyms: SynonymSet) -> Analyzer:
    """The process's one analyser of this set (built on first use)."""
    with _analyzers_lock:
        found = _analyzers.get(synonyms.digest)
        if found is None:
            found = Analyzer(synonyms.pairs)
            _analyzers[synonyms.digest] = found
        _recent[synonyms.digest] = found
        _recent.move_to_end(synonyms.digest)
        while len(_recent) > RECENT_ANALYZERS:
            _recent.popitem(last=False)
    return found
