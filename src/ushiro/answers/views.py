"""Pages: the draft panel of the desk request page, its review actions, and the
administrators' self-service page (/admin/automation)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ushiro.answers import compare, conflicts, selfservice, service
from ushiro.answers.choices import AutomationMode, DraftStatus
from ushiro.answers.schemas import ApproveIn, CitationOut, DraftOut, PromoteIn
from ushiro.core.errors import ErrorCode, UshiroError
from ushiro.core.limits import Id
from ushiro.core.runtime import Runtime
from ushiro.desk import RequestOut, Status
from ushiro.identity import Principal, WorkType
from ushiro.web.deps import CsrfChecked, PagePrincipal, RuntimeDep
from ushiro.web.templating import render

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class CitedPassage:
    citation: CitationOut
    segments: list[compare.Segment]


def _current(drafts: list[DraftOut]) -> DraftOut | None:
    """The draft to work on: the open one, else the latest."""
    open_ = [d for d in drafts if d.status in (DraftStatus.PROPOSED, DraftStatus.APPROVED)]
    return open_[0] if open_ else (drafts[0] if drafts else None)


def draft_panel(rt: Runtime, principal: Principal, request: RequestOut) -> dict[str, Any]:
    """The draft side panel and, while the draft is open, the reply editor it loads: the
    draft's text to edit and send, its cited clauses beside it with what it quotes marked.
    A holding reply (abstained) leaves the request in progress, never resolved."""
    drafts = service.drafts_for_request(rt, principal, request.id)
    current = _current(drafts)
    passages = [CitedPassage(c, compare.highlight(c.text, current.answer))
                for c in current.citations] if current else []
    panel: dict[str, Any] = {
        "template": "answers/_panel.html", "request_id": request.id, "current": current,
        "older": [d for d in drafts if d is not current], "passages": passages,
        "conflicts": conflicts.draft_conflicts(rt, principal, current),
        "draft_statuses": Status, "accepted_below": compare.ACCEPTED_BELOW}
    if current is not None and current.status in (DraftStatus.PROPOSED, DraftStatus.APPROVED):
        panel["editor"] = "answers/_editor.html"
        panel["then_status"] = Status.IN_PROGRESS if current.abstained else Status.RESOLVED
    return panel


def _back(request_id: Id, place: str = "draft-panel") -> Response:
    fragment = f"#{place}" if place else ""
    return RedirectResponse(f"/desk/requests/{request_id}{fragment}", status_code=303)


@router.post("/desk/requests/{request_id}/drafts", dependencies=[CsrfChecked])
def generate(principal: PagePrincipal, rt: RuntimeDep, request_id: Id) -> Response:
    """再作成: a new draft from the knowledge base (the open one is superseded)."""
    service.generate_draft(rt, principal, request_id)
    return _back(request_id, "reply-editor")


@router.post("/desk/drafts/{draft_id}/approve", dependencies=[CsrfChecked])
def approve(principal: PagePrincipal, rt: RuntimeDep, draft_id: Id,
            text: Annotated[str, Form()], reason: Annotated[str, Form()] = "",
            status: Annotated[Status | None, Form()] = None) -> Response:
    data = ApproveIn(text=text, reason=reason or None, status=status)
    draft = service.approve(rt, principal, draft_id, data)
    return _back(draft.request_id, "")  # the page's top: the new status, the thread


@router.post("/desk/drafts/{draft_id}/reject", dependencies=[CsrfChecked])
def reject(principal: PagePrincipal, rt: RuntimeDep, draft_id: Id,
           reason: Annotated[str, Form()] = "") -> Response:
    draft = service.reject(rt, principal, draft_id, reason)
    return _back(draft.request_id)


@router.post("/desk/drafts/{draft_id}/promote", dependencies=[CsrfChecked])
def promote(principal: PagePrincipal, rt: RuntimeDep, draft_id: Id,
            question: Annotated[str, Form()] = "",
            answer: Annotated[str, Form()] = "") -> Response:
    data = PromoteIn(question=question or None, answer=answer or None)
    draft, _added = service.promote_to_faq(rt, principal, draft_id, data)
    return _back(draft.request_id)


@router.get("/admin/automation")
def automation_page(request: Request, principal: PagePrincipal, rt: RuntimeDep,
                    saved: str = "") -> Response:
    rows = selfservice.overview(rt, principal)
    return render(request, "answers/admin_automation.html",
                  {"rows": rows, "modes": AutomationMode, "work_types": WorkType,
                   "saved": saved})


@router.post("/admin/automation", dependencies=[CsrfChecked])
def set_automation(request: Request, principal: PagePrincipal, rt: RuntimeDep,
                   category_id: Annotated[Id, Form()],
                   mode: Annotated[AutomationMode, Form()]) -> Response:
    try:
        selfservice.set_mode(rt, principal, category_id, mode)
    except UshiroError as error:
        if error.code is not ErrorCode.SELF_SERVICE_NOT_EARNED:
            raise
        # Refused: the page again, with the numbers that refused it next to the category.
        rows = selfservice.overview(rt, principal)
        return render(request, "answers/admin_automation.html",
                      {"rows": rows, "modes": AutomationMode, "work_types": WorkType,
                       "error": error, "error_category": category_id}, error.status)
    return RedirectResponse("/admin/automation?saved=1", status_code=303)
