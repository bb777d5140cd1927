"""Read use cases: the documents a principal may see, counts, the administrators'
knowledge pages (/admin/knowledge), and the reads other domains need (synonyms, tokens)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ushiro.audit import AuditEvent, recent_events
from ushiro.core.errors import not_found
from ushiro.core.runtime import Runtime
from ushiro.identity import Principal, Role
from ushiro.knowledge import access, repository
from ushiro.knowledge.choices import DocumentKind
from ushiro.knowledge.models import Document
from ushiro.knowledge.retrieval.synonyms import SynonymSet, effective
from ushiro.knowledge.schemas import (
    DocMeta,
    DocumentDetail,
    DocumentOut,
    KnowledgeOverview,
    PassageOut,
    VersionOut,
)

# The document page is for checking how a file was cut, not for reading it: a very long
# document shows its first passages only (the page says how many there are).
MAX_PASSAGES_SHOWN = 500
_ADDED = ("knowledge.document.added", "knowledge.document.new_version")
_RETIRED = "knowledge.document.retire"


def synonym_state(rt: Runtime, tenant_id: int) -> tuple[str | None, SynonymSet]:
    """The tenant's knowledge stamp (None before its first use of knowledge) and its
    synonym set (the shipped one until it changes it)."""
    with rt.db.reading() as session:
        stamp = repository.seeded_stamp(session, tenant_id)
        synonyms = effective(repository.synonym_changes(session, tenant_id))
    return stamp, synonyms


def passage_tokens(rt: Runtime, tenant_id: int, ids: list[int]) -> dict[int, list[str]]:
    """The analysed words of these passages of the tenant (others' ids are left out)."""
    with rt.db.reading() as session:
        found = repository.passages_by_ids(session, tenant_id, ids)
    return {pid: passage.tokens.split() for pid, passage in found.items()}


def admin_overview(rt: Runtime, principal: Principal) -> KnowledgeOverview:
    """The tenant's current documents (administrators see every one), retired documents,
    the departments a restriction may name, and row counts."""
    access.require_manager(principal)
    documents = list_documents(rt, principal)
    with rt.db.reading() as session:
        retired = [(d.id, d.name, d.title, d.current_version)
                   for d in repository.retired_documents(session, principal.tenant_id)]
        departments = sorted(repository.departments_by_name(session, principal.tenant_id))
        totals = repository.counts(session, principal.tenant_id)
    totals["current_passages"] = sum(d.passages for d in documents)
    return KnowledgeOverview(documents, retired, departments, totals)


def document_detail(rt: Runtime, principal: Principal, document_id: int) -> DocumentDetail:
    """One document of the principal's tenant (another tenant's is *not found*)."""
    access.require_manager(principal)
    tenant_id = principal.tenant_id
    with rt.db.reading() as session:
        document = repository.document_by_id(session, tenant_id, document_id)
        if document is None:
            raise not_found("文書")
        rows = repository.versions_of(session, document.id)
        current = next((v for v in rows if v.is_current), None)
        passages = [] if current is None else repository.passages_of_version(
            session, current.id, MAX_PASSAGES_SHOWN)
        events = recent_events(session, tenant_id, 1000, "kb_document", str(document.id))
        names = repository.department_names(session, tenant_id)
        departments = sorted(names[i] for i in repository.department_ids(session, document.id)
                             if i in names)
        added_by = _added_by(events)
        retired = None if current else next((e for e in events if e.action == _RETIRED), None)
        return DocumentDetail(
            document.id, document.name, document.title, document.min_role, departments,
            [VersionOut(v.version, v.effective_date, v.source_filename, v.format, v.size,
                        v.passage_count, v.is_current, v.created_at,
                        added_by.get(v.version, "")) for v in rows],
            [PassageOut(p.ordinal, p.section, p.context, p.page, p.text) for p in passages],
            retired.actor if retired else None, retired.at if retired else None,
            sorted(names.values()), kind_of(document))


def _added_by(events: list[AuditEvent]) -> dict[int, str]:
    """Version number → who added it, from the audit log (the version rows do not say)."""
    found: dict[int, str] = {}
    for event in events:  # newest first; a version number is only ever added once
        version = (event.after or {}).get("version")
        if event.action in _ADDED and isinstance(version, int):
            found.setdefault(version, event.actor)
    return found


def doc_meta(document: Document, version: int, departments: dict[int, list[int]]) -> DocMeta:
    """What search and the listings need to know of a document: its current version, who
    may search it and its kind."""
    return DocMeta(document.id, document.name, document.title, version,
                   Role(document.min_role) if document.min_role else None,
                   frozenset(departments.get(document.id, ())), kind_of(document))


def kind_of(document: Document) -> DocumentKind:
    # A value no release wrote (edited by hand) reads as the default, never as an error.
    return DocumentKind.parse(document.kind) or DocumentKind.COMPANY  # type: ignore[return-value]


def list_documents(rt: Runtime, principal: Principal) -> list[DocumentOut]:
    """The current documents of the principal's tenant that it may search."""
    tenant_id = principal.tenant_id
    with rt.db.reading() as session:
        names = repository.department_names(session, tenant_id)
        departments = repository.departments_of_documents(session, tenant_id)
        out = []
        for d, v in repository.current_documents(session, tenant_id):
            meta = doc_meta(d, v.version, departments)
            if access.may_search(principal, meta):
                out.append(DocumentOut(d.id, d.name, d.title, v.version, v.effective_date,
                                       v.source_filename, v.passage_count, d.min_role,
                                       sorted(names[i] for i in meta.department_ids),
                                       meta.kind))
    return out


def has_documents(session: Session, tenant_id: int) -> bool:
    """Whether the tenant has anything to cite, asked inside another domain's unit of work
    (the desk's request-created event), hence the caller's session."""
    return repository.has_documents(session, tenant_id)


def counts(rt: Runtime, principal: Principal) -> dict[str, int]:
    """How many documents, versions and passages the principal's tenant holds (numbers
    only, which every member may know)."""
    with rt.db.reading() as session:
        return repository.counts(session, principal.tenant_id)
