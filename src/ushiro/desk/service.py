"""Desk use cases: every channel ends in ``_open_request`` so all produce the same request.

Each public function owns its transaction, writes the audit event, and runs side effects
(mail sending) only after commit, through durable jobs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ushiro import audit, identity, jobs
from ushiro.audit import Actor
from ushiro.core.clock import now
from ushiro.core.errors import ErrorCode, UshiroError, invalid, not_found
from ushiro.core.limits import parse_id
from ushiro.core.runtime import Runtime
from ushiro.core.text import clean, one_line
from ushiro.desk import events, repository
from ushiro.desk.access import access_request_by_id, require_staff
from ushiro.desk.choices import TRANSITIONS, Channel, MessageKind, Priority, Status
from ushiro.desk.mail import new_message_id
from ushiro.desk.models import Attachment, Message, Request
from ushiro.desk.schemas import ReplyCreate, RequestChange, RequestCreate, Scope, Upload
from ushiro.identity import Category, Principal

MAX_UPLOADS = 10
ESCALATION_TAG = "エスカレーション"
DUE_AFTER = {Priority.URGENT: timedelta(hours=4), Priority.HIGH: timedelta(days=1),
             Priority.NORMAL: timedelta(days=3), Priority.LOW: timedelta(days=7)}


def reference(number: int) -> str:
    return f"REQ-{number}"


def snapshot(request: Request) -> dict[str, Any]:
    return {"status": request.status, "category_id": request.category_id,
            "department_id": request.department_id, "work_type": request.work_type,
            "priority": request.priority, "assignee_id": request.assignee_id,
            "due_at": request.due_at.isoformat() if request.due_at else None}


def _check_uploads(rt: Runtime, uploads: list[Upload]) -> None:
    if len(uploads) > MAX_UPLOADS:
        raise invalid("attachments", f"添付ファイルは {MAX_UPLOADS} 個までです。")
    limit = rt.settings.max_attachment_bytes
    for upload in uploads:
        if len(upload.data) > limit:
            raise UshiroError(ErrorCode.TOO_LARGE,
                              f"添付ファイル「{upload.filename}」が大きすぎます"
                              f"({len(upload.data):,} バイト)。上限は {limit:,} バイトです。",
                              field="attachments")


def _store_uploads(rt: Runtime, session: Session, request: Request, message_id: int | None,
                   uploads: list[Upload]) -> None:
    for upload in uploads:
        digest = rt.files.put(upload.data)
        name = one_line(upload.filename, 255).replace("/", "_") or "attachment"
        session.add(Attachment(tenant_id=request.tenant_id, request_id=request.id,
                               message_id=message_id, filename=name,
                               content_type=upload.content_type[:100] or "application/octet-stream",
                               size=len(upload.data), sha256=digest))


def _clean_text(rt: Runtime, title: str, body: str) -> tuple[str, str]:
    title, body = one_line(title, 300), clean(body)
    if not title:
        raise invalid("title", "件名を入力してください。")
    if not body:
        raise invalid("body", "内容を入力してください。")
    if len(body) > rt.settings.max_body_chars:
        raise invalid("body", f"内容が長すぎます。{rt.settings.max_body_chars:,} 文字以内にしてください。")
    return title, body


def _category(session: Session, tenant_id: int,
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


def _open_request(session: Session, *, tenant_id: int, title: str, body: str, channel: Channel,
                  category: Category | None, priority: Priority, actor: Actor,
                  requester: tuple[int | None, str, str], tags: list[str],
                  idempotency: tuple[str, str] | None = None) -> Request:
    """``tags`` already cleaned (:func:`_clean_tags`); ``idempotency``: the digests of the
    key and of the payload (:func:`_idempotency`)."""
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


def _clean_tags(tags: list[str]) -> list[str]:
    result: list[str] = []
    for tag in tags:
        name = one_line(tag, 50)
        if name and name not in result:
            result.append(name)
    return result[:20]


@dataclass(frozen=True)
class Submitted:
    """What a submission produced. ``created`` is False when an idempotency key replayed an
    earlier request; only a created one carries the names its answer shows, so the API can
    answer without reading the new request back."""

    request: Request
    created: bool
    category: str | None = None
    department: str | None = None
    tags: tuple[str, ...] = ()


MAX_IDEMPOTENCY_KEY = 1000
_KEY_FIELD = "Idempotency-Key"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _idempotency(key: str | None, data: RequestCreate) -> tuple[str, str] | None:
    """Digests of the whole key and of the payload it came with: any length of key is
    stored in 64 characters, and no two keys share a stored value by a common prefix."""
    if key is None:
        return None
    key = key.strip()
    if not key:
        raise invalid(_KEY_FIELD, "Idempotency-Key ヘッダーが空です。"
                                  "再送を安全にする一意の文字列を指定するか、ヘッダーを省いてください。")
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise invalid(_KEY_FIELD, f"Idempotency-Key ヘッダーが長すぎます({len(key):,} 文字)。"
                                  f"{MAX_IDEMPOTENCY_KEY:,} 文字以内にしてください。")
    return _digest(key), _digest(data.model_dump_json())


def _replayed(rt: Runtime, principal: Principal, idem: tuple[str, str]) -> Request | None:
    """The request this user stored under the key; refused when the key came with another
    payload then (answering the first request would lose the second)."""
    with rt.db.reading() as session:
        found = repository.request_by_idempotency_key(session, principal.tenant_id,
                                                      principal.user_id, idem[0])
    if found is not None and found.idempotency_payload not in (None, idem[1]):
        raise UshiroError(ErrorCode.IDEMPOTENCY_KEY_REUSED,
                          f"この Idempotency-Key は別の内容の申請(REQ-{found.number})に使われています。"
                          "新しい申請には新しいキーを指定してください。", field=_KEY_FIELD)
    return found


def submit(rt: Runtime, principal: Principal, data: RequestCreate, *, channel: Channel,
           uploads: list[Upload] | None = None, idempotency_key: str | None = None) -> Request:
    """A signed-in user (portal, chat, API) opens a request. A repeated idempotency key
    returns the request stored the first time instead of a second one."""
    return submit_request(rt, principal, data, channel=channel, uploads=uploads,
                          idempotency_key=idempotency_key).request


def submit_request(rt: Runtime, principal: Principal, data: RequestCreate, *,
                   channel: Channel, uploads: list[Upload] | None = None,
                   idempotency_key: str | None = None) -> Submitted:
    """:func:`submit`, telling whether the request is new and what its answer names."""
    uploads = uploads or []
    title, body = _clean_text(rt, data.title, data.body)
    _check_uploads(rt, uploads)
    idem = _idempotency(idempotency_key, data)
    try:
        # No look-up of the key first: the unique (tenant, key) constraint refuses a replay,
        # and a replay is rare, a first delivery the rule (one query less per request).
        with rt.db.transaction() as session:
            chosen = _category(session, principal.tenant_id, data.category)
            tags = _clean_tags(data.tags)
            request = _open_request(
                session, tenant_id=principal.tenant_id, title=title, body=body, channel=channel,
                category=chosen[0] if chosen else None, priority=data.priority,
                actor=principal.actor, requester=(principal.user_id, principal.email,
                                                  principal.name),
                tags=tags, idempotency=idem)
            _store_uploads(rt, session, request, None, uploads)
    except IntegrityError:
        if idem is None:
            raise
        # A replay, or two deliveries of the same key raced: the stored one is the answer.
        found = _replayed(rt, principal, idem)
        if found is None:
            raise
        return Submitted(found, created=False)
    return Submitted(request, created=True, category=chosen[0].name if chosen else None,
                     department=chosen[1] if chosen else None, tags=tuple(tags))


def _add_message(session: Session, request: Request, *, kind: MessageKind, actor: Actor,
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


def _transition(request: Request, target: Status) -> None:
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


def reply(rt: Runtime, principal: Principal, request_id: int, data: ReplyCreate,
          uploads: list[Upload] | None = None, *, record_only: bool = False) -> Message:
    """An operator answers (sent to the requester; by mail for mail requests) or notes.
    ``record_only`` records a reply already given elsewhere (imports, the demo) unsent."""
    require_staff(principal)
    uploads = uploads or []
    body = _reply_body(rt, data, uploads)
    with rt.db.transaction() as session:
        request = access_request_by_id(session, principal, request_id)
        message = _answer(rt, session, request, principal.actor, principal.name, body, data,
                          uploads, record_only=record_only)
    return message


def system_reply(rt: Runtime, actor: Actor, tenant_id: int, request_id: int,
                 data: ReplyCreate, *, author_label: str) -> Message:
    """The system itself answers (an answer sent without a person, e.g. a proven FAQ);
    it goes out exactly like an operator's reply, by mail for mail requests."""
    body = _reply_body(rt, data, [])
    with rt.db.transaction() as session:
        request = repository.request_in_scope(session, Scope(tenant_id=tenant_id), request_id)
        if request is None:
            raise not_found("依頼")
        message = _answer(rt, session, request, actor, author_label, body, data, [])
    return message


def _reply_body(rt: Runtime, data: ReplyCreate, uploads: list[Upload]) -> str:
    body = clean(data.body)
    if not body:
        raise invalid("body", "本文を入力してください。")
    _check_uploads(rt, uploads)
    return body


def _answer(rt: Runtime, session: Session, request: Request, actor: Actor, author_label: str,
            body: str, data: ReplyCreate, uploads: list[Upload], *,
            record_only: bool = False) -> Message:
    before = snapshot(request)
    by_mail = (data.kind is MessageKind.OUTBOUND and request.channel == Channel.MAIL.value
               and not record_only)
    mail_id = None
    if by_mail:
        account = repository.mail_account(session, request.tenant_id)
        if account is None or not account.smtp_host or not request.requester_email:
            raise UshiroError(ErrorCode.MAIL_NOT_CONFIGURED,
                              "メールで返信するには、管理画面の「メール設定」で SMTP を設定してください。")
        mail_id = new_message_id(account.address.partition("@")[2])
    message = _add_message(session, request, kind=data.kind, actor=actor,
                           author_label=author_label, body=body, mail_message_id=mail_id,
                           delivery="pending" if by_mail else None)
    _store_uploads(rt, session, request, message.id, uploads)
    if data.kind is MessageKind.OUTBOUND:
        request.first_response_at = request.first_response_at or now()
        if data.status is None and request.status in (Status.NEW, Status.TRIAGED):
            _transition(request, Status.IN_PROGRESS)
    if data.status is not None:
        _transition(request, data.status)
    _audit_change(session, actor, request, before)
    if by_mail:
        jobs.enqueue(session, "desk.send_reply", {"message_id": message.id},
                     tenant_id=request.tenant_id)
    return message


def follow_up(rt: Runtime, principal: Principal, request_id: int, body: str,
              uploads: list[Upload] | None = None) -> Message:
    """The requester adds to their own request; a waiting or resolved request reopens."""
    uploads = uploads or []
    text = clean(body)
    if not text:
        raise invalid("body", "本文を入力してください。")
    _check_uploads(rt, uploads)
    with rt.db.transaction() as session:
        request = access_request_by_id(session, principal, request_id)
        before = snapshot(request)
        message = _add_message(session, request, kind=MessageKind.INBOUND, actor=principal.actor,
                               author_label=principal.name, body=text)
        _store_uploads(rt, session, request, message.id, uploads)
        _reopen_on_inbound(request)
        _audit_change(session, principal.actor, request, before)
    return message


def _reopen_on_inbound(request: Request) -> None:
    if request.status in (Status.WAITING, Status.RESOLVED, Status.CLOSED):
        _transition(request, Status.IN_PROGRESS)


def _audit_change(session: Session, actor: Actor, request: Request,
                  before: dict[str, Any]) -> None:
    old, new = audit.changes(before, snapshot(request))
    if new:
        request.updated_at = now()
        audit.record(session, tenant_id=request.tenant_id, actor=actor, action="request.update",
                     object_type="request", object_id=request.id, before=old, after=new)


def change(rt: Runtime, principal: Principal, request_id: int, data: RequestChange) -> Request:
    """Assign, tag, re-categorise, set work type, priority, due date or status."""
    require_staff(principal)
    with rt.db.transaction() as session:
        request = access_request_by_id(session, principal, request_id)
        before = snapshot(request)
        if data.category_id is not None:
            chosen = _category(session, request.tenant_id, data.category_id)
            assert chosen is not None
            category = chosen[0]
            request.category_id, request.department_id = category.id, category.department_id
            request.work_type = request.work_type or category.default_work_type
        if data.work_type is not None:
            request.work_type = data.work_type.value
        if data.priority is not None:
            request.priority = data.priority.value
        if data.due_at is not None:
            request.due_at = data.due_at
        _apply_assignee(session, request, data)
        if data.tags is not None:
            old_tags = repository.tags_for(session, [request.id]).get(request.id, [])
            new_tags = _clean_tags(data.tags)
            repository.set_tags(session, request.id, new_tags)
            if old_tags != new_tags:
                audit.record(session, tenant_id=request.tenant_id, actor=principal.actor,
                             action="request.tags", object_type="request", object_id=request.id,
                             before={"tags": old_tags}, after={"tags": new_tags})
        if data.status is not None:
            _transition(request, data.status)
        elif request.status == Status.NEW and request.category_id and request.work_type:
            _transition(request, Status.TRIAGED)
        _audit_change(session, principal.actor, request, before)
        if (request.work_type, request.category_id) != (before["work_type"],
                                                        before["category_id"]):
            events.request_classified(session, request)
    return request


def _apply_assignee(session: Session, request: Request, data: RequestChange) -> None:
    if data.unassign:
        request.assignee_id = None
        return
    if data.assignee_id is None:
        return
    staff_ids = {u.id for u in identity.staff(session, request.tenant_id)}
    if data.assignee_id not in staff_ids:
        raise invalid("assignee_id", "担当者はこのテナントの担当者・承認者・管理者から選んでください。")
    request.assignee_id = data.assignee_id


def chat_send(rt: Runtime, principal: Principal, request_id: int | None, text: str,
              category: str | None = None) -> Request:
    """The portal chat: the first message opens a request (in ``category`` when the
    employee chose one), later ones join it."""
    body = clean(text)
    if not body:
        raise invalid("message", "メッセージを入力してください。")
    if request_id is None:
        data = RequestCreate(title=one_line(body, 60), body=body, category=category or None)
        return submit(rt, principal, data, channel=Channel.CHAT)
    follow_up(rt, principal, request_id, body)
    with rt.db.reading() as session:
        return access_request_by_id(session, principal, request_id)


def escalate(rt: Runtime, principal: Principal, request_id: int) -> Request:
    """The requester asks for a person after an automatic answer: the request keeps its
    place in the queue (a resolved one reopens), tagged so the desk sees it was asked."""
    with rt.db.transaction() as session:
        request = access_request_by_id(session, principal, request_id)
        before = snapshot(request)
        tags = repository.tags_for(session, [request.id]).get(request.id, [])
        if ESCALATION_TAG not in tags:
            repository.add_tags(session, request.id, [ESCALATION_TAG])
            request.updated_at = now()
            audit.record(session, tenant_id=request.tenant_id, actor=principal.actor,
                         action="request.escalate", object_type="request",
                         object_id=request.id, before={"tags": tags},
                         after={"tags": [*tags, ESCALATION_TAG]})
        _reopen_on_inbound(request)
        _audit_change(session, principal.actor, request, before)
    return request
