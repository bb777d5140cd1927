"""Desk queries. Never commits. Every read of requests takes a :class:`Scope`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Row, Select, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ushiro.desk.choices import OPEN_STATUSES
from ushiro.desk.models import (
    Attachment,
    MailAccount,
    Message,
    Request,
    RequestCounter,
    RequestTag,
)
from ushiro.desk.schemas import QueueFilter, Scope

# Statements of the intake path are built once, with bound parameters: building a
# statement costs SQLAlchemy more than running it on SQLite (bench/intake.py).
_BUMP_NUMBER = (update(RequestCounter).where(RequestCounter.tenant_id == bindparam("counter"))
                .values(last_number=RequestCounter.last_number + 1)
                .returning(RequestCounter.last_number))
_BY_IDEMPOTENCY_KEY = select(Request).where(Request.tenant_id == bindparam("tenant_id"),
                                            Request.requester_id == bindparam("requester_id"),
                                            Request.idempotency_key == bindparam("key"))


def next_number(session: Session, tenant_id: int) -> int:
    # One UPDATE … RETURNING (it row-locks the counter like SELECT … FOR UPDATE did);
    # the counter row is created only on a tenant's first request.
    params = {"counter": tenant_id}
    number = session.scalar(_BUMP_NUMBER, params)
    if number is None:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        session.execute(insert(RequestCounter).values(tenant_id=tenant_id, last_number=0)
                        .on_conflict_do_nothing())
        number = session.scalar(_BUMP_NUMBER, params)
    assert number is not None, "the counter row exists now"
    return number


def _scoped(scope: Scope, *, by_id: bool = False) -> Select[Request]:
    # by_id: the caller names the requests' ids. "tenant_id + 0" keeps SQLite from scanning
    # all of the tenant's rows in its index instead of looking the ids up (no statistics).
    tenant = Request.tenant_id + 0 if by_id else Request.tenant_id
    stmt = select(Request).where(tenant == scope.tenant_id)
    if scope.requester_id is not None:
        stmt = stmt.where(Request.requester_id == scope.requester_id)
    if scope.department_ids is not None:
        stmt = stmt.where(or_(Request.department_id.in_(scope.department_ids),
                              Request.department_id.is_(None),
                              Request.assignee_id == scope.user_id))
    return stmt


def request_in_scope(session: Session, scope: Scope, request_id: int) -> Request | None:
    return session.scalars(_scoped(scope).where(Request.id == request_id)).first()


def request_by_number_in_scope(session: Session, scope: Scope, number: int) -> Request | None:
    return session.scalars(_scoped(scope).where(Request.number == number)).first()


def request_by_number(session: Session, tenant_id: int, number: int) -> Request | None:
    stmt = select(Request).where(Request.tenant_id == tenant_id, Request.number == number)
    return session.scalars(stmt).first()


def request_by_idempotency_key(session: Session, tenant_id: int, requester_id: int | None,
                               key: str) -> Request | None:
    """``key``: the digest of the client's key, as stored."""
    params = {"tenant_id": tenant_id, "requester_id": requester_id, "key": key}
    return session.scalars(_BY_IDEMPOTENCY_KEY, params).first()


def _filtered(stmt: Select[Request], f: QueueFilter) -> Select[Request]:
    if f.department_id:
        stmt = stmt.where(Request.department_id == f.department_id)
    if f.category_id:
        stmt = stmt.where(Request.category_id == f.category_id)
    if f.work_type:
        stmt = stmt.where(Request.work_type == f.work_type)
    if f.status:
        stmt = stmt.where(Request.status == f.status)
    elif f.open_only:
        stmt = stmt.where(Request.status.in_([s.value for s in OPEN_STATUSES]))
    if f.unassigned:
        stmt = stmt.where(Request.assignee_id.is_(None))
    elif f.assignee_id:
        stmt = stmt.where(Request.assignee_id == f.assignee_id)
    for word in f.text.split()[:5]:
        pattern = f"%{word.replace('%', '').replace('_', '')}%"
        matches_message = select(Message.id).where(Message.request_id == Request.id,
                                                   Message.body.like(pattern)).exists()
        stmt = stmt.where(or_(Request.title.like(pattern), Request.body.like(pattern),
                              Request.requester_email.like(pattern), matches_message))
    return stmt


def queue(session: Session, scope: Scope, f: QueueFilter) -> tuple[list[Request], int]:
    stmt = _filtered(_scoped(scope), f)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    page = stmt.order_by(Request.created_at.desc(), Request.id.desc())
    page = page.limit(f.per_page).offset((max(f.page, 1) - 1) * f.per_page)
    return list(session.scalars(page)), int(total)


def status_counts(session: Session, scope: Scope) -> dict[str, int]:
    sub = _scoped(scope).subquery()
    stmt = select(sub.c.status, func.count()).group_by(sub.c.status)
    return {status: int(count) for status, count in session.execute(stmt)}


def messages(session: Session, request_id: int, include_notes: bool = True) -> list[Message]:
    stmt = select(Message).where(Message.request_id == request_id)
    if not include_notes:
        stmt = stmt.where(Message.kind != "note")
    return list(session.scalars(stmt.order_by(Message.created_at, Message.id)))


def messages_after(session: Session, request_id: int, after_id: int) -> list[Message]:
    """The requester's view of what came after message ``after_id``: no internal notes."""
    stmt = select(Message).where(Message.request_id == request_id, Message.id > after_id,
                                 Message.kind != "note")
    return list(session.scalars(stmt.order_by(Message.created_at, Message.id)))


def latest_chat_request(session: Session, scope: Scope, statuses: Sequence[str],
                        resolved_since: datetime) -> Request | None:
    """The newest chat request in scope that is in ``statuses`` or was resolved (or
    closed) since ``resolved_since``."""
    stmt = _scoped(scope).where(Request.channel == "chat", or_(
        Request.status.in_(list(statuses)), Request.updated_at >= resolved_since))
    return session.scalars(stmt.order_by(Request.id.desc()).limit(1)).first()


def message(session: Session, message_id: int) -> Message | None:
    return session.get(Message, message_id)


def attachments(session: Session, request_id: int) -> list[Attachment]:
    stmt = select(Attachment).where(Attachment.request_id == request_id).order_by(Attachment.id)
    return list(session.scalars(stmt))


def attachment(session: Session, tenant_id: int, attachment_id: int) -> Attachment | None:
    stmt = select(Attachment).where(Attachment.tenant_id == tenant_id,
                                    Attachment.id == attachment_id)
    return session.scalars(stmt).first()


def tags_for(session: Session, request_ids: list[int]) -> dict[int, list[str]]:
    result: dict[int, list[str]] = defaultdict(list)
    if not request_ids:
        return result
    stmt = select(RequestTag).where(RequestTag.request_id.in_(request_ids)).order_by(RequestTag.id)
    for tag in session.scalars(stmt):
        result[tag.request_id].append(tag.name)
    return result


def add_tags(session: Session, request_id: int, names: list[str]) -> None:
    """Tags of a request that has none yet (a new one): nothing to delete first."""
    for name in names:
        session.add(RequestTag(request_id=request_id, name=name))


def set_tags(session: Session, request_id: int, names: list[str]) -> None:
    for tag in session.scalars(select(RequestTag).where(RequestTag.request_id == request_id)):
        session.delete(tag)
    session.flush()
    for name in names:
        session.add(RequestTag(request_id=request_id, name=name))


def request_by_mail_ids(session: Session, tenant_id: int, ids: list[str]) -> Request | None:
    """The request that a mail with one of these Message-IDs opened or was added to."""
    if not ids:
        return None
    stmt = select(Message.request_id).where(Message.tenant_id == tenant_id,
                                            Message.mail_message_id.in_(ids))
    request_id = session.scalars(stmt.order_by(Message.id.desc())).first()
    if request_id is not None:
        return session.get(Request, request_id)
    stmt2 = select(Request).where(Request.tenant_id == tenant_id,
                                  Request.mail_message_id.in_(ids))
    return session.scalars(stmt2).first()


def mail_ids_of(session: Session, request_id: int) -> list[str]:
    stmt = select(Message.mail_message_id).where(Message.request_id == request_id,
                                                 Message.mail_message_id.is_not(None))
    first = session.get(Request, request_id)
    ids = [first.mail_message_id] if first is not None and first.mail_message_id else []
    return ids + [m for m in session.scalars(stmt.order_by(Message.id)) if m]


def mail_account(session: Session, tenant_id: int) -> MailAccount | None:
    return session.get(MailAccount, tenant_id)


def shift_times(session: Session, request: Request, delta: timedelta) -> None:
    """Move a request and its messages back in time (loading history, the demo)."""
    for name in ("created_at", "updated_at", "due_at", "first_response_at", "resolved_at",
                 "closed_at"):
        value = getattr(request, name)
        if value is not None:
            setattr(request, name, value - delta)
    for message in messages(session, request.id):
        message.created_at = message.created_at - delta


# --- reads for indexes built by other domains (recurrence) --------------------


def last_request(session: Session, tenant_id: int) -> tuple[int, int] | None:
    """(number, id) of the tenant's newest request (numbers are gapless, one index seek)."""
    stmt = (select(Request.number, Request.id).where(Request.tenant_id == tenant_id)
            .order_by(Request.number.desc()).limit(1))
    row = session.execute(stmt).first()
    return (row[0], row[1]) if row is not None else None


def texts_since(session: Session, tenant_id: int, since: datetime,
                after_id: int = 0) -> list[Row[int, datetime, str, str]]:
    """(id, created_at, title, body) of the tenant's requests received since ``since``
    with an id above ``after_id``."""
    stmt = (select(Request.id, Request.created_at, Request.title, Request.body)
            .where(Request.tenant_id == tenant_id, Request.created_at >= since,
                   Request.id > after_id)
            .order_by(Request.id))
    return list(session.execute(stmt).all())


def briefs_in_scope(session: Session, scope: Scope, *, ids: list[int] | None = None,
                    since: datetime | None = None
                    ) -> list[Row[int, int, str, str, datetime]]:
    """(id, number, title, status, created_at) of the requests in scope, by id."""
    sub = _scoped(scope, by_id=ids is not None)
    if ids is not None:
        sub = sub.where(Request.id.in_(ids))
    if since is not None:
        sub = sub.where(Request.created_at >= since)
    stmt = sub.with_only_columns(Request.id, Request.number, Request.title, Request.status,
                                 Request.created_at)
    return list(session.execute(stmt.order_by(Request.id)).all())

