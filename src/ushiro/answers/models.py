"""Answer drafts, their revisions, each category's self-service mode, FAQ promotions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ushiro.core.clock import now
from ushiro.core.db import Base, UTCDateTime


class Draft(Base):
    """One proposed answer to a request, from the knowledge base, and what became of it.

    ``generated`` is the drafter's text as it came out; ``answer`` the current text (the
    text sent, once sent). ``citations`` keep the passages as they were cited (document,
    version, section, passage id, text), so a later version of a document does not change
    what a past draft relied on. ``number`` counts the drafts of one request (1, 2, …);
    its uniqueness makes two automatic drafts of one request impossible.
    """

    __tablename__ = "answer_drafts"
    __table_args__ = (
        UniqueConstraint("request_id", "number"),
        Index("ix_answer_drafts_reviews", "tenant_id", "category_id", "decided_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"),
                                            index=True)
    number: Mapped[int] = mapped_column(Integer)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"))
    mode: Mapped[str] = mapped_column(String(16), default="draft_only")
    drafter: Mapped[str] = mapped_column(String(50))
    question: Mapped[str] = mapped_column(Text)
    generated: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    abstained: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(String(500))
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="proposed")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    edit_ratio: Mapped[float | None] = mapped_column(Float)
    reject_reason: Mapped[str | None] = mapped_column(String(500))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))


class DraftRevision(Base):
    """One step in a draft's history: generated, edited (with the diff), approved, rejected."""

    __tablename__ = "answer_draft_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    draft_id: Mapped[int] = mapped_column(ForeignKey("answer_drafts.id", ondelete="CASCADE"),
                                          index=True)
    kind: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author_label: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    body: Mapped[str] = mapped_column(Text)
    diff: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str | None] = mapped_column(String(500))


class CategoryAutomation(Base):
    """A category's self-service mode; no row means draft_only."""

    __tablename__ = "answer_category_automation"
    __table_args__ = (UniqueConstraint("tenant_id", "category_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(16), default="draft_only")
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class FaqPromotion(Base):
    """An approved answer that became a knowledge document (an FAQ item)."""

    __tablename__ = "answer_faq_promotions"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    draft_id: Mapped[int] = mapped_column(ForeignKey("answer_drafts.id", ondelete="CASCADE"),
                                          unique=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("kb_documents.id", ondelete="CASCADE"))
    document_name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
