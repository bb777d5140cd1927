"""The request index behind recurrence: the words of a request and one BM25 index of a
tenant's recent requests per process (see the package docstring for the rules)."""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from ushiro import desk as desk_queries
from ushiro.core.clock import as_utc, now
from ushiro.core.runtime import Runtime
from ushiro.knowledge import Analyzer, IndexCache, analyzer_for, synonym_state

SIMILAR = 0.35
FAQ_MATCH = 0.35
WINDOW_DAYS = 90
RECENT_DAYS = 30
MIN_CLUSTER = 3
SHOWN = 10  # similar requests listed on the request page
MAX_CHECKED = 500  # most similar requests checked for visibility and counted
FAQ_K = 10
MAX_BODY_CHARS = 2000
K1, B = 1.2, 0.75
MIN_DOCS = 100  # see _Base.idf
MAX_EXTRA = 500  # requests scored one by one before the index is rebuilt

_COURTESY = [re.compile(p) for p in (
    r"^.{0,30}(ご担当者?様|担当者各位|の皆さま|の皆様|皆さま|皆様|各位|御中)$",
    r"(いつも)?お疲れ(さま|様)です。?",
    r"(いつも)?お世話になって(おり|い)ます。?",
    r"^[^。、\s]{0,20}(部|課|室|センター|グループ|チーム|支店|営業所)\s*の?\s*"
    r"[^。、\s]{1,10}(です|と申します)。",
    r"(どうぞ|引き続き)?よろしくお願い(いた|致)?します。?",
    r"^(以上|取り急ぎ|お忙しいところ恐れ入りますが|ご確認のほど|お手数ですが)[、。,]?$",
)]
_TITLE_NOISE = re.compile(r"^\s*(?:(?:re|fw|fwd)\s*[:：]\s*|【[^】]{1,10}】\s*)+", re.I)
_QUOTE_START = re.compile(r"^-{3,}\s*(original message|元のメッセージ)", re.I)
_SENTENCE_END = ("。", "？", "?", "！", "!", "）", ")")
_QA_SECTION = re.compile(r"^(?:問|Q)[0-9]*(?:\s|$)")
_FAQ_TITLE = re.compile(r"FAQ|Q&A|Q＆A|よくある(ご)?質問", re.I)


def request_text(title: str, body: str) -> str:
    """What a request is compared by: its title and body without the courtesy phrases."""
    lines: list[str] = []
    for line in body.splitlines():
        text = line.strip()
        if _QUOTE_START.match(text):
            break
        if text.startswith((">", "＞")):
            continue
        for pattern in _COURTESY:
            text = pattern.sub("", text).strip()
        if text:
            lines.append(text)
    # The signature block: short lines at the end that are not sentences.
    while len(lines) > 1 and len(lines[-1]) <= 30 and not lines[-1].endswith(_SENTENCE_END):
        lines.pop()
    return f"{_TITLE_NOISE.sub('', title).strip()}\n" + "\n".join(lines)[:MAX_BODY_CHARS]


def is_faq(document: str, section: str) -> bool:
    return bool(_QA_SECTION.match(section) or _FAQ_TITLE.search(document))


# --- the index ------------------------------------------------------------------------


class _Base:
    """bm25s over the requests an index was fully built from, and its word statistics.
    Immutable; shared by the index and the extensions made from it."""

    def __init__(self, tokens: list[list[str]]) -> None:
        import bm25s

        self.size = len(tokens)
        self.docs = max(self.size, MIN_DOCS)
        self.df: dict[str, int] = {}
        for doc in tokens:
            for token in set(doc):
                self.df[token] = self.df.get(token, 0) + 1
        lengths = sum(len(doc) for doc in tokens)
        self.avgdl = lengths / self.size if lengths else 1.0
        self.bm25: Any = None
        self.vocab: dict[str, int] = {}
        if lengths:
            self.bm25 = bm25s.BM25(k1=K1, b=B, method="lucene")
            self.bm25.index(tokens, show_progress=False)
            self.vocab = self.bm25.vocab_dict
            self._smooth_idf()

    def idf(self, token: str) -> float:
        """Lucene's idf, counting at least ``MIN_DOCS`` documents: in a tenant's first days
        a word in each of its three requests still tells something."""
        df = self.df.get(token, 0)
        return math.log(1 + (self.docs - df + 0.5) / (df + 0.5))

    def _smooth_idf(self) -> None:
        """bm25s stores idf × tf-part per (word, request), by word (CSC): rescale each
        word's entries from bm25s's idf (the real count) to :meth:`idf`."""
        if self.docs == self.size:
            return
        scores = self.bm25.scores
        indptr = scores["indptr"]
        factor = np.ones(len(indptr) - 1)
        for token, column in self.vocab.items():
            df = self.df.get(token, 0)
            if df and column < len(factor):
                factor[column] = self.idf(token) / math.log(
                    1 + (self.size - df + 0.5) / (df + 0.5))
        data = scores["data"]
        scores["data"] = (data * np.repeat(factor, np.diff(indptr))).astype(data.dtype)

    def score(self, query: Sequence[str], doc: Sequence[str]) -> float:
        """BM25 of the query's distinct words against one document, as bm25s computes it."""
        counts: dict[str, int] = {}
        for token in doc:
            counts[token] = counts.get(token, 0) + 1
        norm = K1 * (1 - B + B * len(doc) / self.avgdl)
        return sum(self.idf(t) * counts[t] / (counts[t] + norm)
                   for t in dict.fromkeys(query) if t in counts)

    def scores(self, query: Sequence[str]) -> np.ndarray[Any, Any]:
        ids = [self.vocab[t] for t in dict.fromkeys(query) if t in self.vocab]
        if not ids:
            return np.zeros(self.size)
        return np.asarray(self.bm25.get_scores_from_ids(ids), dtype=np.float64)


Doc = tuple[int, float, str, list[str]]  # request id, received (epoch seconds), text, tokens


class RequestIndex:
    """One tenant's requests of the window: the first ``base.size`` scored by bm25s, those
    received since (at most ``MAX_EXTRA``) one by one with the same statistics, so a new
    request costs its own analysis, not a rebuild. Immutable once built (the clusters are
    computed once, lazily, under a lock)."""

    def __init__(self, base: _Base, analyzer: Analyzer, synonyms: str, since: datetime,
                 docs: Sequence[Doc], kb_stamp: str | None) -> None:
        self.base, self.analyzer, self.synonyms, self.since = base, analyzer, synonyms, since
        self.kb_stamp = kb_stamp
        self.has_knowledge = kb_stamp is not None  # documents may exist (knowledge is seeded)
        self.docs = list(docs)
        self.ids = np.array([d[0] for d in docs], dtype=np.int64)
        self.created = np.array([d[1] for d in docs], dtype=np.float64)
        self.texts = [d[2] for d in docs]
        self.tokens = [d[3] for d in docs]
        self.position = {d[0]: i for i, d in enumerate(docs)}
        self.size = len(docs)
        self.last_id = max(self.position, default=0)
        self._clusters: list[list[int]] | None = None
        self._lock = threading.Lock()

    @property
    def extra(self) -> int:
        return self.size - self.base.size

    def score(self, query: Sequence[str], doc: Sequence[str]) -> float:
        return self.base.score(query, doc)

    def similarities(self, query: Sequence[str]) -> np.ndarray[Any, Any]:
        """sim(query → every request of the index), in index order."""
        own = self.base.score(query, query)
        if own <= 0:
            return np.zeros(self.size)
        extra = [self.base.score(query, doc) for doc in self.tokens[self.base.size:]]
        scores = np.concatenate([self.base.scores(query), np.array(extra, dtype=np.float64)])
        return np.minimum(scores / own, 1.0)

    def clusters(self, since: float) -> list[list[int]]:
        """Groups (positions) of the requests received since ``since``, each around the
        request with the most similar ones; computed once per index."""
        with self._lock:
            if self._clusters is None:
                self._clusters = _star_clusters(self, since)
            return self._clusters


def _star_clusters(index: RequestIndex, since: float) -> list[list[int]]:
    recent = np.flatnonzero(index.created >= since)
    mask = np.zeros(index.size, dtype=bool)
    mask[recent] = True
    neighbours: dict[int, set[int]] = {int(p): set() for p in recent}
    for p in recent:
        sims = index.similarities(index.tokens[p])
        for q in np.flatnonzero((sims >= SIMILAR) & mask):
            if q != p:
                neighbours[int(p)].add(int(q))
                neighbours[int(q)].add(int(p))
    order = sorted(neighbours, key=lambda p: (-len(neighbours[p]), -int(index.ids[p])))
    assigned: set[int] = set()
    clusters: list[list[int]] = []
    for centre in order:
        if centre in assigned:
            continue
        members = [centre] + sorted(q for q in neighbours[centre] if q not in assigned)
        if len(members) >= MIN_CLUSTER:
            assigned.update(members)
            clusters.append(members)
    return clusters


_indexes: IndexCache[RequestIndex] = IndexCache()
# The last index built per (database, tenant), even when the cache above dropped it: the
# next build extends it or reuses its analysed requests.
_latest: dict[tuple[str, int], RequestIndex] = {}
_latest_lock = threading.Lock()


def clear_cache() -> None:
    _indexes.clear()
    with _latest_lock:
        _latest.clear()


def window_start(at: datetime) -> datetime:
    day = as_utc(at).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=WINDOW_DAYS)


def _synonyms(rt: Runtime, tenant_id: int) -> tuple[str | None, Analyzer, str]:
    """The knowledge stamp, the analyser of the tenant's synonyms (the shipped ones until it
    changes them; shared with every tenant of the same set) and the set's digest."""
    stamp, synonyms = synonym_state(rt, tenant_id)
    return stamp, analyzer_for(synonyms), synonyms.digest


def _build(rt: Runtime, tenant_id: int, since: datetime, last_id: int,
           kb_stamp: str | None) -> RequestIndex:
    key = (rt.db.url, tenant_id)
    with _latest_lock:
        prev = _latest.get(key)
    analyzer: Analyzer | None = None
    if prev is None or prev.kb_stamp != kb_stamp:  # the synonyms may have changed
        kb_stamp, analyzer, synonyms = _synonyms(rt, tenant_id)
        if prev is not None and prev.synonyms != synonyms:
            prev = None  # every request must be analysed again
    if prev is not None and prev.since == since and prev.last_id <= last_id:
        rows = _after(rt, tenant_id, prev)
        if rows is not None and prev.extra + len(rows) <= MAX_EXTRA:
            docs = prev.docs + [_doc(prev.analyzer, row) for row in rows]
            return _remember(key, RequestIndex(prev.base, prev.analyzer, prev.synonyms,
                                               since, docs, kb_stamp))
    if prev is not None:
        analyzer, synonyms = prev.analyzer, prev.synonyms
    assert analyzer is not None  # read above whenever there is no previous index
    known = {d[0]: d for d in prev.docs} if prev is not None else {}
    docs = []
    for row in desk_queries.texts_since(rt, tenant_id, since):
        doc = known.get(row.id)
        reuse = doc is not None and doc[1] == as_utc(row.created_at).timestamp()
        docs.append(doc if reuse and doc is not None else _doc(analyzer, row))
    base = _Base([d[3] for d in docs])
    return _remember(key, RequestIndex(base, analyzer, synonyms, since, docs, kb_stamp))


def _after(rt: Runtime, tenant_id: int,
           prev: RequestIndex) -> list[desk_queries.RequestText] | None:
    """The requests received after ``prev`` was built, or None when ``prev`` no longer
    describes the database (its newest request is not there as it was: a restored or
    rolled-back database reuses ids)."""
    if not prev.size:
        return desk_queries.texts_since(rt, tenant_id, prev.since)
    rows = desk_queries.texts_since(rt, tenant_id, prev.since, after_id=prev.last_id - 1)
    if not rows or rows[0].id != prev.last_id \
            or as_utc(rows[0].created_at).timestamp() != prev.created[-1]:
        return None
    return rows[1:]


def _doc(analyzer: Analyzer, row: desk_queries.RequestText) -> Doc:
    text = request_text(row.title, row.body)
    return (row.id, as_utc(row.created_at).timestamp(), text, analyzer.index_tokens(text))


def _remember(key: tuple[str, int], index: RequestIndex) -> RequestIndex:
    with _latest_lock:
        _latest[key] = index
    return index


def index_for(rt: Runtime, tenant_id: int, at: datetime | None = None) -> RequestIndex:
    """The tenant's warm index, extended when a request arrived, rebuilt when the window
    moved to another day, the synonyms changed or too many requests arrived since."""
    since = window_start(at or now())
    kb_stamp, _synonyms_now = synonym_state(rt, tenant_id)
    number, last_id = desk_queries.last_request(rt, tenant_id)
    stamp = f"{since.date().isoformat()}|{number}:{last_id}|{kb_stamp or '-'}"
    return _indexes.get((rt.db.url, tenant_id), stamp,
                        lambda: _build(rt, tenant_id, since, last_id, kb_stamp))


# --- what the desk shows ---------------------------------------------------------------
