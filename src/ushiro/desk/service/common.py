"""What every desk write shares: opening a request, adding a message, moving a status,
storing attachments and auditing what changed. Every channel ends in :func:`open_request`
so all produce the same request; the mail intake (desk/mail/intake.py) uses these too.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from ushiro import audit, identity
from ushiro.audit import Actor
from ushiro.core.clock import now
from ushiro.core.errors import ErrorCode, UshiroError, invalid
from ushiro.core.limits import parse_id
from ushiro.core.runtime import Runtime
from ushiro.core.text import one_line
from ushiro.desk import events, repository
from ushiro.desk.choices import TRANSITIONS, Channel, MessageKind, Priority, Status
from ushiro.desk.models import Attachment, Message, Request
from ushiro.desk.schemas import Upload
from ushiro.identity import Category

MAX_UPLOADS = 10
DUE_AFTER = {Priority.URGENT: timedelta(hours=4), Priority.HIGH: timedelta(days=1),
             Priority.NORMAL: timedelta(days=3), Priority.LOW: timedelta(days=7)}


def snapshot(request: Request) -> dict[str, Any]:
    return {"status": request.status, "category_id": request.category_id,
            "department_id": request.department_id, "work_type": request.work_type,
            "priority": request.priority, "assignee_id": request.assignee_id,
            "due_at": request.due_at.isoformat() if request.due_at else None}


def check_uploads(rt: Runtime, uploads: list[Upload]) -> None:
    if len(uploads) > MAX_UPLOADS:
        raise invalid("attachments", f"添付ファイルは {MAX_UPLOADS} 個までです。")
    limit = rt.settings.max_attachment_bytes
    for upload in uploads:
        if len(upload.data) > limit:
            raise UshiroError(ErrorCode.TOO_LARGE,
                              f"添付ファイル「{upload.filename}」が大きすぎます"
                              f"({len(upload.data):,} バイト)。上限は {limit:,} バイトです。",
                              field="attachments")


def store_uploads(rt: Runtime, session: Session, request: Request, message_id: int | None,
                   uploads: list[Upload]) -> None:
    for upload in uploads:
        digest = rt.files.put(upload.data)
        name = one_line(upload.filename, 255).replace("/", "_") or "attachment"
        session.add(Attachment(tenant_id=request.tenant_id, request_id=request.id,
                               message_id=message_id, filename=name,
                               content_type=upload.content_type[:100] or "application/octet-stream",
                               size=len(upload.data), sha256=digest))



def category_named(session: Session, tenant_id: int,
              name_or_id: str | int | None) -> tuple[Category, str] | None:
    """The chosen category and its department's name (None: no category chosen)."""
    if name_or_id in (None, ""):
        return None
    text = str(name_or_id).strip()
    if isinstance(name_or_id, int) or (text.isascii() and text.isdigit()):
        # An id beyond what the column holds names no category (the driver would fail).
        category_id = parse_id(text)
        found = None if category_id is None else identity.category_with_department(
            session, tenant_id, category_id=category_id)
    else:
        found = identity.category_with_department(session, tenant_id,
                                                       name=str(name_or_id).strip())
    if found is None or not found[0].is_active:
        raise invalid("category", f"カテゴリ「{name_or_id}」は存在しません。一覧から選んでください。")
    return found


def open_request(session: Session, *, tenant_id: int, title: str, body: str, channel: Channel,
                  category: Category | None, priority: Priority, actor: Actor,
                  requester: tuple[int | None, str, str], tags: list[str],
                  idempotency: tuple[str, str] | None = None) -> Request:
    """``tags`` already cleaned (:func:`clean_tags`); ``idempotency``: the digests of the
    key and of the payload (:func:`desk.service.submission._idempotency`)."""
    number = repository.next_number(session, tenant_id)
    request = Request(
        tenant_id=tenant_id, number=number, title=title, body=body, channel=channel.value,
        requester_id=requester[0], requester_email=requester[1], requester_name=requester[2],
        category_id=category.id if category else None,
        department_id=category.department_id if category else None,
        work_type=category.default_work_type if category else None,
        status=Status.NEW.value, priority=priority.value,
        idempotency_key=idempotency[0] if idempotency else None,
        idempotency_payload=idempotency[1] if idempotency else None,
        due_at=now() + DUE_AFTER[priority],
    )
    session.add(request)
    session.flush()
    repository.add_tags(session, request.id, tags)
    audit.record(session, tenant_id=tenant_id, actor=actor, action="request.create",
                 object_type="request", object_id=request.id,
                 after={"number": number, "title": title, "channel": channel.value,
                        "category_id": request.category_id, "requester": requester[1],
                        "tags": tags})
    events.request_created(session, request)
    return request


def clean_tags(tags: list[str]) -> list[str]:
    result: list[str] = []
    for tag in tags:
        name = one_line(tag, 50)
        if name and name not in result:
            result.append(name)
    return result[:20]



def add_message(session: Session, request: Request, *, kind: MessageKind, actor: Actor,
                 author_label: str, body: str, mail_message_id: str | None = None,
                 delivery: str | None = None) -> Message:
    message = Message(tenant_id=request.tenant_id, request_id=request.id, kind=kind.value,
                      author_id=actor.user_id, author_label=author_label, body=body,
                      mail_message_id=mail_message_id, delivery=delivery)
    session.add(message)
    request.updated_at = now()
    session.flush()
    audit.record(session, tenant_id=request.tenant_id, actor=actor, action="message.add",
                 object_type="request", object_id=request.id,
                 after={"message_id": message.id, "kind": kind.value, "length": len(body)})
    return message


def transition(request: Request, target: Status) -> None:
    current = Status(request.status)
    if target == current:
        return
    if target not in TRANSITIONS[current]:
        raise UshiroError(ErrorCode.INVALID_TRANSITION,
                          f"ステータスを「{current.label}」から「{target.label}」には変更できません。",
                          field="status")
    request.status = target.value
    if target is Status.RESOLVED:
        request.resolved_at = now()
    elif target is Status.CLOSED:
        request.closed_at = now()
    elif current in (Status.RESOLVED, Status.CLOSED):
        request.resolved_at = request.closed_at = None



def reopen_on_inbound(request: Request) -> None:
    if request.status in (Status.WAITING, Status.RESOLVED, Status.CLOSED):
        transition(request, Status.IN_PROGRESS)


def audit_change(session: Session, actor: Actor, request: Request,
                  before: dict[str, Any]) -> None:
    old, new = audit.changes(before, snapshot(request))
    if new:
        request.updated_at = now()
        audit.record(session, tenant_id=request.tenant_id, actor=actor, action="request.update",
                     object_type="request", object_id=request.id, before=old, after=new)

