"""Read use cases: permission-checked views of requests for the API and the pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from ushiro import identity
from ushiro.core.clock import now
from ushiro.core.errors import not_found
from ushiro.core.runtime import Runtime
from ushiro.desk import repository
from ushiro.desk.access import access_request_by_id, as_requester, require_staff, scope_for
from ushiro.desk.choices import OPEN_STATUSES
from ushiro.desk.models import Attachment, Message, Request
from ushiro.desk.salutation import ReplyTemplate, greeting
from ushiro.desk.schemas import (
    AttachmentOut,
    MessageOut,
    QueueFilter,
    RequestList,
    RequestOut,
    Submitted,
    reference,
)
from ushiro.identity import Category, Department, Principal, User


@dataclass
class Names:
    """Lookup tables for one tenant, loaded once per page instead of once per row."""

    departments: dict[int, Department]
    categories: dict[int, Category]
    users: dict[int, User]

    @classmethod
    def load(cls, session: Session, tenant_id: int, requests: list[Request]) -> Names:
        # Only the users these requests name: a tenant may have thousands of members.
        user_ids = {r.assignee_id for r in requests if r.assignee_id}
        return cls(
            {d.id: d for d in identity.departments(session, tenant_id)},
            {c.id: c for c in identity.categories(session, tenant_id)},
            {u.id: u for u in identity.members_by_ids(session, tenant_id, user_ids)},
        )

    def user(self, user_id: int | None) -> str | None:
        user = self.users.get(user_id) if user_id else None
        return user.name if user else None


def to_out(request: Request, names: Names, tags: list[str],
           messages: list[Message] | None = None,
           attachments: list[Attachment] | None = None) -> RequestOut:
    dept = names.departments.get(request.department_id or 0)
    cat = names.categories.get(request.category_id or 0)
    return RequestOut(
        id=request.id, number=request.number, reference=reference(request.number),
        title=request.title, body=request.body, status=request.status,
        channel=request.channel, priority=request.priority,
        department=dept.name if dept else None, category=cat.name if cat else None,
        work_type=request.work_type, tags=tags,
        requester=request.requester_email, requester_name=request.requester_name,
        assignee=names.user(request.assignee_id),
        due_at=request.due_at, created_at=request.created_at, updated_at=request.updated_at,
        messages=[_message_out(m) for m in messages or []],
        attachments=[AttachmentOut(id=a.id, filename=a.filename, content_type=a.content_type,
                                   size=a.size) for a in attachments or []],
    )


def get_request(rt: Runtime, principal: Principal, request_id: int) -> RequestOut:
    with rt.db.reading() as session:
        request = access_request_by_id(session, principal, request_id)
        names = Names.load(session, principal.tenant_id, [request])
        tags = repository.tags_for(session, [request.id]).get(request.id, [])
        messages = repository.messages(session, request.id, include_notes=principal.is_staff)
        return to_out(request, names, tags, messages, repository.attachments(session, request.id))


# How long the chat keeps showing a conversation after it was resolved: the employee who
# comes back the next day still finds the answer they got, not only the greeting.
CHAT_KEPT_AFTER_RESOLVED = timedelta(days=3)


def current_chat(rt: Runtime, principal: Principal) -> RequestOut | None:
    """The conversation the portal chat reopens with: the principal's newest own chat
    request that is open, or was resolved within CHAT_KEPT_AFTER_RESOLVED."""
    since, own = now() - CHAT_KEPT_AFTER_RESOLVED, as_requester(principal)
    with rt.db.reading() as session:
        found = repository.latest_chat_request(session, scope_for(own),
                                               [s.value for s in OPEN_STATUSES], since)
    return None if found is None else get_request(rt, own, found.id)


@dataclass(frozen=True)
class ChatUpdate:
    """What a chat poll brings: the request's state now and the messages the requester may
    read that came after the one the page shows last (never internal notes)."""

    request: RequestOut  # without messages and attachments
    messages: list[MessageOut]


def chat_update(rt: Runtime, principal: Principal, request_id: int,
                after_id: int) -> ChatUpdate:
    """For the requester's chat: a request they may not see is not found."""
    with rt.db.reading() as session:
        request = access_request_by_id(session, principal, request_id)
        tags = repository.tags_for(session, [request.id]).get(request.id, [])
        rows = repository.messages_after(session, request.id, after_id)
        out = to_out(request, Names({}, {}, {}), tags)
        return ChatUpdate(out, [_message_out(m) for m in rows])


def _message_out(m: Message) -> MessageOut:
    return MessageOut(id=m.id, kind=m.kind, author=m.author_label, body=m.body,
                      created_at=m.created_at, delivery=m.delivery)


def submitted_out(rt: Runtime, principal: Principal, submitted: Submitted) -> RequestOut:
    """The answer to a submission. A request created just now is described from what the
    service already knows (no messages yet, nothing to read back: intake is the busiest
    path); a replayed idempotency key gets the request as it is now."""
    if not submitted.created:
        return get_request(rt, principal, submitted.request.id)
    out = to_out(submitted.request, Names({}, {}, {}), list(submitted.tags))
    out.category, out.department = submitted.category, submitted.department
    return out


def list_requests(rt: Runtime, principal: Principal, f: QueueFilter) -> RequestList:
    with rt.db.reading() as session:
        rows, total = repository.queue(session, scope_for(principal), f)
        names = Names.load(session, principal.tenant_id, rows)
        tags = repository.tags_for(session, [r.id for r in rows])
        return RequestList(items=[to_out(r, names, tags.get(r.id, [])) for r in rows],
                           total=total)


@dataclass
class QueuePage:
    requests: RequestList
    departments: list[Department]
    categories: list[Category]
    staff: list[User]
    counts: dict[str, int] = field(default_factory=dict)


def queue_page(rt: Runtime, principal: Principal, f: QueueFilter) -> QueuePage:
    """The desk's queue with what its filters offer: for the staff who work it."""
    require_staff(principal)
    requests = list_requests(rt, principal, f)
    with rt.db.reading() as session:
        return QueuePage(
            requests=requests,
            departments=identity.departments(session, principal.tenant_id),
            categories=identity.categories(session, principal.tenant_id),
            staff=identity.staff(session, principal.tenant_id),
            counts=repository.status_counts(session, scope_for(principal)),
        )


def attachment_for(rt: Runtime, principal: Principal, attachment_id: int) -> tuple[Attachment, bytes]:
    with rt.db.reading() as session:
        found = repository.attachment(session, principal.tenant_id, attachment_id)
        if found is not None:
            # Seeing the attachment requires seeing its request.
            access_request_by_id(session, principal, found.request_id)
        else:
            raise not_found("添付ファイル")
    return found, rt.files.read(found.sha256)


def portal_categories(rt: Runtime, principal: Principal) -> list[tuple[Department, list[Category]]]:
    with rt.db.reading() as session:
        cats = identity.categories(session, principal.tenant_id, active_only=True)
        return [(d, [c for c in cats if c.department_id == d.id])
                for d in identity.departments(session, principal.tenant_id)]


# --- for indexes built by other domains (recurrence) --------------------------


@dataclass(frozen=True)
class RequestText:
    """A request's words for an index. Tenant-wide, unchecked: never shown as such; what
    a principal sees goes through :func:`briefs` / :func:`recent_briefs`."""

    id: int
    created_at: datetime
    title: str
    body: str


@dataclass(frozen=True)
class RequestBrief:
    id: int
    reference: str
    title: str
    status: str
    created_at: datetime


def last_request(rt: Runtime, tenant_id: int) -> tuple[int, int]:
    """(number, id) of the tenant's newest request, (0, 0) before the first. It changes
    whenever the tenant receives a request; titles and bodies never change after intake,
    so this tells an index of them when to catch up."""
    with rt.db.reading() as session:
        return repository.last_request(session, tenant_id) or (0, 0)


def texts_since(rt: Runtime, tenant_id: int, since: datetime,
                after_id: int = 0) -> list[RequestText]:
    """The requests received since ``since`` (and with an id above ``after_id``), by id."""
    with rt.db.reading() as session:
        rows = repository.texts_since(session, tenant_id, since, after_id)
        return [RequestText(id_, created_at, title, body)
                for id_, created_at, title, body in rows]


def _briefs(rows: list[Any]) -> list[RequestBrief]:
    return [RequestBrief(id=id_, reference=reference(number), title=title, status=status,
                         created_at=created_at)
            for id_, number, title, status, created_at in rows]


def briefs(rt: Runtime, principal: Principal, ids: list[int]) -> list[RequestBrief]:
    """Those of ``ids`` the principal may see (desk access rules), by id."""
    if not ids:
        return []
    with rt.db.reading() as session:
        return _briefs(repository.briefs_in_scope(session, scope_for(principal), ids=ids))


def recent_briefs(rt: Runtime, principal: Principal, since: datetime) -> list[RequestBrief]:
    """The requests received since ``since`` that the principal may see, by id."""
    with rt.db.reading() as session:
        return _briefs(repository.briefs_in_scope(session, scope_for(principal), since=since))


# --- for domains that work on a request (answers) ---------------------------------------


@dataclass(frozen=True)
class RequestFacts:
    """What another domain needs to work on one request (draft an answer to it)."""

    id: int
    tenant_id: int
    number: int
    reference: str
    title: str
    body: str
    channel: str
    status: str
    category_id: int | None
    work_type: str | None
    requester_id: int | None
    tags: list[str]
    requester_name: str = ""


def request_facts(rt: Runtime, principal: Principal, request_id: int) -> RequestFacts:
    """The request if the principal may see it (a system principal: tenant-wide)."""
    with rt.db.reading() as session:
        request = access_request_by_id(session, principal, request_id)
        tags = repository.tags_for(session, [request.id]).get(request.id, [])
        return RequestFacts(request.id, request.tenant_id, request.number,
                            reference(request.number), request.title, request.body,
                            request.channel, request.status, request.category_id,
                            request.work_type, request.requester_id, tags,
                            request.requester_name)


def reply_template(rt: Runtime, principal: Principal, request: RequestOut) -> ReplyTemplate:
    """The greeting and signature the reply editor inserts (``request`` as the principal
    read it): the requester addressed as a colleague, the viewer's own signature else the
    company's."""
    require_staff(principal)
    with rt.db.reading() as session:
        signature = identity.reply_signature(session, principal.tenant_id, principal.user_id)
    return ReplyTemplate(greeting(request.requester_name), signature)
