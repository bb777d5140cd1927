"""The tenant's search index: built from the current passages when the generation stamp
changes, saved once per stamp and loaded memory-mapped by every process (:mod:`.persist`,
``USHIRO_SEARCH_PERSIST``), kept in a per-process cache budgeted in bytes
(``USHIRO_SEARCH_CACHE_MB``, sized by :mod:`.footprint`); what a hit shows is kept with the
index (:mod:`.shown`), so a search asks the database only for the stamp.

After a build or a load the process's objects are collected, then frozen (``gc.freeze()``):
what an index holds is long-lived, and the collector no longer walks it on every full
collection, so the pauses do not grow with the cache. The collection before it walks only
what was made since the last freeze (the new index, the requests in between), and leaves no
garbage cycle to be frozen for good; an index itself holds no cycle, so it is freed by
reference counting when the cache drops it (tested).

With ``USHIRO_EMBEDDING_MODEL_DIR`` set, the index also holds a vector per passage and
search fuses the BM25 and dense rankings (:mod:`ushiro.knowledge.retrieval.dense`). Vectors
are stored in ``kb_passage_vectors`` under the model's name: a rebuild, in this process or
another, embeds only the passages that have none yet.
"""

from __future__ import annotations

import gc
import logging
from collections import Counter
from collections.abc import Callable

from ushiro.core.errors import ErrorCode, UshiroError
from ushiro.core.runtime import Runtime
from ushiro.identity import Principal
from ushiro.knowledge import access, queries, repository
from ushiro.knowledge.choices import DocumentKind
from ushiro.knowledge.retrieval import dense, embeddings, persist, precedence
from ushiro.knowledge.retrieval.backend import BM25Backend, IndexCache, IndexedPassage
from ushiro.knowledge.retrieval.fusion import LexicalSearch, question_of
from ushiro.knowledge.retrieval.ngrams import NgramBackend, NgramPassage
from ushiro.knowledge.retrieval.shown import Shown, ShownPassages
from ushiro.knowledge.retrieval.stored import (
    CLASSES,
    TenantIndex,
    from_parts,
    index_bytes,
    to_parts,
)
from ushiro.knowledge.retrieval.tokenize import Analyzer, index_text
from ushiro.knowledge.state import current_analyzer, seed

log = logging.getLogger(__name__)
__all__ = ["TenantIndex", "analyzer", "current_index", "embed_passages"]

# Passages embedded and stored per transaction: the first build with a model embeds the
# whole knowledge base (minutes), and what was stored survives an interrupted build.
EMBED_CHUNK = 256


Progress = Callable[[int, int], None]  # (done, total)


_indexes: IndexCache[TenantIndex] = IndexCache(size=index_bytes)
# Indexes built, loaded from disk, found damaged or stale in this process (benchmarks, tests).
counts: Counter[str] = Counter()


def _build_index(rt: Runtime, tenant_id: int, embedder: embeddings.Embedder | None = None,
                 progress: Progress | None = None) -> TenantIndex:
    analyzer = current_analyzer(rt, tenant_id)  # shared by every tenant of the same synonyms
    with rt.db.reading() as session:
        departments = repository.departments_of_documents(session, tenant_id)
        documents = {d.id: queries.doc_meta(d, v.version, departments)
                     for d, v in repository.current_documents(session, tenant_id)}
        # Read before the tokens: these strings live as long as the index, and allocated
        # before the build's short-lived token lists they do not pin that memory (a build
        # at 20,000 passages grows the process by 95 MB, as without them, not 280 MB).
        shown: dict[int, Shown] = {
            row.id: (row.document_id, row.section, row.context, row.page, row.text)
            for row in repository.shown_passages(session, tenant_id)
            if row.document_id in documents}
        # On PostgreSQL each query sees its own snapshot: a passage that appeared in
        # between waits for the rebuild its new stamp brings.
        indexed = [IndexedPassage(pid, did, tokens.split())
                   for pid, did, tokens in repository.searchable_passages(session, tenant_id)
                   if pid in shown]
    # The trigram index is built here from the text (about a second at 20,000 passages)
    # rather than stored: it depends on nothing but the text, and is not worth a migration.
    # The questions of the Q&A items: a field of their own on the trigram side (fusion.py),
    # one more plain trigram index over those labels' text.
    questions = [NgramPassage(p.passage_id, p.document_id, question)
                 for p in indexed if (question := question_of(shown[p.passage_id][1]))]
    lexical = LexicalSearch(BM25Backend(indexed), NgramBackend(
        [NgramPassage(p.passage_id, p.document_id, index_text(shown[p.passage_id][1],
                                                                shown[p.passage_id][4]))
         for p in indexed]), NgramBackend(questions) if questions else None)
    hybrid = None
    if embedder is not None:
        hybrid = dense.HybridSearch(
            lexical, _dense_backend(rt, tenant_id, embedder, indexed, shown, progress), embedder)
    tiered = any(d.kind == DocumentKind.REFERENCE for d in documents.values()) or any(
        precedence.is_commentary(row[1]) for row in shown.values())
    return TenantIndex(analyzer, lexical, documents, ShownPassages(shown), hybrid, tiered)


def _dense_backend(rt: Runtime, tenant_id: int, embedder: embeddings.Embedder,
                   indexed: list[IndexedPassage], shown: dict[int, Shown],
                   progress: Progress | None = None) -> dense.DenseBackend:
    """The passages' vectors: those stored for this model read back, the others embedded
    (from the text BM25 indexes: label and text) and stored."""
    with rt.db.reading() as session:
        stored = repository.passage_vectors(session, tenant_id, embedder.name)
    missing = [p.passage_id for p in indexed if p.passage_id not in stored]
    for start in range(0, len(missing), EMBED_CHUNK):
        chunk = missing[start:start + EMBED_CHUNK]
        vectors = embedder.embed_documents([index_text(shown[i][1], shown[i][4]) for i in chunk])
        encoded = {i: dense.encode_vector(v) for i, v in zip(chunk, vectors, strict=True)}
        with rt.db.transaction() as session:
            # Derived data, like the index itself: nobody's change, so no audit event and
            # no new stamp (what search sees is the same knowledge).
            repository.add_passage_vectors(session, tenant_id, embedder.name,
                                           embedder.dimension, encoded)
        stored.update(encoded)
        if progress is not None:
            progress(start + len(chunk), len(missing))
    ids = [p.passage_id for p in indexed]
    return dense.DenseBackend(ids, [p.document_id for p in indexed],
                              dense.decode_vectors([stored[i] for i in ids], embedder.dimension))


def current_index(rt: Runtime, tenant_id: int,
                   progress: Progress | None = None) -> TenantIndex:
    """The tenant's index as of now. Costs one primary-key read (the stamp) when the
    cached index is current: other processes change the knowledge too."""
    stamp = _stamp(rt, tenant_id)
    embedder = embeddings.embedder_for(rt.settings)
    # Runtimes of one process may differ in the model (tests, the retrieval bench): one
    # index per model, and the BM25-only key unchanged.
    where = rt.db.url if embedder is None else f"{rt.db.url} #{embedder.name}"
    return _indexes.get((where, tenant_id), stamp,
                        lambda: _obtain(rt, tenant_id, stamp, embedder, progress),
                        budget=rt.settings.search_cache_mb * 2**20)


def _stamp(rt: Runtime, tenant_id: int) -> str:
    with rt.db.reading() as session:
        stamp = repository.seeded_stamp(session, tenant_id)
    if stamp is None:
        seed(rt, tenant_id)
        with rt.db.reading() as session:
            stamp = repository.seeded_stamp(session, tenant_id) or ""
    return stamp


def _obtain(rt: Runtime, tenant_id: int, stamp: str, embedder: embeddings.Embedder | None,
            progress: Progress | None) -> TenantIndex:
    """The index of ``stamp``: loaded from disk, else built (and saved), then frozen out of
    the collector's way (module docstring)."""
    index = None
    if rt.settings.search_persist:
        try:
            index = _persisted(rt, tenant_id, stamp, embedder, progress)
        except OSError as error:  # an unwritable directory: build in memory, and say so
            log.warning("search index of tenant %s not persisted: %s", tenant_id, error)
    if index is None:
        index = _built(rt, tenant_id, embedder, progress)
    gc.collect()
    gc.freeze()
    return index


def _built(rt: Runtime, tenant_id: int, embedder: embeddings.Embedder | None,
           progress: Progress | None) -> TenantIndex:
    counts["built"] += 1
    return _build_index(rt, tenant_id, embedder, progress)


def _persisted(rt: Runtime, tenant_id: int, stamp: str, embedder: embeddings.Embedder | None,
               progress: Progress | None) -> TenantIndex:
    """Load what another process (or this one before a restart) saved for the stamp; else,
    under the tenant's lock, load what a process that held it before us saved, or build and
    save. The stamp is read again under the lock: the knowledge may have moved on while we
    waited, and the index saved is then the newer one."""
    variant = "bm25" if embedder is None else f"dense-{persist.digest(embedder.name)}"
    where = persist.place(rt.settings.index_dir, rt.db.url, tenant_id, variant)
    found = _load(rt, where, stamp, embedder, quiet=True)
    if found is not None:
        return found
    with persist.locked(where):
        stamp = _stamp(rt, tenant_id)
        found = _load(rt, where, stamp, embedder, quiet=False)
        if found is not None:
            return found
        stale = persist.others(where, stamp)
        if stale:
            counts["stale"] += 1
            log.info("search index of tenant %s is stale (%s): rebuilding", tenant_id,
                     ", ".join(stale))
        index = _built(rt, tenant_id, embedder, progress)
        try:
            persist.save(where, stamp, *to_parts(index))
        except OSError as error:  # a full disk: serve what was built, and say so
            log.warning("search index of tenant %s not persisted: %s", tenant_id, error)
        return index


def _load(rt: Runtime, where: persist.Place, stamp: str, embedder: embeddings.Embedder | None,
          *, quiet: bool) -> TenantIndex | None:
    """The saved index of the stamp, or None. A damaged one is left alone when ``quiet``
    (without the lock it may be one being replaced), else logged and removed."""
    try:
        found = persist.load(where, stamp, CLASSES)
        if found is None:
            return None
        # Not persisted: shared by every tenant of the same synonyms (state.py).
        index = from_parts(*found, current_analyzer(rt, where.tenant_id), embedder)
    except (persist.Damaged, ValueError, KeyError, TypeError) as error:
        if not quiet:
            counts["damaged"] += 1
            log.warning("search index of tenant %s unusable, rebuilding: %s",
                        where.tenant_id, error)
            persist.remove(where, stamp)
        return None
    counts["loaded"] += 1
    return index


def embed_passages(rt: Runtime, principal: Principal,
                   progress: Progress | None = None) -> tuple[int, int]:
    """Embed and store, now, the vectors the configured model lacks for the tenant's
    searchable passages, instead of during the first search after the model is set up
    (at 20,000 passages that takes minutes). ``progress(done, total)`` after each stored
    chunk. Returns (searchable passages, passages embedded now)."""
    if embeddings.embedder_for(rt.settings) is None:
        raise UshiroError(ErrorCode.EMBEDDING_MODEL_UNAVAILABLE,
                          "埋め込みモデルが設定されていません。USHIRO_EMBEDDING_MODEL_DIR に"
                          "モデルのディレクトリを指定してください (docs/knowledge.md)。",
                          field="USHIRO_EMBEDDING_MODEL_DIR")
    access.require_manager(principal)  # minutes of work for the whole tenant: its administrators
    embedded = 0

    def counted(done: int, total: int) -> None:
        nonlocal embedded
        embedded = done
        if progress is not None:
            progress(done, total)

    index = current_index(rt, principal.tenant_id, counted)
    return len(index.passages), embedded


def analyzer(rt: Runtime, principal: Principal) -> Analyzer:
    """The principal's tenant's analyser (its synonyms), the one search uses: for comparing
    a question with passages word by word, as the drafters do."""
    return current_index(rt, principal.tenant_id).analyzer
