"""Messages on a request: an operator's reply or note, the system's answer, the
requester's follow-up and their call for a person (escalation)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ushiro import audit, jobs
from ushiro.audit import Actor
from ushiro.core.clock import now
from ushiro.core.errors import ErrorCode, UshiroError, forbidden, invalid
from ushiro.core.runtime import Runtime
from ushiro.core.text import clean
from ushiro.desk import repository
from ushiro.desk.access import access_request_by_id, require_staff
from ushiro.desk.choices import Channel, DeliveryStatus, MessageKind, Status
from ushiro.desk.mail.parse import new_message_id
from ushiro.desk.models import Message, Request
from ushiro.desk.schemas import ReplyCreate, Upload
from ushiro.desk.service.common import (
    add_message,
    audit_change,
    check_uploads,
    reopen_on_inbound,
    snapshot,
    store_uploads,
    transition,
)
from ushiro.identity import Principal

ESCALATION_TAG = "エスカレーション"


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


def system_reply(rt: Runtime, principal: Principal, request_id: int,
                 data: ReplyCreate, *, author_label: str) -> Message:
    """The system itself answers (an answer sent without a person, e.g. a proven FAQ);
    it goes out exactly like an operator's reply, by mail for mail requests. Only a system
    principal sends one: a person's answer is a :func:`reply`, under their name."""
    if not principal.is_system:
        raise forbidden()
    body = _reply_body(rt, data, [])
    with rt.db.transaction() as session:
        request = access_request_by_id(session, principal, request_id)
        message = _answer(rt, session, request, principal.actor, author_label, body, data, [])
    return message


def _reply_body(rt: Runtime, data: ReplyCreate, uploads: list[Upload]) -> str:
    body = clean(data.body)
    if not body:
        raise invalid("body", "本文を入力してください。")
    check_uploads(rt, uploads)
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
    message = add_message(session, request, kind=data.kind, actor=actor,
                           author_label=author_label, body=body, mail_message_id=mail_id,
                           delivery=DeliveryStatus.PENDING if by_mail else None)
    store_uploads(rt, session, request, message.id, uploads)
    if data.kind is MessageKind.OUTBOUND:
        request.first_response_at = request.first_response_at or now()
        if data.status is None and request.status in (Status.NEW, Status.TRIAGED):
            transition(request, Status.IN_PROGRESS)
    if data.status is not None:
        transition(request, data.status)
    audit_change(session, actor, request, before)
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
    check_uploads(rt, uploads)
    with rt.db.transaction() as session:
        request = access_request_by_id(session, principal, request_id)
        before = snapshot(request)
        message = add_message(session, request, kind=MessageKind.INBOUND, actor=principal.actor,
                               author_label=principal.name, body=text)
        store_uploads(rt, session, request, message.id, uploads)
        reopen_on_inbound(request)
        audit_change(session, principal.actor, request, before)
    return message


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
        reopen_on_inbound(request)
        audit_change(session, principal.actor, request, before)
    return request
