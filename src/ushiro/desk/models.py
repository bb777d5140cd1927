"""Requests, messages, attachments, tags and the per-tenant mail account."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ushiro.core.clock import now
from ushiro.core.db import Base, UTCDateTime


class Request(Base):
    """One thing an employee asked of the back office, from whatever channel."""

    __tablename__ = "requests"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        # A key belongs to the user who sent it: another user's same key is their own.
        UniqueConstraint("tenant_id", "requester_id", "idempotency_key"),
        UniqueConstraint("tenant_id", "mail_message_id"),
        Index("ix_requests_queue", "tenant_id", "status", "department_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(16))
    requester_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    requester_email: Mapped[str] = mapped_column(String(254), default="")
    requester_name: Mapped[str] = mapped_column(String(200), default="")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    work_type: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="new")
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # SHA-256 hex digests of the client's whole Idempotency-Key and of the payload it came
    # with (a replay with another payload is refused; NULL for keys stored before 0008).
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    idempotency_payload: Mapped[str | None] = mapped_column(String(64))
    mail_message_id: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RequestCounter(Base):
    """The last request number of each tenant; its row lock keeps numbers gapless."""

    __tablename__ = "request_counters"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"),
                                           primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class RequestTag(Base):
    __tablename__ = "request_tags"
    __table_args__ = (UniqueConstraint("request_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"),
                                            index=True)
    name: Mapped[str] = mapped_column(String(50))


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("tenant_id", "mail_message_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"),
                                            index=True)
    kind: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author_label: Mapped[str] = mapped_column(String(254), default="")
    body: Mapped[str] = mapped_column(Text)
    mail_message_id: Mapped[str | None] = mapped_column(String(500))
    delivery: Mapped[str | None] = mapped_column(String(16))
    delivery_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Attachment(Base):
    """Metadata; the bytes live content-addressed under ``<data>/files/ab/cdef…``."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"),
                                            index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class MailAccount(Base):
    """The tenant's desk mailbox: IMAP for intake, SMTP for replies (admin-editable)."""

    __tablename__ = "mail_accounts"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"),
                                           primary_key=True, autoincrement=False)
    address: Mapped[str] = mapped_column(String(254), default="")
    imap_host: Mapped[str] = mapped_column(String(200), default="")
    imap_port: Mapped[int] = mapped_column(Integer, default=993)
    imap_security: Mapped[str] = mapped_column(String(16), default="ssl")
    imap_user: Mapped[str] = mapped_column(String(254), default="")
    imap_password: Mapped[str] = mapped_column(String(1000), default="")  # core.secretbox
    imap_folder: Mapped[str] = mapped_column(String(200), default="INBOX")
    smtp_host: Mapped[str] = mapped_column(String(200), default="")
    smtp_port: Mapped[int] = mapped_column(Integer, default=587)
    smtp_security: Mapped[str] = mapped_column(String(16), default="starttls")
    smtp_user: Mapped[str] = mapped_column(String(254), default="")
    smtp_password: Mapped[str] = mapped_column(String(1000), default="")  # core.secretbox
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class MailReceipt(Base):
    """What intake learnt about one imported mail: the receiving server's verdict
    (Authentication-Results) and the warnings an operator must see (mislabelled charset,
    cut body, a sender refused as not a participant of the thread it named)."""

    __tablename__ = "mail_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"),
                                            index=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    from_address: Mapped[str] = mapped_column(String(254))
    authentication: Mapped[str | None] = mapped_column(Text)
    authentication_failed: Mapped[bool] = mapped_column(default=False)
    warnings: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of Japanese texts
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class MailQuarantine(Base):
    """A mail that could not become a request, kept whole (raw bytes in the file store)
    with the reason, until an admin releases or deletes it."""

    __tablename__ = "mail_quarantine"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"),
                                           index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sender: Mapped[str] = mapped_column(String(254), default="")
    subject: Mapped[str] = mapped_column(String(300), default="")
    reason: Mapped[str] = mapped_column(Text)
    code: Mapped[str] = mapped_column(String(50))
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
