"""Adding documents: a file becomes a new document, or the next version of the document of
that name, with its passages; a file holding several rule sets becomes one document per
rule set (:mod:`.rulesets`).

Adding a file is all-or-nothing: the file is read, split and analysed before the
transaction (which on SQLite holds the one writer lock), and the document, its version,
every passage and the bump of the tenant's knowledge generation commit together with the
audit event, or not at all.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import BinaryIO

from sqlalchemy.orm import Session

from ushiro import audit
from ushiro.audit import Actor
from ushiro.core.clock import now
from ushiro.core.errors import ErrorCode, UshiroError, invalid
from ushiro.core.runtime import Runtime
from ushiro.core.text import one_line
from ushiro.identity import Principal, Role, require
from ushiro.knowledge import access, repository
from ushiro.knowledge.choices import AddStatus, DocumentKind
from ushiro.knowledge.ingest.extract import Extracted, check_size, extract
from ushiro.knowledge.ingest.limits import DocumentLimits
from ushiro.knowledge.ingest.passages import PassageDraft, split
from ushiro.knowledge.ingest.rulesets import rule_sets
from ushiro.knowledge.models import Document, DocumentVersion
from ushiro.knowledge.retrieval.synonyms import SynonymSet, analyzer_for
from ushiro.knowledge.retrieval.tokenize import Analyzer
from ushiro.knowledge.schemas import AddResult, DocumentIn, FileOutcome
from ushiro.knowledge.state import bump, ready_state, synonym_set


def document_name(filename: str) -> str:
    return one_line(PurePath(filename).stem, 200) or "document"


@dataclass(frozen=True)
class _Prepared:
    """What adding a file computes before its write transaction: the slow part (text,
    passages, Sudachi), so that the SQLite writer lock is held only for the writes."""

    format: str
    drafts: list[PassageDraft]
    digest: str
    synonyms: SynonymSet  # the tenant's synonyms the tokens were analysed with
    tokens: list[str] | None  # per draft; None: the file is the current version already


def add_document(rt: Runtime, principal: Principal, doc: DocumentIn) -> AddResult:
    """Add a file as a new document, or as the next version of the document of that name.

    The text is extracted, split and analysed before the write transaction; the
    transaction then stores the version and every passage at once, so search sees the
    whole document or nothing of it. Synonyms edited in between are noticed there (the
    tenant's changes to the shipped synonyms are read again, a few short rows) and the passages are then
    analysed again inside it. For the tenant's administrators (and its system principal)."""
    return _add(rt, access.acting(principal), principal.tenant_id, doc)


def publish_faq(rt: Runtime, principal: Principal, doc: DocumentIn) -> AddResult:
    """Add an answer a member of the desk approved as a FAQ document (of kind FAQ unless
    told otherwise). Unlike files, which administrators add, an operator may publish what
    they reviewed themselves."""
    require(principal, Role.OPERATOR)
    return _add(rt, principal.actor, principal.tenant_id,
                replace(doc, kind=doc.kind or DocumentKind.FAQ))


def add_file(rt: Runtime, principal: Principal, doc: DocumentIn) -> list[AddResult]:
    """Add a file as :func:`add_document` does, or, when it holds several rule sets (``#
    就業規則`` … ``# 賃金規程`` …, see :mod:`.rulesets`), each rule set as the document
    named after its title. Every part is read and analysed before the first is stored, so
    a part without text refuses the whole file. For the tenant's administrators."""
    actor, tenant_id = access.acting(principal), principal.tenant_id
    extracted = _extract(rt, doc)
    sets = rule_sets(extracted)
    if not sets:
        return [_add(rt, actor, tenant_id, doc, extracted)]
    if doc.title or doc.name:
        titles = "、".join(f"「{s.title}」" for s in sets)
        raise invalid("title", f"このファイルには複数の規程（{titles}）が含まれるため、"
                      "表示名は指定できません。各規程の見出しが文書名になります。")
    parts = [(replace(doc, name=one_line(s.title, 200)), s.extracted) for s in sets]
    prepared = [(part, _prepare(rt, tenant_id, str(part.name), str(part.name), part, found))
                for part, found in parts]
    return [_write(rt, actor, tenant_id, part, ready) for part, ready in prepared]


def _add(rt: Runtime, actor: Actor, tenant_id: int, doc: DocumentIn,
         extracted: Extracted | None = None) -> AddResult:
    name = one_line(doc.name or "", 200) or document_name(doc.filename)
    title = one_line(doc.title or "", 200) or name
    found = extracted or _extract(rt, doc)
    named = replace(doc, name=name)
    return _write(rt, actor, tenant_id, named, _prepare(rt, tenant_id, name, title, doc, found))


def _write(rt: Runtime, actor: Actor, tenant_id: int, doc: DocumentIn,
           prepared: _Prepared) -> AddResult:
    name = str(doc.name)
    title = one_line(doc.title or "", 200) or name
    digest, drafts = prepared.digest, prepared.drafts
    with rt.db.transaction() as session:
        state = ready_state(session, tenant_id, actor)
        departments = department_ids(session, tenant_id, doc.departments)
        document = repository.document_by_name(session, tenant_id, name)
        current = repository.current_version(session, document.id) if document else None
        if _unchanged(current, digest, doc):
            assert document is not None and current is not None
            if _update_document(session, actor, document, doc, departments):
                bump(state)
            return AddResult(document.id, name, document.title, current.version,
                             AddStatus.UNCHANGED, current.passage_count, digest,
                             DocumentKind(document.kind))
        tokens = _current_tokens(session, tenant_id, prepared)
        # In the transaction (5 MB: 10-20 ms), so that a refused file leaves nothing behind.
        rt.files.put(doc.data)  # content-addressed: kept for re-reading, never half-written
        status = AddStatus.ADDED if document is None else AddStatus.NEW_VERSION
        if document is None:
            document = _new_document(session, tenant_id, name, title,
                                     DocumentKind(doc.kind or DocumentKind.COMPANY))
        version = _store_version(session, document, current, doc, digest, prepared.format,
                                 drafts, tokens)
        _update_document(session, actor, document, doc, departments, audited=False)
        bump(state)
        audit.record(session, tenant_id=tenant_id, actor=actor,
                     action=f"knowledge.document.{status.value}", object_type="kb_document",
                     object_id=document.id, after=_described(document, version, departments))
    return AddResult(document.id, name, document.title, version.version, status, len(drafts),
                     digest, DocumentKind(document.kind))


def _extract(rt: Runtime, doc: DocumentIn) -> Extracted:
    return extract(doc.filename, doc.data, max_bytes=rt.settings.max_document_bytes,
                   limits=DocumentLimits.of(rt.settings))


def _prepare(rt: Runtime, tenant_id: int, name: str, title: str, doc: DocumentIn,
             extracted: Extracted) -> _Prepared:
    drafts = split(extracted, title)
    if not drafts:
        raise UshiroError(ErrorCode.DOCUMENT_UNREADABLE,
                          f"「{PurePath(doc.filename).name}」に本文が見つかりません。"
                          "中身のあるファイルを指定してください。", field="file")
    digest = hashlib.sha256(doc.data).hexdigest()
    with rt.db.reading() as session:
        synonyms = synonym_set(session, tenant_id)
        department_ids(session, tenant_id, doc.departments)  # refuse before the slow part
        document = repository.document_by_name(session, tenant_id, name)
        current = repository.current_version(session, document.id) if document else None
    if _unchanged(current, digest, doc):
        return _Prepared(str(extracted.format), drafts, digest, synonyms, None)
    return _Prepared(str(extracted.format), drafts, digest, synonyms,
                     _tokens(analyzer_for(synonyms), drafts))


def _current_tokens(session: Session, tenant_id: int, prepared: _Prepared) -> list[str]:
    """The passages' tokens under the tenant's synonyms as stored now: analysed again when
    they were edited since the file was prepared (rare)."""
    synonyms = synonym_set(session, tenant_id)
    if prepared.tokens is None or synonyms.digest != prepared.synonyms.digest:
        return _tokens(analyzer_for(synonyms), prepared.drafts)
    return prepared.tokens


def _new_document(session: Session, tenant_id: int, name: str, title: str,
                  kind: DocumentKind) -> Document:
    document = Document(tenant_id=tenant_id, name=name, title=title, kind=kind.value)
    session.add(document)
    session.flush()
    return document


def _unchanged(current: DocumentVersion | None, digest: str, doc: DocumentIn) -> bool:
    return current is not None and current.sha256 == digest and (
        doc.effective_date in (None, current.effective_date))


def _tokens(analyzer: Analyzer, drafts: list[PassageDraft]) -> list[str]:
    return [" ".join(analyzer.index_tokens(d.index_text)) for d in drafts]


def _described(document: Document, version: DocumentVersion,
               departments: list[int] | None) -> dict[str, object]:
    return {"name": document.name, "title": document.title, "kind": document.kind,
            "version": version.version,
            "file": version.source_filename, "sha256": version.sha256,
            "effective_date": version.effective_date, "passages": version.passage_count,
            "restrict_role": document.min_role, "restrict_departments": departments}


def department_ids(session: Session, tenant_id: int, names: list[str] | None) -> list[int] | None:
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
    """Apply a new title, kind or restriction given with the file; True when something
    changed."""
    before_departments = repository.department_ids(session, document.id)
    before = {"title": document.title, "kind": document.kind,
              "restrict_role": document.min_role, "restrict_departments": before_departments}
    after = dict(before)
    if doc.title:
        after["title"] = one_line(doc.title, 200)
    if doc.kind is not None:
        after["kind"] = DocumentKind(doc.kind).value  # a plain "reference" is taken too
    if doc.min_role is not None:
        after["restrict_role"] = doc.min_role.value
    if departments is not None:
        after["restrict_departments"] = departments
    if after == before:
        return False
    document.title = str(after["title"])
    document.kind = str(after["kind"])
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


def add_files(rt: Runtime, principal: Principal, template: DocumentIn,
              files: Sequence[tuple[str, BinaryIO]]) -> list[FileOutcome]:
    """Add each (filename, stream) like :func:`add_document`, with the title, date and
    restriction of ``template``. A bad file is reported in its outcome and stores nothing;
    the others are still added. A file over the size limit is refused before it is read."""
    access.require_manager(principal)  # refuse callers before reading anything
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
            outcomes.append(FileOutcome(filename, results=add_file(rt, principal, doc)))
        except UshiroError as error:
            outcomes.append(FileOutcome(filename, error=error))
    return outcomes
