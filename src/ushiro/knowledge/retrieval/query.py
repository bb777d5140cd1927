"""Search use cases: the best passages for a query among the documents a principal may
search. Ranking is computed in Python over the in-memory index, so it is the same on SQLite
and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from ushiro.core.errors import invalid
from ushiro.core.runtime import Runtime
from ushiro.identity import Principal
from ushiro.knowledge import access
from ushiro.knowledge.retrieval import dense, precedence
from ushiro.knowledge.retrieval.backend import Hit
from ushiro.knowledge.retrieval.index import TenantIndex, current_index
from ushiro.knowledge.schemas import SearchHit

MAX_K = 100
MAX_QUERY_CHARS = 2000


def search(rt: Runtime, principal: Principal, query: str, *, k: int = 5) -> list[SearchHit]:
    """The k best passages for ``query`` among the documents of the principal's tenant that
    it may search (a system principal, e.g. the command line on the server, sees all)."""
    return list(search_many(rt, principal, [query], k=k))[0][1]


def warm(rt: Runtime, principal: Principal) -> int:
    """Make the tenant's search index current, built and saved if there is none for its
    stamp, so the first search after a deploy or an upgrade loads it (a few ms) instead of
    building it. Returns the number of passages indexed. Administrators and the system."""
    access.require_manager(principal)
    return len(current_index(rt, principal.tenant_id).passages)


def search_many(rt: Runtime, principal: Principal, queries: Iterable[str], *,
                k: int = 5) -> Iterator[tuple[str, list[SearchHit]]]:
    """(query, hits) for each query, all against one snapshot of the tenant's knowledge."""
    if not 1 <= k <= MAX_K:
        raise invalid("k", f"件数は 1〜{MAX_K} の範囲で指定してください。")
    index = current_index(rt, principal.tenant_id)
    allowed = access.searchable_documents(principal, index.documents.values())
    for query in queries:
        yield query, _answer(index, query, k, allowed)


def _answer(index: TenantIndex, query: str, k: int,
            allowed: frozenset[int] | None) -> list[SearchHit]:
    text = query.strip()
    if not text:
        raise invalid("query", "検索語を入力してください。")
    text = text[:MAX_QUERY_CHARS]
    tokens = index.analyzer.query_tokens(text)
    # Only an index holding reference material or commentary is reordered (and for that
    # searched wider): the company's own rules alone keep the plain relevance order.
    wanted = precedence.candidates(k) if index.tiered else k
    if index.hybrid is not None:
        hits = _shown(index, index.hybrid.search(tokens, text, k=wanted, documents=allowed))
    else:
        hits = _shown(index, index.lexical.search(tokens, text, k=wanted, documents=allowed))
    return precedence.reorder(hits, k) if index.tiered else hits


def _shown(index: TenantIndex, hits: Sequence[Hit]) -> list[SearchHit]:
    out: list[SearchHit] = []
    for hit in hits:
        document_id, section, context, page, text = index.passages[hit.passage_id]
        meta = index.documents[document_id]
        lexical, cosine = ((hit.lexical, hit.dense) if isinstance(hit, dense.FusedHit)
                           else (None, None))
        out.append(SearchHit(hit.passage_id, meta.title, meta.version, section, context, page,
                             hit.score, text, lexical, cosine, kind=meta.kind.value))
    return out
