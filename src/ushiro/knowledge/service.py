"""Knowledge use cases: add documents (versions), search passages, edit synonyms.

Adding a file is all-or-nothing: the file is read, split and analysed before the
transaction (which on SQLite holds the one writer lock), and the document, its version,
every passage and the bump of the tenant's knowledge generation commit together with the
audit event, or not at all.

Search runs in memory over an index of the tenant's current passages, cached per process
and rebuilt when the generation stamp changes; what a hit shows is kept with the index, so a
search asks the database only for the stamp. Ranking is computed in Python, so it is the
same on SQLite and PostgreSQL.

With ``USHIRO_EMBEDDING_MODEL_DIR`` set, the index also holds a vector per passage and
search fuses the BM25 and dense rankings (:mod:`ushiro.knowledge.dense`). Vectors are
stored in ``kb_passage_vectors`` under the model's name: a rebuild, in this process or
another, embeds only the passages that have none yet.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import BinaryIO

from sqlalchemy.orm import Session

from ushiro import audit
from ushiro.audit import Actor
from ushiro.core.clock import now
from ushiro.core.errors import ErrorCode, UshiroError, invalid, not_found
from ushiro.core.runtime import Runtime
from ushiro.core.text import one_line
from ushiro.identity import Principal, Role
from ushiro.knowledge import access, dense, embeddings, repository
from ushiro.knowledge.choices import AddStatus
from ushiro.knowledge.extract import check_size, extract
from ushiro.knowledge.limits import DocumentLimits
from ushiro.knowledge.models import Document, DocumentVersion, KnowledgeState
from ushiro.knowledge.passages import PassageDraft, index_text, split
from ushiro.knowledge.schemas import (
    AddResult,
    DocMeta,
    DocumentIn,
    DocumentOut,
    FileOutcome,
    RetireResult,
    SearchHit,
)
from ushiro.knowledge.search import BM25Backend, Hit, IndexCache, IndexedPassage, SearchBackend
from ushiro.knowledge.synonyms import default_pairs
from ushiro.knowledge.tokenize import Analyzer

MAX_K = 100
MAX_QUERY_CHARS = 2000
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
    backend: SearchBackend
    documents: dict[int, DocMeta]
    passages: dict[int, Shown]
    hybrid: dense.HybridSearch | None = None  # with a model configured


_indexes: IndexCache[TenantIndex] = IndexCache()


def _actor(who: Principal | Actor, tenant_id: int) -> Actor:
    if isinstance(who, Principal):
        access.check_tenant(who, tenant_id)
        access.require_manager(who)
        return who.actor
    return who


def _bump(state: KnowledgeState) -> None:
    state.generation += 1
    state.stamp = uuid.uuid4().hex
    state.updated_at = now()


def _ready_state(session: Session, tenant_id: int, actor: Actor) -> KnowledgeState:
    """Lock the tenant's knowledge state; on first use, copy in the shipped synonyms."""
    state = repository.lock_state(session, tenant_id)
    if not state.synonyms_seeded:
        count = repository.add_synonyms(session, tenant_id, default_pairs())
        state.synonyms_seeded = True
        _bump(state)
        audit.record(session, tenant_id=tenant_id, actor=actor, action="knowledge.synonyms.seed",
                     object_type="kb_synonyms", object_id=tenant_id, after={"pairs": count})
    return state


def document_name(filename: str) -> str:
    return one_line(PurePath(filename).stem, 200) or "document"


@dataclass(frozen=True)
class _Prepared:
    """What adding a file computes before its write transaction: the slow part (text,
    passages, Sudachi), so that the SQLite writer lock is held only for the writes."""

    format: str
    drafts: list[PassageDraft]
    digest: str
    synonyms: list[tuple[str, str]]  # the tenant's synonyms the tokens were analysed with
    tokens: list[str] | None  # per draft; None: the file is the current version already


def add_document(rt: Runtime, who: Principal | Actor, tenant_id: int,
                 doc: DocumentIn) -> AddResult:
    """Add a file as a new document, or as the next version of the document of that name.

    The text is extracted, split and analysed before the write transaction; the
    transaction then stores the version and every passage at once, so search sees the
    whole document or nothing of it. Synonyms edited in between are noticed there (the
    tenant's synonyms are read again, a few hundred short rows) and the passages are then
    analysed again inside it."""
    actor = _actor(who, tenant_id)
    name = one_line(doc.name or "", 200) or document_name(doc.filename)
    title = one_line(doc.title or "", 200) or name
    prepared = _prepare(rt, tenant_id, name, title, doc)
    digest, drafts = prepared.digest, prepared.drafts
    with rt.db.transaction() as session:
        state = _ready_state(session, tenant_id, actor)
        departments = _department_ids(session, tenant_id, doc.departments)
        document = repository.document_by_name(session, tenant_id, name)
        current = repository.current_version(session, document.id) if document else None
        if _unchanged(current, digest, doc):
            assert document is not None and current is not None
            changed = _update_document(session, actor, document, doc, departments)
            if changed:
                _bump(state)
            return AddResult(document.id, name, document.title, current.version,
                             AddStatus.UNCHANGED, current.passage_count, digest)
        tokens = prepared.tokens
        synonyms = repository.synonym_pairs(session, tenant_id)
        if tokens is None or synonyms != prepared.synonyms:  # rare: changed meanwhile
            tokens = _tokens(Analyzer(synonyms), drafts)
        # In the transaction (5 MB: 10-20 ms), so that a refused file leaves nothing behind.
        rt.files.put(doc.data)  # content-addressed: kept for re-reading, never half-written
        status = AddStatus.ADDED if document is None else AddStatus.NEW_VERSION
        if document is None:
            document = Document(tenant_id=tenant_id, name=name, title=title)
            session.add(document)
            session.flush()
        version = _store_version(session, document, current, doc, digest, prepared.format,
                                 drafts, tokens)
        _update_document(session, actor, document, doc, departments, audited=False)
        _bump(state)
        audit.record(session, tenant_id=tenant_id, actor=actor,
                     action=f"knowledge.document.{status.value}", object_type="kb_document",
                     object_id=document.id, after=_described(document, version, departments))
    return AddResult(document.id, name, document.title, version.version, status, len(drafts),
                     digest)


def _prepare(rt: Runtime, tenant_id: int, name: str, title: str,
             doc: DocumentIn) -> _Prepared:
    extracted = extract(doc.filename, doc.data, max_bytes=rt.settings.max_document_bytes,
                        limits=DocumentLimits.of(rt.settings))
    drafts = split(extracted, title)
    if not drafts:
        raise UshiroError(ErrorCode.DOCUMENT_UNREADABLE,
                          f"「{PurePath(doc.filename).name}」に本文が見つかりません。"
                          "中身のあるファイルを指定してください。", field="file")
    digest = hashlib.sha256(doc.data).hexdigest()
    with rt.db.reading() as session:
        # Not seeded yet: the write transaction will copy in the shipped list first.
        seeded = repository.seeded_stamp(session, tenant_id) is not None
        synonyms = repository.synonym_pairs(session, tenant_id) if seeded else list(default_pairs())
        _department_ids(session, tenant_id, doc.departments)  # refuse before the slow part
        document = repository.document_by_name(session, tenant_id, name)
        current = repository.current_version(session, document.id) if document else None
    if _unchanged(current, digest, doc):
        return _Prepared(str(extracted.format), drafts, digest, synonyms, None)
    return _Prepared(str(extracted.format), drafts, digest, synonyms,
                     _tokens(Analyzer(synonyms), drafts))


def _unchanged(current: DocumentVersion | None, digest: str, doc: DocumentIn) -> bool:
    return current is not None and current.sha256 == digest and (
        doc.effective_date in (None, current.effective_date))


def _tokens(analyzer: Analyzer, drafts: list[PassageDraft]) -> list[str]:
    return [" ".join(analyzer.index_tokens(d.index_text)) for d in drafts]


def _described(document: Document, version: DocumentVersion,
               departments: list[int] | None) -> dict[str, object]:
    return {"name": document.name, "title": document.title, "version": version.version,
            "file": version.source_filename, "sha256": version.sha256,
            "effective_date": version.effective_date, "passages": version.passage_count,
            "restrict_role": document.min_role, "restrict_departments": departments}


def _department_ids(session: Session, tenant_id: int, names: list[str] | None) -> list[int] | None:
    if names is None:
        return None
    known = repository.departments_by_name(session, tenant_id)
    ids: list[int] = []
    for name in names:
        if name not in known:
            raise invalid("departments", f"部門「{name}」は存在しません。"
                          f"登録済みの部門: {', '.join(sorted(known)) or 'なし'}")
        ids.append(known[name])
    return sorted(set(ids))


def _update_document(session: Session, actor: Actor, document: Document, doc: DocumentIn,
                     departments: list[int] | None, *, audited: bool = True) -> bool:
    """Apply a new title or restriction given with the file; True when something changed."""
    before_departments = repository.department_ids(session, document.id)
    before = {"title": document.title, "restrict_role": document.min_role,
              "restrict_departments": before_departments}
    after = dict(before)
    if doc.title:
        after["title"] = one_line(doc.title, 200)
    if doc.min_role is not None:
        after["restrict_role"] = doc.min_role.value
    if departments is not None:
        after["restrict_departments"] = departments
    if after == before:
        return False
    document.title = str(after["title"])
    document.min_role = doc.min_role.value if doc.min_role is not None else document.min_role
    if departments is not None and departments != before_departments:
        repository.set_departments(session, document.id, departments)
    document.updated_at = now()
    if audited:
        old, new = audit.changes(before, after)
        audit.record(session, tenant_id=document.tenant_id, actor=actor,
                     action="knowledge.document.update", object_type="kb_document",
                     object_id=document.id, before=old, after=new)
    return True


def _store_version(session: Session, document: Document, current: DocumentVersion | None,
                   doc: DocumentIn, digest: str, fmt: str, drafts: list[PassageDraft],
                   tokens: list[str]) -> DocumentVersion:
    if current is not None:
        current.is_current = False
        session.flush()
    version = DocumentVersion(
        tenant_id=document.tenant_id, document_id=document.id,
        version=document.current_version + 1, effective_date=doc.effective_date,
        source_filename=one_line(PurePath(doc.filename).name, 255), format=str(fmt),
        size=len(doc.data), sha256=digest, passage_count=len(drafts), is_current=True)
    session.add(version)
    session.flush()
    document.current_version = version.version
    repository.insert_passages(session, [
        {"tenant_id": document.tenant_id, "document_id": document.id, "version_id": version.id,
         "ordinal": d.ordinal, "page": d.page, "section": d.section[:300],
         "context": d.context[:300], "text": d.text, "tokens": passage_tokens}
        for d, passage_tokens in zip(drafts, tokens, strict=True)])
    return version


# --- search ---------------------------------------------------------------------------


def _seed(rt: Runtime, tenant_id: int) -> None:
    """A tenant's first use: copy in the shipped synonyms (nothing when already done)."""
    with rt.db.transaction() as session:
        _ready_state(session, tenant_id, audit.SYSTEM)


def _meta(document: Document, version: int, departments: dict[int, list[int]]) -> DocMeta:
    return DocMeta(document.id, document.name, document.title, version,
                   Role(document.min_role) if document.min_role else None,
                   frozenset(departments.get(document.id, ())))


def _build_index(rt: Runtime, tenant_id: int, embedder: embeddings.Embedder | None = None,
                 progress: Progress | None = None) -> TenantIndex:
    with rt.db.reading() as session:
        analyzer = Analyzer(repository.synonym_pairs(session, tenant_id))
        departments = repository.departments_of_documents(session, tenant_id)
        documents = {d.id: _meta(d, v.version, departments)
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
    backend = BM25Backend(indexed)
    hybrid = None
    if embedder is not None:
        hybrid = dense.HybridSearch(
            backend, _dense_backend(rt, tenant_id, embedder, indexed, shown, progress), embedder)
    return TenantIndex(analyzer, backend, documents, shown, hybrid)


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


def _current_index(rt: Runtime, tenant_id: int,
                   progress: Progress | None = None) -> TenantIndex:
    """The tenant's index as of now. Costs one primary-key read (the stamp) when the
    cached index is current: other processes change the knowledge too."""
    with rt.db.reading() as session:
        stamp = repository.seeded_stamp(session, tenant_id)
    if stamp is None:
        _seed(rt, tenant_id)
        with rt.db.reading() as session:
            stamp = repository.seeded_stamp(session, tenant_id) or ""
    embedder = embeddings.embedder_for(rt.settings)
    # Runtimes of one process may differ in the model (tests, the retrieval bench): one
    # index per model, and the BM25-only key unchanged.
    where = rt.db.url if embedder is None else f"{rt.db.url} #{embedder.name}"
    return _indexes.get((where, tenant_id), stamp,
                        lambda: _build_index(rt, tenant_id, embedder, progress))


def embed_passages(rt: Runtime, tenant_id: int,
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
    embedded = 0

    def counted(done: int, total: int) -> None:
        nonlocal embedded
        embedded = done
        if progress is not None:
            progress(done, total)

    index = _current_index(rt, tenant_id, counted)
    return len(index.passages), embedded


def analyzer(rt: Runtime, tenant_id: int) -> Analyzer:
    """The tenant's analyser (its synonyms), the one search uses: for comparing a question
    with passages word by word, as the drafters do."""
    return _current_index(rt, tenant_id).analyzer


def search(rt: Runtime, tenant_id: int, query: str, *, k: int = 5,
           principal: Principal | None = None) -> list[SearchHit]:
    """The k best passages for ``query`` among the documents the principal may search
    (``principal`` None: the system, e.g. the command line on the server)."""
    return list(search_many(rt, tenant_id, [query], k=k, principal=principal))[0][1]


def search_many(rt: Runtime, tenant_id: int, queries: Iterable[str], *, k: int = 5,
                principal: Principal | None = None) -> Iterator[tuple[str, list[SearchHit]]]:
    """(query, hits) for each query, all against one snapshot of the tenant's knowledge."""
    access.check_tenant(principal, tenant_id)
    if not 1 <= k <= MAX_K:
        raise invalid("k", f"件数は 1〜{MAX_K} の範囲で指定してください。")
    index = _current_index(rt, tenant_id)
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
    if index.hybrid is not None:
        return _shown(index, index.hybrid.search(tokens, text, k=k, documents=allowed))
    return _shown(index, index.backend.search(tokens, k=k, documents=allowed))


def _shown(index: TenantIndex, hits: Sequence[Hit]) -> list[SearchHit]:
    out: list[SearchHit] = []
    for hit in hits:
        document_id, section, context, page, text = index.passages[hit.passage_id]
        meta = index.documents[document_id]
        parts = (hit.lexical, hit.dense) if isinstance(hit, dense.FusedHit) else (None, None)
        out.append(SearchHit(hit.passage_id, meta.title, meta.version, section, context, page,
                             hit.score, text, *parts))
    return out


# --- synonyms and listings --------------------------------------------------------------


def synonyms(rt: Runtime, tenant_id: int) -> dict[str, list[str]]:
    """canonical → variants of the tenant (the shipped list until someone edits it)."""
    with rt.db.reading() as session:
        seeded = repository.seeded_stamp(session, tenant_id) is not None
    if not seeded:
        _seed(rt, tenant_id)
    with rt.db.reading() as session:
        pairs = repository.synonym_pairs(session, tenant_id)
    grouped: dict[str, list[str]] = {}
    for canonical, variant in pairs:
        variants = grouped.setdefault(canonical, [])
        if variant != canonical:
            variants.append(variant)
    return grouped


def edit_synonyms(rt: Runtime, who: Principal | Actor, tenant_id: int, canonical: str,
                  variants: list[str], *, remove: bool = False) -> int:
    """Add (or remove) variants of ``canonical``; current passages are re-analysed in the
    same transaction, so search never mixes the old and the new reading. Returns the number
    of synonym rows added or removed."""
    actor = _actor(who, tenant_id)
    canonical = one_line(canonical, 100)
    variants = [v for v in dict.fromkeys(one_line(v, 100) for v in variants) if v]
    if not canonical:
        raise invalid("canonical", "正規の語 (例: 年次有給休暇) を指定してください。")
    with rt.db.transaction() as session:
        state = _ready_state(session, tenant_id, actor)
        existing = set(repository.synonym_pairs(session, tenant_id))
        if remove:
            count = repository.remove_synonyms(session, tenant_id, canonical, variants or None)
        else:
            new = [(canonical, v) for v in [canonical, *variants] if (canonical, v) not in existing]
            count = repository.add_synonyms(session, tenant_id, new)
        if count:
            _retokenise(session, tenant_id)
            _bump(state)
            audit.record(session, tenant_id=tenant_id, actor=actor,
                         action="knowledge.synonyms." + ("remove" if remove else "add"),
                         object_type="kb_synonyms", object_id=tenant_id,
                         after={"canonical": canonical, "variants": variants, "rows": count})
    return count


def _retokenise(session: Session, tenant_id: int) -> None:
    analyzer = Analyzer(repository.synonym_pairs(session, tenant_id))
    rows = [{"id": p_id, "tokens": " ".join(analyzer.index_tokens(index_text(section, text)))}
            for p_id, section, text in repository.current_passage_texts(session, tenant_id)]
    repository.update_passage_tokens(session, rows)


def list_documents(rt: Runtime, tenant_id: int,
                   principal: Principal | None = None) -> list[DocumentOut]:
    access.check_tenant(principal, tenant_id)
    with rt.db.reading() as session:
        names = repository.department_names(session, tenant_id)
        departments = repository.departments_of_documents(session, tenant_id)
        out = []
        for d, v in repository.current_documents(session, tenant_id):
            meta = _meta(d, v.version, departments)
            if access.may_search(principal, meta):
                out.append(DocumentOut(d.id, d.name, d.title, v.version, v.effective_date,
                                       v.source_filename, v.passage_count, d.min_role,
                                       sorted(names[i] for i in meta.department_ids)))
    return out


def has_documents(session: Session, tenant_id: int) -> bool:
    """Whether the tenant has anything to cite, asked inside another domain's unit of work
    (the desk's request-created event), hence the caller's session."""
    return repository.has_documents(session, tenant_id)


def counts(rt: Runtime, tenant_id: int) -> dict[str, int]:
    with rt.db.reading() as session:
        return repository.counts(session, tenant_id)


# --- admin: batch upload and retiring -------------------------------------------------


def add_files(rt: Runtime, who: Principal | Actor, tenant_id: int, template: DocumentIn,
              files: Sequence[tuple[str, BinaryIO]]) -> list[FileOutcome]:
    """Add each (filename, stream) like :func:`add_document`, with the title, date and
    restriction of ``template``. A bad file is reported in its outcome and stores nothing;
    the others are still added. A file over the size limit is refused before it is read."""
    _actor(who, tenant_id)  # refuse callers before reading anything
    if not files:
        raise invalid("files", "取り込むファイルを選択してください。")
    if template.title and len(files) > 1:
        raise invalid("title", "表示名はファイルを 1 つだけ選んだときに指定できます。")
    outcomes = []
    for filename, stream in files:
        try:
            stream.seek(0, os.SEEK_END)
            check_size(filename, stream.tell(), rt.settings.max_document_bytes)
            stream.seek(0)
            doc = replace(template, filename=filename, data=stream.read())
            outcomes.append(FileOutcome(filename, result=add_document(rt, who, tenant_id, doc)))
        except UshiroError as error:
            outcomes.append(FileOutcome(filename, error=error))
    return outcomes


def restrict_document(rt: Runtime, who: Principal | Actor, tenant_id: int, document_id: int,
                      *, min_role: Role | None, departments: list[str]) -> bool:
    """Set exactly who may search a document: a role floor and departments, or nobody
    named (None, []): everyone in the tenant. Unlike a restriction given with an upload,
    where "not given" keeps the document's setting, this can also lift one. True when
    something changed."""
    actor = _actor(who, tenant_id)
    with rt.db.transaction() as session:
        state = _ready_state(session, tenant_id, actor)
        document = repository.document_by_id(session, tenant_id, document_id)
        if document is None:
            raise not_found("文書")
        ids = _department_ids(session, tenant_id, departments) or []
        role = min_role.value if min_role else None
        before = {"restrict_role": document.min_role,
                  "restrict_departments": repository.department_ids(session, document.id)}
        after = {"restrict_role": role, "restrict_departments": ids}
        if after == before:
            return False
        document.min_role = role
        repository.set_departments(session, document.id, ids)
        document.updated_at = now()
        _bump(state)  # the index keeps each document's restriction
        old, new = audit.changes(before, after)
        audit.record(session, tenant_id=tenant_id, actor=actor,
                     action="knowledge.document.restrict", object_type="kb_document",
                     object_id=document.id, before=old, after=new)
    return True


def retire_document(rt: Runtime, who: Principal | Actor, tenant_id: int, *,
                    document_id: int | None = None, name: str | None = None) -> RetireResult:
    """Take a document (by id or name) out of search. Its versions and passages stay for
    old citations; adding a file of the same name later makes it current again as the
    next version."""
    actor = _actor(who, tenant_id)
    with rt.db.transaction() as session:
        state = _ready_state(session, tenant_id, actor)
        document = (repository.document_by_id(session, tenant_id, document_id)
                    if document_id is not None
                    else repository.document_by_name(session, tenant_id, name or ""))
        if document is None:
            raise not_found("文書") if name is None else UshiroError(
                ErrorCode.NOT_FOUND, f"文書「{name}」が見つかりません。"
                "名前は `ushiro kb list` で確認してください。", field="name")
        current = repository.current_version(session, document.id)
        if current is None:
            raise UshiroError(ErrorCode.CONFLICT,
                              f"「{document.title}」はすでに検索対象から外されています。")
        current.is_current = False
        document.updated_at = now()
        _bump(state)
        audit.record(session, tenant_id=tenant_id, actor=actor,
                     action="knowledge.document.retire", object_type="kb_document",
                     object_id=document.id,
                     before={"name": document.name, "version": current.version,
                             "passages": current.passage_count},
                     after={"current_version": None})
        return RetireResult(document.id, document.name, document.title, current.version)
