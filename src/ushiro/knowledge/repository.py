"""Knowledge queries. Never commits."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import Row, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ushiro.identity import Department
from ushiro.knowledge.models import (
    Document,
    DocumentDepartment,
    DocumentVersion,
    KnowledgeState,
    Passage,
    PassageVector,
    Synonym,
)

# Read before every search: built once, which halves the cost of the check.
_SEEDED_STAMP = select(KnowledgeState.stamp).where(
    KnowledgeState.tenant_id == bindparam("tenant_id"), KnowledgeState.synonyms_seeded.is_(True))


def seeded_stamp(session: Session, tenant_id: int) -> str | None:
    """The generation stamp, or None while the tenant's synonyms are not seeded yet."""
    return session.scalar(_SEEDED_STAMP, {"tenant_id": tenant_id})


def lock_state(session: Session, tenant_id: int) -> KnowledgeState:
    """The tenant's state row, created if missing, locked until the transaction ends."""
    dialect = session.get_bind().dialect.name
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(upsert(KnowledgeState).values(tenant_id=tenant_id, generation=0, stamp="",
                                                  synonyms_seeded=False)
                    .on_conflict_do_nothing())
    stmt = (select(KnowledgeState).where(KnowledgeState.tenant_id == tenant_id)
            .with_for_update().execution_options(populate_existing=True))
    return session.scalars(stmt).one()


def synonym_changes(session: Session, tenant_id: int) -> list[tuple[str, str, str]]:
    """The tenant's changes to the shipped synonyms: (canonical, variant, op), in order."""
    stmt = (select(Synonym.canonical, Synonym.variant, Synonym.op)
            .where(Synonym.tenant_id == tenant_id).order_by(Synonym.id))
    return [(c, v, op) for c, v, op in session.execute(stmt)]


def add_synonym_changes(session: Session, tenant_id: int, pairs: Iterable[tuple[str, str]],
                        op: str) -> int:
    rows = [{"tenant_id": tenant_id, "canonical": c, "variant": v, "op": op} for c, v in pairs]
    if rows:
        session.execute(insert(Synonym), rows)
    return len(rows)


def delete_synonym_changes(session: Session, tenant_id: int,
                           pairs: Iterable[tuple[str, str]]) -> int:
    count = 0
    for canonical, variant in pairs:
        result: Any = session.execute(delete(Synonym).where(
            Synonym.tenant_id == tenant_id, Synonym.canonical == canonical,
            Synonym.variant == variant))
        count += int(result.rowcount or 0)
    return count


def synonyms_digest(session: Session, tenant_id: int) -> str | None:
    """The digest of the synonym set the tenant's passages were analysed with."""
    return session.scalar(select(KnowledgeState.synonyms_digest)
                          .where(KnowledgeState.tenant_id == tenant_id))


def document_by_name(session: Session, tenant_id: int, name: str) -> Document | None:
    stmt = select(Document).where(Document.tenant_id == tenant_id, Document.name == name)
    return session.scalars(stmt).first()


def current_version(session: Session, document_id: int) -> DocumentVersion | None:
    stmt = select(DocumentVersion).where(DocumentVersion.document_id == document_id,
                                         DocumentVersion.is_current.is_(True))
    return session.scalars(stmt).first()


def department_ids(session: Session, document_id: int) -> list[int]:
    stmt = (select(DocumentDepartment.department_id)
            .where(DocumentDepartment.document_id == document_id)
            .order_by(DocumentDepartment.department_id))
    return list(session.scalars(stmt))


def set_departments(session: Session, document_id: int, ids: list[int]) -> None:
    session.execute(delete(DocumentDepartment)
                    .where(DocumentDepartment.document_id == document_id))
    for department_id in sorted(set(ids)):
        session.add(DocumentDepartment(document_id=document_id, department_id=department_id))


def departments_by_name(session: Session, tenant_id: int) -> dict[str, int]:
    stmt = select(Department.name, Department.id).where(Department.tenant_id == tenant_id)
    return dict(session.execute(stmt).all())


def department_names(session: Session, tenant_id: int) -> dict[int, str]:
    return {id_: name for name, id_ in departments_by_name(session, tenant_id).items()}


def insert_passages(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(Passage), rows)


def current_documents(session: Session,
                      tenant_id: int) -> list[tuple[Document, DocumentVersion]]:
    stmt = (select(Document, DocumentVersion)
            .join(DocumentVersion, DocumentVersion.document_id == Document.id)
            .where(Document.tenant_id == tenant_id, DocumentVersion.is_current.is_(True))
            .order_by(Document.id))
    return [(d, v) for d, v in session.execute(stmt)]


def departments_of_documents(session: Session, tenant_id: int) -> dict[int, list[int]]:
    stmt = (select(DocumentDepartment.document_id, DocumentDepartment.department_id)
            .join(Document, Document.id == DocumentDepartment.document_id)
            .where(Document.tenant_id == tenant_id))
    result: dict[int, list[int]] = defaultdict(list)
    for document_id, department_id in session.execute(stmt):
        result[document_id].append(department_id)
    return result


def searchable_passages(session: Session, tenant_id: int) -> Iterator[Row[int, int, str]]:
    """(id, document_id, tokens) of every passage of a current version, by id."""
    stmt = (select(Passage.id, Passage.document_id, Passage.tokens)
            .join(DocumentVersion, DocumentVersion.id == Passage.version_id)
            .where(Passage.tenant_id == tenant_id, DocumentVersion.is_current.is_(True))
            .order_by(Passage.id))
    yield from session.execute(stmt.execution_options(yield_per=2000))


def shown_passages(session: Session, tenant_id: int
                   ) -> Iterator[Row[int, int, str, str, int | None, str]]:
    """(id, document_id, section, context, page, text) of every passage of a current
    version: what a search hit shows."""
    stmt = (select(Passage.id, Passage.document_id, Passage.section, Passage.context,
                   Passage.page, Passage.text)
            .join(DocumentVersion, DocumentVersion.id == Passage.version_id)
            .where(Passage.tenant_id == tenant_id, DocumentVersion.is_current.is_(True)))
    yield from session.execute(stmt.execution_options(yield_per=2000))


def current_passage_texts(session: Session, tenant_id: int) -> list[Row[int, str, str]]:
    stmt = (select(Passage.id, Passage.section, Passage.text)
            .join(DocumentVersion, DocumentVersion.id == Passage.version_id)
            .where(Passage.tenant_id == tenant_id, DocumentVersion.is_current.is_(True))
            .order_by(Passage.id))
    return list(session.execute(stmt).all())


def passage_vectors(session: Session, tenant_id: int, model: str) -> dict[int, str]:
    """passage id → stored vector (encoded) by ``model``, for the current passages."""
    stmt = (select(PassageVector.passage_id, PassageVector.vector)
            .join(Passage, Passage.id == PassageVector.passage_id)
            .join(DocumentVersion, DocumentVersion.id == Passage.version_id)
            .where(PassageVector.tenant_id == tenant_id, PassageVector.model == model,
                   DocumentVersion.is_current.is_(True)))
    return dict(session.execute(stmt.execution_options(yield_per=2000)).all())


def add_passage_vectors(session: Session, tenant_id: int, model: str, dimension: int,
                        vectors: dict[int, str]) -> None:
    """Store vectors; one another process stored meanwhile is kept (same model, same text)."""
    if not vectors:
        return
    dialect = session.get_bind().dialect.name
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    rows = [{"passage_id": passage_id, "model": model, "tenant_id": tenant_id,
             "dimension": dimension, "vector": vector} for passage_id, vector in vectors.items()]
    session.execute(upsert(PassageVector).on_conflict_do_nothing(), rows)


def update_passage_tokens(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(update(Passage), rows)


def passages_by_ids(session: Session, tenant_id: int, ids: list[int]) -> dict[int, Passage]:
    if not ids:
        return {}
    stmt = select(Passage).where(Passage.tenant_id == tenant_id, Passage.id.in_(ids))
    return {p.id: p for p in session.scalars(stmt)}


# Asked for every new request (desk intake): built once.
_HAS_DOCUMENTS = (select(DocumentVersion.id)
                  .where(DocumentVersion.tenant_id == bindparam("tenant_id"),
                         DocumentVersion.is_current.is_(True))
                  .limit(1))


def has_documents(session: Session, tenant_id: int) -> bool:
    """Whether the tenant has a document in search (a current version)."""
    return session.scalar(_HAS_DOCUMENTS, {"tenant_id": tenant_id}) is not None


def counts(session: Session, tenant_id: int) -> dict[str, int]:
    def count(model: Any) -> int:
        stmt = select(func.count()).select_from(model).where(model.tenant_id == tenant_id)
        return int(session.scalar(stmt) or 0)

    return {"documents": count(Document), "versions": count(DocumentVersion),
            "passages": count(Passage)}


def document_by_id(session: Session, tenant_id: int, document_id: int) -> Document | None:
    stmt = select(Document).where(Document.tenant_id == tenant_id, Document.id == document_id)
    return session.scalars(stmt).first()


def versions_of(session: Session, document_id: int) -> list[DocumentVersion]:
    """Every version of a document, newest first."""
    stmt = (select(DocumentVersion).where(DocumentVersion.document_id == document_id)
            .order_by(DocumentVersion.version.desc()))
    return list(session.scalars(stmt))


def passages_of_version(session: Session, version_id: int, limit: int) -> list[Passage]:
    stmt = (select(Passage).where(Passage.version_id == version_id)
            .order_by(Passage.ordinal).limit(limit))
    return list(session.scalars(stmt))


def retired_documents(session: Session, tenant_id: int) -> list[Document]:
    """Documents without a current version: taken out of search, their versions kept."""
    current = (select(DocumentVersion.id)
               .where(DocumentVersion.document_id == Document.id,
                      DocumentVersion.is_current.is_(True)))
    stmt = (select(Document).where(Document.tenant_id == tenant_id, ~current.exists())
            .order_by(Document.id))
    return list(session.scalars(stmt))
