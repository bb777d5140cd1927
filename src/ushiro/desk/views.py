"""Pages: the operators' queue and request page, the employees' portal and chat."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from ushiro.core.errors import invalid
from ushiro.core.limits import MAX_ID, Id, PageNumber, parse_id
from ushiro.desk import events, panels, queries, service
from ushiro.desk.access import as_requester
from ushiro.desk.choices import Channel, MessageKind, Priority, RequesterStatus, Status
from ushiro.desk.mail import views as mail_views
from ushiro.desk.schemas import (
    QueueFilter,
    ReplyCreate,
    RequestChange,
    RequestCreate,
    RequestOut,
    Upload,
)
from ushiro.identity import Principal, WorkType
from ushiro.web.deps import CsrfChecked, PagePrincipal, RuntimeDep
from ushiro.web.templating import render

router = APIRouter(include_in_schema=False)
CHOICES = {"statuses": Status, "priorities": Priority, "work_types": WorkType,
           "channels": Channel, "kinds": MessageKind}
# What requesters read (portal, chat): the same values, statuses in their words.
PORTAL_CHOICES = {**CHOICES, "statuses": RequesterStatus}
CHAT_POLL_SECONDS = 3


async def _uploads(files: list[UploadFile] | None) -> list[Upload]:
    result = []
    for f in files or []:
        if f.filename:
            result.append(Upload(f.filename, f.content_type or "application/octet-stream",
                                 await f.read()))
    return result


def _filter_id(value: str) -> int | None:
    """A queue filter's id: anything that is no id (a word, "²", out of range) filters
    nothing, as an unknown choice would."""
    return parse_id(value)


def _form_id(value: str, field: str) -> int | None:
    if not value:
        return None
    found = parse_id(value)
    if found is None:
        raise invalid(field, f"{field} は 1 から {MAX_ID} までの整数で指定してください。")
    return found


@router.get("/desk")
def queue(request: Request, principal: PagePrincipal, rt: RuntimeDep, q: str = "",
          status: str = "", department_id: str = "", category_id: str = "",
          work_type: str = "", assignee: str = "", page: PageNumber = 1) -> Response:
    f = QueueFilter(text=q, status=status or None, department_id=_filter_id(department_id),
                    category_id=_filter_id(category_id), work_type=work_type or None,
                    assignee_id=principal.user_id if assignee == "me" else _filter_id(assignee),
                    unassigned=assignee == "none", open_only=not status, page=max(page, 1))
    data = queries.queue_page(rt, principal, f)
    params = {"q": q, "status": status, "department_id": department_id,
              "category_id": category_id, "work_type": work_type, "assignee": assignee}
    pages = max(1, -(-data.requests.total // f.per_page))
    return render(request, "desk/queue.html", {
        "data": data, "f": params, "page": f.page, "pages": pages,
        "query": urlencode({k: v for k, v in params.items() if v}), **CHOICES})


@router.get("/desk/requests/{request_id}")
def request_page(request: Request, principal: PagePrincipal, rt: RuntimeDep,
                 request_id: Id) -> Response:
    data = queries.queue_page(rt, principal, QueueFilter(per_page=1))  # staff only
    item = queries.get_request(rt, principal, request_id)
    return render(request, "desk/request.html", {
        "item": item, "data": data, "panels": panels.collect(rt, principal, item),
        "reply_template": queries.reply_template(rt, principal, item), **CHOICES})


@router.post("/desk/requests/{request_id}/reply", dependencies=[CsrfChecked])
async def reply(request: Request, principal: PagePrincipal, rt: RuntimeDep, request_id: Id,
                body: Annotated[str, Form()], kind: Annotated[MessageKind, Form()],
                status: Annotated[Status | None, Form()] = None,
                files: Annotated[list[UploadFile] | None, File()] = None) -> Response:
    data = ReplyCreate(body=body, kind=kind, status=status)
    service.reply(rt, principal, request_id, data, await _uploads(files))
    return RedirectResponse(f"/desk/requests/{request_id}", status_code=303)


@router.post("/desk/requests/{request_id}/update", dependencies=[CsrfChecked])
def update(principal: PagePrincipal, rt: RuntimeDep, request_id: Id,
           status: Annotated[Status | None, Form()] = None,
           category_id: Annotated[str, Form()] = "",
           work_type: Annotated[WorkType | None, Form()] = None,
           priority: Annotated[Priority | None, Form()] = None,
           assignee_id: Annotated[str, Form()] = "",
           tags: Annotated[str | None, Form()] = None) -> Response:
    # Enum form fields are typed so that an unknown value is a 422, not a server error.
    change = RequestChange(
        status=status, category_id=_form_id(category_id, "category_id"), work_type=work_type,
        priority=priority, unassign=assignee_id == "none",
        assignee_id=None if assignee_id == "none" else _form_id(assignee_id, "assignee_id"),
        tags=None if tags is None else tags.replace("、", ",").split(","))
    service.change(rt, principal, request_id, change)
    return RedirectResponse(f"/desk/requests/{request_id}", status_code=303)


@router.get("/attachments/{attachment_id}")
def download(principal: PagePrincipal, rt: RuntimeDep, attachment_id: Id) -> Response:
    found, data = queries.attachment_for(rt, principal, attachment_id)
    # Always a download, never rendered inline: an uploaded HTML file must not run here.
    disposition = f"attachment; filename*=UTF-8''{quote(found.filename)}"
    return Response(data, media_type="application/octet-stream",
                    headers={"Content-Disposition": disposition})


@router.get("/portal")
def my_requests(request: Request, principal: PagePrincipal, rt: RuntimeDep,
                notice: str = "") -> Response:
    own = as_requester(principal)
    items = queries.list_requests(rt, own, QueueFilter(per_page=100))
    return render(request, "desk/portal.html", {"items": items, "notice_ref": notice,
                                                **PORTAL_CHOICES})


@router.get("/portal/new")
def new_request_page(request: Request, principal: PagePrincipal, rt: RuntimeDep) -> Response:
    return render(request, "desk/portal_new.html",
                  {"groups": queries.portal_categories(rt, principal), "form": {}})


@router.post("/portal/new", dependencies=[CsrfChecked])
async def new_request(request: Request, principal: PagePrincipal, rt: RuntimeDep,
                      title: Annotated[str, Form()], body: Annotated[str, Form()],
                      category: Annotated[str, Form()] = "",
                      files: Annotated[list[UploadFile] | None, File()] = None) -> Response:
    data = RequestCreate.model_construct(title=title, body=body, category=category or None,
                                         priority=Priority.NORMAL, tags=[])
    created = service.submit(rt, principal, data, channel=Channel.PORTAL,
                             uploads=await _uploads(files))
    return RedirectResponse(f"/portal/requests/{created.id}?created=1", status_code=303)


@router.get("/portal/requests/{request_id}")
def portal_request(request: Request, principal: PagePrincipal, rt: RuntimeDep,
                   request_id: Id, created: str = "") -> Response:
    own = as_requester(principal)
    item = queries.get_request(rt, own, request_id)
    return render(request, "desk/portal_request.html", {"item": item, "created": created,
                                                        **PORTAL_CHOICES})


@router.post("/portal/requests/{request_id}/follow-up", dependencies=[CsrfChecked])
async def follow_up(principal: PagePrincipal, rt: RuntimeDep, request_id: Id,
                    body: Annotated[str, Form()],
                    files: Annotated[list[UploadFile] | None, File()] = None) -> Response:
    own = as_requester(principal)
    service.follow_up(rt, own, request_id, body, await _uploads(files))
    return RedirectResponse(f"/portal/requests/{request_id}", status_code=303)


@router.get("/portal/chat")
def chat_page(request: Request, principal: PagePrincipal, rt: RuntimeDep,
              request_id: Id | None = None, new: str = "") -> Response:
    """The conversation named, else the current one (queries.current_chat), unless the
    employee asked to start a new question."""
    own = as_requester(principal)
    item: RequestOut | None = None
    if request_id:
        item = queries.get_request(rt, own, request_id)
    elif not new:
        item = queries.current_chat(rt, own)
    return _chat(request, rt, own, item, generate=False, full=True)


@router.get("/portal/chat/{request_id}/messages")
def chat_poll(request: Request, principal: PagePrincipal, rt: RuntimeDep, request_id: Id,
              after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0, status: str = "",
              auto: str = "") -> Response:
    """The chat's poll: what the requester may read after message ``after`` (204 when
    nothing changed since the page showed ``status``; ``auto``: it shows an automatic
    answer already)."""
    own = as_requester(principal)
    update = queries.chat_update(rt, own, request_id, after)
    changed = bool(update.messages) or update.request.status != status
    # A suggested answer can appear only while the request waits for a person (new).
    may_suggest = auto != "1" and update.request.status in (Status.NEW, Status.TRIAGED)
    instant = events.instant_answer(rt, own, request_id) if changed or may_suggest else None
    suggestion = may_suggest and instant is not None and instant.message_id is None
    if not changed and not suggestion:
        return Response(status_code=204)
    last = update.messages[-1].id if update.messages else after
    return render(request, "desk/_chat_update.html", {
        "item": update.request, "messages": update.messages, "instant": instant,
        "suggestion": suggestion, "after": last, **_chat_context()})


def _chat_context() -> dict[str, object]:
    return {"escalation_tag": service.ESCALATION_TAG, "poll_seconds": CHAT_POLL_SECONDS,
            **PORTAL_CHOICES}


def _chat(request: Request, rt: RuntimeDep, own: Principal, item: RequestOut | None, *,
          generate: bool, full: bool) -> Response:
    # An automatic answer (when the category has earned one) is shown under the question.
    instant = events.instant_answer(rt, own, item.id, generate=generate) if item else None
    context = {"item": item, "instant": instant,
               "groups": [] if item else queries.portal_categories(rt, own), **_chat_context()}
    response = render(request, "desk/chat.html" if full else "desk/_chat_log.html", context)
    if not full and item is not None:
        # A reload shows this conversation (and the back button the one before).
        response.headers["HX-Push-Url"] = f"/portal/chat?request_id={item.id}"
    return response


@router.post("/portal/chat", dependencies=[CsrfChecked])
def chat_send(request: Request, principal: PagePrincipal, rt: RuntimeDep,
              message: Annotated[str, Form()],
              request_id: Annotated[str, Form()] = "",
              category: Annotated[str, Form()] = "") -> Response:
    own = as_requester(principal)
    created = service.chat_send(rt, own, _form_id(request_id, "request_id"), message, category or None)
    if request.headers.get("HX-Request") == "true":
        item = queries.get_request(rt, own, created.id)
        return _chat(request, rt, own, item, generate=not request_id, full=False)
    if not request_id:
        events.instant_answer(rt, own, created.id, generate=True)
    return RedirectResponse(f"/portal/chat?request_id={created.id}", status_code=303)


@router.post("/portal/chat/escalate", dependencies=[CsrfChecked])
def chat_escalate(request: Request, principal: PagePrincipal, rt: RuntimeDep,
                  request_id: Annotated[Id, Form()]) -> Response:
    """「担当者に確認する」: the employee wants a person, not only the automatic answer."""
    own = as_requester(principal)
    service.escalate(rt, own, request_id)
    if request.headers.get("HX-Request") == "true":
        item = queries.get_request(rt, own, request_id)
        return _chat(request, rt, own, item, generate=False, full=False)
    return RedirectResponse(f"/portal/chat?request_id={request_id}", status_code=303)


# The admin mail pages (settings, quarantine) and the request page's mail panel.
router.include_router(mail_views.router)
