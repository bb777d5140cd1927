"""REST API for drafts and self-service modes (``/api/v1``). Bearer-token authentication."""

from __future__ import annotations

from fastapi import APIRouter

from ushiro.answers import selfservice, service
from ushiro.answers.schemas import (
    ApproveIn,
    AutomationIn,
    AutomationOut,
    DraftOut,
    PromoteIn,
    PromotionOut,
    RejectIn,
)
from ushiro.core.limits import Id
from ushiro.web.deps import ApiPrincipal, RuntimeDep
from ushiro.web.openapi import ERROR_RESPONSES
from ushiro.web.strict_json import ApiRoute

router = APIRouter(prefix="/api/v1", tags=["answers"],
                   route_class=ApiRoute, responses=ERROR_RESPONSES)


@router.get("/requests/{request_id}/drafts", response_model=list[DraftOut])
def list_drafts(request_id: Id, principal: ApiPrincipal, rt: RuntimeDep) -> list[DraftOut]:
    """Staff: the request's answer drafts, newest first, with their revisions."""
    return service.drafts_for_request(rt, principal, request_id)


@router.post("/requests/{request_id}/drafts", status_code=201, response_model=DraftOut)
def generate(request_id: Id, principal: ApiPrincipal, rt: RuntimeDep) -> DraftOut:
    """Staff: draft an answer from the knowledge base now (earlier open drafts are
    superseded). An abstention (`abstained: true`, no citations) means a person answers."""
    draft = service.generate_draft(rt, principal, request_id)
    assert draft is not None
    return service.draft_out(rt, principal, draft.id)


@router.post("/drafts/{draft_id}/approve", response_model=DraftOut)
def approve(draft_id: Id, data: ApproveIn, principal: ApiPrincipal,
            rt: RuntimeDep) -> DraftOut:
    """Staff: approve with the final text (edits are stored as a revision) and send it."""
    service.approve(rt, principal, draft_id, data)
    return service.draft_out(rt, principal, draft_id)


@router.post("/drafts/{draft_id}/reject", response_model=DraftOut)
def reject(draft_id: Id, data: RejectIn, principal: ApiPrincipal,
           rt: RuntimeDep) -> DraftOut:
    """Staff: reject with a reason; nothing is sent."""
    service.reject(rt, principal, draft_id, data.reason)
    return service.draft_out(rt, principal, draft_id)


@router.post("/drafts/{draft_id}/promote", status_code=201, response_model=PromotionOut)
def promote(draft_id: Id, principal: ApiPrincipal, rt: RuntimeDep,
            data: PromoteIn | None = None) -> PromotionOut:
    """Staff: make the approved answer an FAQ item in the knowledge base (`faq-REQ-n`)."""
    draft, added = service.promote_to_faq(rt, principal, draft_id, data or PromoteIn())
    return PromotionOut(draft_id=draft.id, document_id=added.document_id, name=added.name,
                        title=added.title, version=added.version, passages=added.passages)


@router.get("/categories/{category_id}/automation", response_model=AutomationOut)
def get_automation(category_id: Id, principal: ApiPrincipal, rt: RuntimeDep) -> AutomationOut:
    """Admin: the category's self-service mode and the review numbers that decide it."""
    return selfservice.get_mode(rt, principal, category_id)


@router.put("/categories/{category_id}/automation", response_model=AutomationOut)
def set_automation(category_id: Id, data: AutomationIn, principal: ApiPrincipal,
                   rt: RuntimeDep) -> AutomationOut:
    """Admin: set draft_only, suggest or auto_send. suggest/auto_send are refused (409
    `self_service_not_earned`) until the category's last N reviewed drafts were accepted
    without substantive edit at the threshold rate (Settings selfservice_window/threshold)."""
    return selfservice.set_mode(rt, principal, category_id, data.mode)
