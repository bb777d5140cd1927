"""Recurrence: the other requests and the FAQ entries a request resembles, how often its
question came back in the last 30 days, and the questions that keep coming back without
an FAQ entry (FAQ candidates).

**Words of a request.** Title and body, without what every message says: the salutation
(人事部 ご担当者様), お疲れさまです, self-introductions (営業部の石川です。),
よろしくお願いします, closing lines and the signature block, and quoted mail (``>``). The
rest is analysed by the tenant's knowledge analyser (Sudachi + synonyms), so 有給, 有休 and
年休 are all 年次有給休暇.

**Similarity.** The tenant's requests received in the last 90 days (from the start of the
UTC day) form one BM25 index (bm25s, Lucene variant, k1=1.2, b=0.75). The similarity of B
to A is A's words scored against B, as a share of A's words scored against A itself::

    sim(A → B) = min(1, BM25(words of A, B) / BM25(words of A, A))

Words that many requests use (確認, 申請) weigh little, the ones that make the question
(残日数, 印刷) much; 0 is nothing in common, 1 is everything A says. B is *similar* to A
when sim(A → B) ≥ ``SIMILAR`` (0.35). On the 200 requests of the sample company, 0.35
keeps the rewordings of one question (有給の残日数 / 年休は何日残っている ≈ 0.45, 有休の残り /
有給休暇の残日数について ≈ 0.4, repeats 0.6–0.9) while different questions stay below 0.3
(有給の残日数 / 慶弔休暇の申請方法 0.29, 住所変更 / 振込口座の変更 0.24); the few pairs above it
are neighbours (取引先の振込先変更 / 給与振込口座の変更 0.44). Lexical similarity cannot
tell 有給の残日数 from 時間単位の有給 (0.47): both are listed as paid-leave questions.
Word weights count at least ``MIN_DOCS`` requests, so a tenant's first requests compare
sensibly too. The request page lists at most ``SHOWN`` similar requests (any date in the
window, most similar first) that the viewer may see.
**FAQ entries** are knowledge passages that are Q&A items (問1, Q2., Q:) or come from a
document whose title says FAQ, Q&A or よくある質問. They are found with
:func:`ushiro.knowledge.search` (so the viewer's document restrictions apply) and kept when
sim(request → passage) ≥ ``FAQ_MATCH``, with the same formula and the request index's
word weights.

**Counts.** "Asked N times in the last 30 days": the request itself when it was received in
the last 30 days, plus the similar requests received then that the viewer may see (desk
access rules, never another tenant's).

**FAQ candidates.** The requests of the last 30 days are grouped around the request with
the most similar ones (either direction); a group is a candidate when the viewer sees at
least ``MIN_CLUSTER`` (3) of its requests and no FAQ entry matches its central request.

**Caching.** Each process keeps one index per tenant, checked on every lookup against the
tenant's last request (number and id), the day and the knowledge stamp, so a new request
appears at once. Titles and bodies never change after intake: new requests are analysed
and scored one by one next to the bm25s part (up to ``MAX_EXTRA``), and a rebuild (next
day, synonyms edited, too many new requests) re-analyses only what it has not seen. The
first lookup in a process analyses the whole window (≈ 5–10 s for 10,000 requests);
after that a lookup takes a few milliseconds (2-core development machine, 10,000
requests in the window, SQLite: ≈ 7 ms CPU at the median, ≤ 15 ms at p99).
"""

from __future__ import annotations

import hashlib
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from ushiro.core.clock import as_utc, now
from ushiro.core.runtime import Runtime
from ushiro.desk import queries as desk_queries
from ushiro.desk.access import require_staff
from ushiro.desk.queries import RequestBrief
from ushiro.desk.schemas import RequestOut
from ushiro.identity import Principal
from ushiro.knowledge import repository
from ushiro.knowledge.search import IndexCache
from ushiro.knowledge.service import search_many
from ushiro.knowledge.synonyms import default_pairs
from ushiro.knowledge.tokenize import Analyzer

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


def _window_start(at: datetime) -> datetime:
    day = as_utc(at).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=WINDOW_DAYS)


def _synonyms(rt: Runtime, tenant_id: int) -> tuple[str | None, list[tuple[str, str]], str]:
    """The knowledge stamp, the tenant's synonyms (the shipped ones before its first use of
    knowledge) and their fingerprint."""
    with rt.db.reading() as session:
        stamp = repository.seeded_stamp(session, tenant_id)
        pairs = repository.synonym_pairs(session, tenant_id) if stamp is not None else None
    pairs = list(pairs if pairs is not None else default_pairs())
    return stamp, pairs, hashlib.sha256(repr(pairs).encode()).hexdigest()


def _build(rt: Runtime, tenant_id: int, since: datetime, last_id: int,
           kb_stamp: str | None) -> RequestIndex:
    key = (rt.db.url, tenant_id)
    with _latest_lock:
        prev = _latest.get(key)
    pairs: list[tuple[str, str]] = []
    if prev is None or prev.kb_stamp != kb_stamp:  # the synonyms may have changed
        kb_stamp, pairs, synonyms = _synonyms(rt, tenant_id)
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
    else:
        analyzer = Analyzer(pairs)
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
    since = _window_start(at or now())
    with rt.db.reading() as session:
        kb_stamp = repository.seeded_stamp(session, tenant_id)
    number, last_id = desk_queries.last_request(rt, tenant_id)
    stamp = f"{since.date().isoformat()}|{number}:{last_id}|{kb_stamp or '-'}"
    return _indexes.get((rt.db.url, tenant_id), stamp,
                        lambda: _build(rt, tenant_id, since, last_id, kb_stamp))


# --- what the desk shows ---------------------------------------------------------------


@dataclass(frozen=True)
class SimilarRequest:
    id: int
    reference: str
    title: str
    status: str
    created_at: datetime
    similarity: float


@dataclass(frozen=True)
class FaqMatch:
    passage_id: int
    document: str
    section: str
    text: str
    similarity: float


@dataclass(frozen=True)
class Recurrence:
    request_id: int
    recent_count: int  # this request and the similar ones of the last 30 days
    similar: list[SimilarRequest]
    faq: list[FaqMatch]


@dataclass(frozen=True)
class Candidate:
    """A question asked ``count`` times in the last 30 days without an FAQ entry."""

    count: int
    example: RequestBrief
    requests: list[RequestBrief]  # newest first, the example among them


def _tokens(index: RequestIndex, request_id: int, title: str, body: str) -> tuple[str, list[str]]:
    position = index.position.get(request_id)
    if position is not None:
        return index.texts[position], index.tokens[position]
    text = request_text(title, body)  # older than the window: analysed on the fly
    return text, index.analyzer.index_tokens(text)


def faq_matches(rt: Runtime, principal: Principal, index: RequestIndex, text: str,
                tokens: Sequence[str]) -> list[FaqMatch]:
    """The FAQ entries the principal may read that answer a request of these words."""
    return faq_matches_many(rt, principal, index, [(text, tokens)])[0]


def faq_matches_many(rt: Runtime, principal: Principal, index: RequestIndex,
                     requests: Sequence[tuple[str, Sequence[str]]]) -> list[list[FaqMatch]]:
    """:func:`faq_matches` for several requests, against one snapshot of the knowledge."""
    own = [index.score(tokens, tokens) for _text, tokens in requests]
    queries = [text.strip()[:2000] for text, _tokens in requests]
    asked = [i for i, q in enumerate(queries) if q and own[i] > 0]
    if not index.has_knowledge or not asked:
        return [[] for _ in requests]  # no knowledge yet: no search (and no first-use write)
    found = search_many(rt, principal.tenant_id, [queries[i] for i in asked], k=FAQ_K,
                        principal=principal)
    hits = {i: [h for h in found_hits if is_faq(h.document, h.section)]
            for i, (_q, found_hits) in zip(asked, found, strict=True)}
    with rt.db.reading() as session:
        passages = repository.passages_by_ids(
            session, principal.tenant_id, sorted({h.passage_id for hs in hits.values()
                                                  for h in hs}))
    out: list[list[FaqMatch]] = [[] for _ in requests]
    for i, request_hits in hits.items():
        for hit in request_hits:
            passage = passages.get(hit.passage_id)
            if passage is None:
                continue
            similarity = min(1.0, index.score(requests[i][1], passage.tokens.split()) / own[i])
            if similarity >= FAQ_MATCH:
                out[i].append(FaqMatch(hit.passage_id, hit.document, hit.section, hit.text,
                                       similarity))
        out[i].sort(key=lambda m: (-m.similarity, m.passage_id))
    return out


def for_request(rt: Runtime, principal: Principal, item: RequestOut,
                at: datetime | None = None) -> Recurrence:
    """Similar requests, the count of the last 30 days and matching FAQ entries for a
    request the principal has already read through the desk."""
    require_staff(principal)
    at = at or now()
    recent = at - timedelta(days=RECENT_DAYS)
    index = index_for(rt, principal.tenant_id, at)
    text, tokens = _tokens(index, item.id, item.title, item.body)
    sims = index.similarities(tokens)
    found = [int(p) for p in np.flatnonzero(sims >= SIMILAR) if int(index.ids[p]) != item.id]
    found.sort(key=lambda p: (-sims[p], -int(index.ids[p])))
    similarity = {int(index.ids[p]): float(sims[p]) for p in found[:MAX_CHECKED]}
    # One read for both: the most similar (to list) and those that may be recent (to
    # count). Dates in the index can only be later than the real ones (requests are moved
    # back in time, never forward), so no recent one is missed; the database decides.
    wanted = [int(index.ids[p]) for i, p in enumerate(found[:MAX_CHECKED])
              if i < SHOWN * 3 or index.created[p] >= recent.timestamp()]
    visible = desk_queries.briefs(rt, principal, wanted)
    count = sum(1 for b in visible if b.created_at >= recent)
    count += 1 if as_utc(item.created_at) >= recent else 0
    shown = sorted(visible, key=lambda b: (-similarity[b.id], -b.id))[:SHOWN]
    return Recurrence(
        request_id=item.id, recent_count=count,
        similar=[SimilarRequest(b.id, b.reference, b.title, b.status, b.created_at,
                                similarity[b.id]) for b in shown],
        faq=faq_matches(rt, principal, index, text, tokens))


def for_request_id(rt: Runtime, principal: Principal, request_id: int) -> Recurrence:
    require_staff(principal)
    return for_request(rt, principal, desk_queries.get_request(rt, principal, request_id))


def faq_candidates(rt: Runtime, principal: Principal,
                   at: datetime | None = None) -> list[Candidate]:
    """Questions of the last 30 days asked at least ``MIN_CLUSTER`` times (among the
    requests the principal may see) that no FAQ entry answers, most asked first."""
    require_staff(principal)
    at = at or now()
    recent = at - timedelta(days=RECENT_DAYS)
    index = index_for(rt, principal.tenant_id, at)
    # Grouped once per index (until the next request): from the start of the day 30 days ago.
    groups = index.clusters((_window_start(at)
                             + timedelta(days=WINDOW_DAYS - RECENT_DAYS)).timestamp())
    visible = {b.id: b for b in desk_queries.recent_briefs(rt, principal, recent)}
    asked = []
    for members in groups:
        seen = [visible[int(index.ids[p])] for p in members if int(index.ids[p]) in visible]
        if len(seen) >= MIN_CLUSTER:
            asked.append((members[0], seen))
    answered = faq_matches_many(rt, principal, index,
                                [(index.texts[c], index.tokens[c]) for c, _seen in asked])
    out = []
    for (centre, seen), faq in zip(asked, answered, strict=True):
        if faq:
            continue
        example = visible.get(int(index.ids[centre])) or max(seen, key=lambda b: b.id)
        seen.sort(key=lambda b: (b.created_at, b.id), reverse=True)
        out.append(Candidate(len(seen), example, seen))
    return sorted(out, key=lambda c: (-c.count, -c.requests[0].id))


def panel(rt: Runtime, principal: Principal, item: RequestOut) -> dict[str, Any]:
    """The desk request page's recurrence panel (registered in ``knowledge.views``)."""
    return {"template": "knowledge/_recurrence.html",
            "recurrence": for_request(rt, principal, item)}
