"""REST API for requests: ``/api/v1/requests``. Bearer-token authentication."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from ushiro.core.limits import Id, PageNumber
from ushiro.desk import queries, service
from ushiro.desk.access import as_requester
from ushiro.desk.choices import Channel, Status
from ushiro.desk.schemas import (
    MessageOut,
    QueueFilter,
    ReplyCreate,
    RequestChange,
    RequestCreate,
    RequestList,
    RequestOut,
)
from ushiro.identity import WorkType
from ushiro.web.deps import ApiPrincipal, RuntimeDep
from ushiro.web.openapi import ERROR_RESPONSES
from ushiro.web.strict_json import ApiRoute

router = APIRouter(prefix="/api/v1", tags=["requests"],
                   route_class=ApiRoute, responses=ERROR_RESPONSES)


class FollowUpCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=100_000)


@router.post("/requests", status_code=201, response_model=RequestOut)
def create_request(data: RequestCreate, principal: ApiPrincipal, rt: RuntimeDep,
                   idempotency_key: Annotated[str | None, Header()] = None) -> Response:
    """Open a request. Send an `Idempotency-Key` header to make retries safe."""
    submitted = service.submit_request(rt, principal, data, channel=Channel.API,
                                       idempotency_key=idempotency_key)
    out = queries.submitted_out(rt, principal, submitted)
    # Serialised here: returned as a model, FastAPI would validate it a second time against
    # response_model (kept for the OpenAPI schema) on the busiest endpoint.
    return Response(out.model_dump_json(), status_code=201, media_type="application/json")


@router.get("/requests", response_model=RequestList)
def list_requests(principal: ApiPrincipal, rt: RuntimeDep,
                  status: Status | None = None, q: Annotated[str, Query(max_length=500)] = "",
                  department_id: Id | None = None,
                  category_id: Id | None = None, work_type: WorkType | None = None,
                  assignee_id: Id | None = None,
                  page: Annotated[PageNumber, Query()] = 1,
                  per_page: Annotated[int, Query(ge=1, le=200)] = 50) -> RequestList:
    """Requests visible to the caller (their own for requesters; the queue for staff)."""
    f = QueueFilter(status=status.value if status else None, text=q, department_id=department_id,
                    category_id=category_id, work_type=work_type.value if work_type else None,
                    assignee_id=assignee_id, page=page, per_page=per_page)
    return queries.list_requests(rt, principal, f)


@router.get("/requests/{request_id}", response_model=RequestOut)
def get_request(request_id: Id, principal: ApiPrincipal, rt: RuntimeDep) -> RequestOut:
    """One request with its messages and attachments."""
    return queries.get_request(rt, principal, request_id)


@router.patch("/requests/{request_id}", response_model=RequestOut)
def update_request(request_id: Id, data: RequestChange, principal: ApiPrincipal,
                   rt: RuntimeDep) -> RequestOut:
    """Staff: change status, category, work type, priority, assignee, due date or tags."""
    service.change(rt, principal, request_id, data)
    return queries.get_request(rt, principal, request_id)


@router.post("/requests/{request_id}/replies", status_code=201, response_model=MessageOut)
def reply(request_id: Id, data: ReplyCreate, principal: ApiPrincipal,
          rt: RuntimeDep) -> MessageOut:
    """Staff: reply to the requester (by mail for mail requests) or add an internal note."""
    message = service.reply(rt, principal, request_id, data)
    return MessageOut(id=message.id, kind=message.kind,
                      author=message.author_label, body=message.body,
                      created_at=message.created_at, delivery=message.delivery)


@router.post("/requests/{request_id}/follow-ups", status_code=201, response_model=MessageOut)
def follow_up(request_id: Id, data: FollowUpCreate, principal: ApiPrincipal,
              rt: RuntimeDep) -> MessageOut:
    """The requester adds information to their own request."""
    # Own requests only, staff included (as in the portal): a follow-up is recorded as a
    # message from the requester and reopens the request.
    message = service.follow_up(rt, as_requester(principal), request_id, data.body)
    return MessageOut(id=message.id, kind=message.kind,
                      author=message.author_label, body=message.body,
                      created_at=message.created_at)
