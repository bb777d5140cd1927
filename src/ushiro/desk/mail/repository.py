"""Mail intake queries: thread participants, receipts, the quarantine. Never commits."""

from __future__ import annotations

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from ushiro.desk.models import MailQuarantine, MailReceipt, Message, Request
from ushiro.identity import User


def participants(session: Session, request: Request) -> set[str]:
    """Who may write into ``request`` by mail (lower-case addresses): its requester, its
    assignee, every user who wrote a reply or note on it, and every address whose mail was
    already threaded into it (an authenticated one)."""
    authors = select(User.email).join(Message, Message.author_id == User.id).where(
        Message.request_id == request.id)
    assignee = select(User.email).where(User.id == request.assignee_id)
    threaded = select(MailReceipt.from_address).where(
        MailReceipt.request_id == request.id, MailReceipt.message_id.is_not(None),
        MailReceipt.authentication_failed.is_(False))
    found = {str(a).lower() for a in session.scalars(union(authors, assignee, threaded))}
    return found | {request.requester_email.lower()}


def receipts(session: Session, request_id: int) -> list[MailReceipt]:
    stmt = select(MailReceipt).where(MailReceipt.request_id == request_id)
    return list(session.scalars(stmt.order_by(MailReceipt.id)))


def quarantined(session: Session, tenant_id: int) -> list[MailQuarantine]:
    stmt = select(MailQuarantine).where(MailQuarantine.tenant_id == tenant_id)
    return list(session.scalars(stmt.order_by(MailQuarantine.id.desc()).limit(500)))


def quarantined_one(session: Session, tenant_id: int, quarantine_id: int) -> MailQuarantine | None:
    found = session.get(MailQuarantine, quarantine_id)
    return found if found is not None and found.tenant_id == tenant_id else None


def quarantined_by_digest(session: Session, tenant_id: int, sha256: str) -> MailQuarantine | None:
    stmt = select(MailQuarantine).where(MailQuarantine.tenant_id == tenant_id,
                                        MailQuarantine.sha256 == sha256)
    return session.scalars(stmt.limit(1)).first()
