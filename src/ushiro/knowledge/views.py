"""The administrators' knowledge pages (/admin/knowledge): documents, versions, passages."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from ushiro.core.limits import Id
from ushiro.core.runtime import Runtime
from ushiro.identity import Principal, Role
from ushiro.knowledge import ingest, queries
from ushiro.knowledge.choices import DocumentKind
from ushiro.knowledge.schemas import DocumentIn, FileOutcome, parse_kind
from ushiro.web.deps import CsrfChecked, PagePrincipal, RuntimeDep
from ushiro.web.templating import render

router = APIRouter(include_in_schema=False)

def _documents_page(request: Request, rt: Runtime, principal: Principal,
                    outcomes: list[FileOutcome] | None = None) -> Response:
    outcomes = outcomes or []
    failed = [o.error for o in outcomes if o.error is not None]
    # Nothing stored at all: the first file's error decides the status; otherwise 200.
    status = failed[0].status if failed and len(failed) == len(outcomes) else 200
    return render(request, "knowledge/admin_documents.html",
                  {"overview": queries.admin_overview(rt, principal), "outcomes": outcomes,
                   "roles": Role, "kinds": DocumentKind,
                   "max_bytes": rt.settings.max_document_bytes}, status)


@router.get("/admin/knowledge")
def documents_page(request: Request, principal: PagePrincipal, rt: RuntimeDep) -> Response:
    return _documents_page(request, rt, principal)


@router.post("/admin/knowledge", dependencies=[CsrfChecked])
def upload_documents(request: Request, principal: PagePrincipal, rt: RuntimeDep,
                     files: Annotated[list[UploadFile] | None, File()] = None,
                     title: Annotated[str, Form()] = "",
                     effective_date: Annotated[date | None, Form()] = None,
                     min_role: Annotated[Role | None, Form()] = None,
                     departments: Annotated[list[str] | None, Form()] = None,
                     kind: Annotated[str, Form()] = "") -> Response:
    # An empty kind keeps an existing document's kind (a new one: company rule).
    template = DocumentIn("", b"", title=title.strip() or None, effective_date=effective_date,
                          min_role=min_role, departments=departments or None,
                          kind=parse_kind(kind) if kind.strip() else None)
    sources = [(f.filename, f.file) for f in files or [] if f.filename]
    outcomes = ingest.add_files(rt, principal, template, sources)
    return _documents_page(request, rt, principal, outcomes)


@router.get("/admin/knowledge/{document_id}")
def document_page(request: Request, principal: PagePrincipal, rt: RuntimeDep,
                  document_id: Id, retired: str = "", restricted: str = "",
                  kind_saved: str = "") -> Response:
    detail = queries.document_detail(rt, principal, document_id)
    return render(request, "knowledge/admin_document.html",
                  {"doc": detail, "roles": Role, "kinds": DocumentKind,
                   "max_shown": queries.MAX_PASSAGES_SHOWN,
                   "retired_notice": bool(retired), "restricted_notice": bool(restricted),
                   "kind_notice": bool(kind_saved)})


@router.post("/admin/knowledge/{document_id}/restriction", dependencies=[CsrfChecked])
def restrict_document(principal: PagePrincipal, rt: RuntimeDep, document_id: Id,
                      min_role: Annotated[str, Form()] = "",
                      departments: Annotated[list[str] | None, Form()] = None) -> Response:
    # An empty choice is a choice here: "everyone" (the upload form's empty one keeps).
    ingest.restrict_document(rt, principal, document_id,
                              min_role=Role(min_role) if min_role else None,
                              departments=departments or [])
    return RedirectResponse(f"/admin/knowledge/{document_id}?restricted=1", status_code=303)


@router.post("/admin/knowledge/{document_id}/kind", dependencies=[CsrfChecked])
def set_kind(principal: PagePrincipal, rt: RuntimeDep, document_id: Id,
             kind: Annotated[str, Form()] = "") -> Response:
    ingest.set_document_kind(rt, principal, document_id, parse_kind(kind))
    return RedirectResponse(f"/admin/knowledge/{document_id}?kind_saved=1", status_code=303)


@router.post("/admin/knowledge/{document_id}/retire", dependencies=[CsrfChecked])
def retire_document(principal: PagePrincipal, rt: RuntimeDep, document_id: Id) -> Response:
    ingest.retire_document(rt, principal, document_id=document_id)
    return RedirectResponse(f"/admin/knowledge/{document_id}?retired=1", status_code=303)
