"""Managing documents already added: who may search one, its kind, and taking one out of
search."""

from __future__ import annotations

from ushiro import audit
from ushiro.core.clock import now
from ushiro.core.errors import ErrorCode, UshiroError, not_found
from ushiro.core.runtime import Runtime
from ushiro.identity import Principal, Role
from ushiro.knowledge import access, repository
from ushiro.knowledge.choices import DocumentKind
from ushiro.knowledge.ingest.documents import department_ids
from ushiro.knowledge.schemas import RetireResult
from ushiro.knowledge.state import bump, ready_state


def restrict_document(rt: Runtime, principal: Principal, document_id: int,
                      *, min_role: Role | None, departments: list[str]) -> bool:
    """Set exactly who may search a document: a role floor and departments, or nobody
    named (None, []): everyone in the tenant. Unlike a restriction given with an upload,
    where "not given" keeps the document's setting, this can also lift one. True when
    something changed."""
    actor, tenant_id = access.acting(principal), principal.tenant_id
    with rt.db.transaction() as session:
        state = ready_state(session, tenant_id, actor)
        document = repository.document_by_id(session, tenant_id, document_id)
        if document is None:
            raise not_found("文書")
        ids = department_ids(session, tenant_id, departments) or []
        role = min_role.value if min_role else None
        before = {"restrict_role": document.min_role,
                  "restrict_departments": repository.department_ids(session, document.id)}
        after = {"restrict_role": role, "restrict_departments": ids}
        if after == before:
            return False
        document.min_role = role
        repository.set_departments(session, document.id, ids)
        document.updated_at = now()
        bump(state)  # the index keeps each document's restriction
        old, new = audit.changes(before, after)
        audit.record(session, tenant_id=tenant_id, actor=actor,
                     action="knowledge.document.restrict", object_type="kb_document",
                     object_id=document.id, before=old, after=new)
    return True


def set_document_kind(rt: Runtime, principal: Principal, document_id: int,
                      kind: DocumentKind) -> bool:
    """Make a document a company rule, reference material or an FAQ (search ranks by it).
    True when it changed."""
    actor, tenant_id = access.acting(principal), principal.tenant_id
    with rt.db.transaction() as session:
        state = ready_state(session, tenant_id, actor)
        document = repository.document_by_id(session, tenant_id, document_id)
        if document is None:
            raise not_found("文書")
        if document.kind == kind.value:
            return False
        before = {"kind": document.kind}
        document.kind = kind.value
        document.updated_at = now()
        bump(state)  # the index keeps each document's kind
        audit.record(session, tenant_id=tenant_id, actor=actor,
                     action="knowledge.document.update", object_type="kb_document",
                     object_id=document.id, before=before, after={"kind": kind.value})
    return True


def retire_document(rt: Runtime, principal: Principal, *,
                    document_id: int | None = None, name: str | None = None) -> RetireResult:
    """Take a document (by id or name) out of search. Its versions and passages stay for
    old citations; adding a file of the same name later makes it current again as the
    next version."""
    actor, tenant_id = access.acting(principal), principal.tenant_id
    with rt.db.transaction() as session:
        state = ready_state(session, tenant_id, actor)
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
        bump(state)
        audit.record(session, tenant_id=tenant_id, actor=actor,
                     action="knowledge.document.retire", object_type="kb_document",
                     object_id=document.id,
                     before={"name": document.name, "version": current.version,
                             "passages": current.passage_count},
                     after={"current_version": None})
        return RetireResult(document.id, document.name, document.title, current.version)
