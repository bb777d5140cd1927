"""Read use cases: similar requests, FAQ matches, the 30-day count and FAQ candidates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from ushiro import desk as desk_queries
from ushiro.core.clock import as_utc, now
from ushiro.core.runtime import Runtime
from ushiro.desk import RequestBrief, RequestOut, require_staff
from ushiro.identity import Principal
from ushiro.knowledge import passage_tokens, search_many
from ushiro.recurrence.index import (
    FAQ_K,
    FAQ_MATCH,
    MAX_CHECKED,
    MIN_CLUSTER,
    RECENT_DAYS,
    SHOWN,
    SIMILAR,
    WINDOW_DAYS,
    RequestIndex,
    index_for,
    is_faq,
    request_text,
    window_start,
)


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
    found = search_many(rt, principal, [queries[i] for i in asked], k=FAQ_K)
    hits = {i: [h for h in found_hits if is_faq(h.document, h.section)]
            for i, (_q, found_hits) in zip(asked, found, strict=True)}
    passages = passage_tokens(rt, principal.tenant_id,
                              sorted({h.passage_id for hs in hits.values() for h in hs}))
    out: list[list[FaqMatch]] = [[] for _ in requests]
    for i, request_hits in hits.items():
        for hit in request_hits:
            passage = passages.get(hit.passage_id)
            if passage is None:
                continue
            similarity = min(1.0, index.score(requests[i][1], passage) / own[i])
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
    groups = index.clusters((window_start(at)
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
    """The desk request page's recurrence panel (a desk panel of the domain registry)."""
    return {"template": "recurrence/_recurrence.html",
            "recurrence": for_request(rt, principal, item)}
