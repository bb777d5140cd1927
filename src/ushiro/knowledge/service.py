"""Knowledge use cases: add documents (versions), search passages, edit synonyms.

Adding a file is all-or-nothing: the file is read and split before the transaction, and
the document, its version, every passage and the bump of the tenant's knowledge
generation commit together with the audit event, or not at all.

Search runs in memory over an index of the tenant's current passages, cached per process
and rebuilt when the generation stamp changes. Ranking is computed in Python, so it is the
same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePath

from sqlalchemy.orm import Session

from ushiro import audit
from ushiro.audit import Actor
from ushiro.core.clock import now
from ushiro.core.errors import ErrorCode, UshiroError, invalid
from ushiro.core.runtime import Runtime
from ushiro.core.text import one_line
from ushiro.identity import Principal, Role
from ushiro.knowledge import access, repository
from ushiro.knowledge.choices import AddStatus
from ushiro.knowledge.extract import extract
from ushiro.knowledge.models import Document, DocumentVersion, KnowledgeState
from ushiro.knowledge.passages import PassageDraft, index_text, split
from ushiro.knowledge.schemas import AddResult, DocMeta, DocumentIn, DocumentOut, SearchHit
from ushiro.knowledge.search import BM25Backend, Hit, IndexCache, IndexedPassage, SearchBackend
from ushiro.knowledge.synonyms import default_pairs
from ushiro.knowledge.tokenize import Analyzer

MAX_K = 100
MAX_QUERY_CHARS = 2000


@dataclass(frozen=True)
class TenantIndex:
    analyzer: Analyzer
    backend: SearchBackend
    documents: dict[int, DocMeta]


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


def add_document(rt: Runtime, who: Principal | Actor, tenant_id: int,
                 doc: DocumentIn) -> AddResult:
    """Add a file as a new document, or as the next version of the document of that name."""
    actor = _actor(who, tenant_id)
    name = one_line(doc.name or "", 200) or document_name(doc.filename)
    title = one_line(doc.title or "", 200) or name
    extracted = extract(doc.filename, doc.data, max_bytes=rt.settings.max_document_bytes)
    drafts = split(extracted, title)
    if not drafts:
        raise UshiroError(ErrorCode.DOCUMENT_UNREADABLE,
                          f"「{PurePath(doc.filename).name}」に本文が見つかりません。"
                          "中身のあるファイルを指定してください。", field="file")
    digest = hashlib.sha256(doc.data).hexdigest()
    with rt.db.transaction() as session:
        state = _ready_state(session, tenant_id, actor)
        departments = _department_ids(session, tenant_id, doc.departments)
        document = repository.document_by_name(session, tenant_id, name)
        current = repository.current_version(session, document.id) if document else None
        if document is not None and current is not None and current.sha256 == digest and (
                doc.effective_date in (None, current.effective_date)):
            changed = _update_document(session, actor, document, doc, departments)
            if changed:
                _bump(state)
            return AddResult(document.id, name, document.title, current.version,
                             AddStatus.UNCHANGED, current.passage_count, digest)
        rt.files.put(doc.data)  # content-addressed: kept for re-reading, never half-written
        analyzer = Analyzer(repository.synonym_pairs(session, tenant_id))
        status = AddStatus.ADDED if document is None else AddStatus.NEW_VERSION
        if document is None:
            document = Document(tenant_id=tenant_id, name=name, title=title)
            session.add(document)
            session.flush()
        version = _store_version(session, document, current, doc, digest, extracted.format,
                                 drafts, analyzer)
        _update_document(session, actor, document, doc, departments, audited=False)
        _bump(state)
        audit.record(session, tenant_id=tenant_id, actor=actor,
                     action=f"knowledge.document.{status.value}", object_type="kb_document",
                     object_id=document.id, after=_described(document, version, departments))
    return AddResult(document.id, name, document.title, version.version, status, len(drafts),
                     digest)


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
                   analyzer: Analyzer) -> DocumentVersion:
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
         "context": d.context[:300], "text": d.text,
         "tokens": " ".join(analyzer.index_tokens(d.index_text))}
        for d in drafts])
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


def _build_index(rt: Runtime, tenant_id: int) -> TenantIndex:
    with rt.db.reading() as session:
        analyzer = Analyzer(repository.synonym_pairs(session, tenant_id))
        departments = repository.departments_of_documents(session, tenant_id)
        documents = {d.id: _meta(d, v.version, departments)
                     for d, v in repository.current_documents(session, tenant_id)}
        passages = [IndexedPassage(pid, did, tokens.split())
                    for pid, did, tokens in repository.searchable_passages(session, tenant_id)]
    return TenantIndex(analyzer, BM25Backend(passages), documents)


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
    with rt.db.reading() as session:
        stamp = repository.seeded_stamp(session, tenant_id)
        if stamp is not None:
            # One session per batch: the stamp check and reading the hits' text.
            index = _indexes.get((rt.db.url, tenant_id), stamp,
                                 lambda: _build_index(rt, tenant_id))
            allowed = access.searchable_documents(principal, index.documents.values())
            for query in queries:
                yield query, _answer(session, tenant_id, index, query, k, allowed)
            return
    _seed(rt, tenant_id)
    yield from search_many(rt, tenant_id, queries, k=k, principal=principal)


def _answer(session: Session, tenant_id: int, index: TenantIndex, query: str, k: int,
            allowed: frozenset[int] | None) -> list[SearchHit]:
    text = query.strip()
    if not text:
        raise invalid("query", "検索語を入力してください。")
    tokens = index.analyzer.query_tokens(text[:MAX_QUERY_CHARS])
    return _hydrate(session, tenant_id, index, index.backend.search(tokens, k=k,
                                                                    documents=allowed))


def _hydrate(session: Session, tenant_id: int, index: TenantIndex,
             hits: list[Hit]) -> list[SearchHit]:
    rows = repository.passages_by_ids(session, tenant_id, [hit.passage_id for hit in hits])
    out: list[SearchHit] = []
    for hit in hits:
        passage = rows.get(hit.passage_id)
        meta = index.documents.get(passage.document_id) if passage is not None else None
        if passage is None or meta is None:
            continue
        out.append(SearchHit(passage.id, meta.title, meta.version, passage.section,
                             passage.context, passage.page, hit.score, passage.text))
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


def counts(rt: Runtime, tenant_id: int) -> dict[str, int]:
    with rt.db.reading() as session:
        return repository.counts(session, tenant_id)
