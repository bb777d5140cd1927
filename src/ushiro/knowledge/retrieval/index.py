"""The tenant's search index: built in memory from the current passages, cached per process
and rebuilt when the generation stamp changes; what a hit shows is kept with the index, so a
search asks the database only for the stamp.

With ``USHIRO_EMBEDDING_MODEL_DIR`` set, the index also holds a vector per passage and
search fuses the BM25 and dense rankings (:mod:`ushiro.knowledge.retrieval.dense`). Vectors
are stored in ``kb_passage_vectors`` under the model's name: a rebuild, in this process or
another, embeds only the passages that have none yet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ushiro.core.errors import ErrorCode, UshiroError
from ushiro.core.runtime import Runtime
from ushiro.identity import Principal
from ushiro.knowledge import access, queries, repository
from ushiro.knowledge.choices import DocumentKind
from ushiro.knowledge.retrieval import dense, embeddings, precedence
from ushiro.knowledge.retrieval.backend import BM25Backend, IndexCache, IndexedPassage
from ushiro.knowledge.retrieval.fusion import LexicalSearch, question_of
from ushiro.knowledge.retrieval.ngrams import NgramBackend, NgramPassage
from ushiro.knowledge.retrieval.tokenize import Analyzer, index_text
from ushiro.knowledge.schemas import DocMeta
from ushiro.knowledge.state import current_analyzer, seed

# Passages embedded and stored per transaction: the first build with a model embeds the
# whole knowledge base (minutes), and what was stored survives an interrupted build.
EMBED_CHUNK = 256


# What a hit shows: (document_id, section, context, page, text). Kept in memory with the
# index so that a search reads nothing from the database but the stamp; a plain tuple of
# str and int, which the garbage collector stops tracking, so 20,000 of them do not
# lengthen its pauses.
Shown = tuple[int, str, str, int | None, str]
Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class TenantIndex:
    analyzer: Analyzer
    lexical: LexicalSearch  # word BM25 fused with character trigram BM25
    documents: dict[int, DocMeta]
    passages: dict[int, Shown]
    hybrid: dense.HybridSearch | None = None  # with a model configured
    # Holds reference material or commentary: search orders by authority (precedence.py).
    tiered: bool = False


_indexes: IndexCache[TenantIndex] = IndexCache()


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
    return TenantIndex(analyzer, lexical, documents, shown, hybrid, tiered)


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
    with rt.db.reading() as session:
        stamp = repository.seeded_stamp(session, tenant_id)
    if stamp is None:
        seed(rt, tenant_id)
        with rt.db.reading() as session:
            stamp = repository.seeded_stamp(session, tenant_id) or ""
    embedder = embeddings.embedder_for(rt.settings)
    # Runtimes of one process may differ in the model (tests, the retrieval bench): one
    # index per model, and the BM25-only key unchanged.
    where = rt.db.url if embedder is None else f"{rt.db.url} #{embedder.name}"
    return _indexes.get((where, tenant_id), stamp,
                        lambda: _build_index(rt, tenant_id, embedder, progress))


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
