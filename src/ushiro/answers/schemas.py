"""API and service shapes for drafts, reviews, FAQ promotion and self-service modes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from ushiro.answers.choices import AutomationMode, DraftStatus, RevisionKind
from ushiro.desk import Status


class CitationOut(BaseModel):
    document: str
    version: int
    section: str
    passage_id: int
    text: str = Field(description="The passage as it was cited")


class RevisionOut(BaseModel):
    id: int
    kind: RevisionKind
    author: str
    created_at: datetime
    body: str
    diff: str = Field(description="Unified diff against the text before this revision")
    reason: str | None = None


class DraftOut(BaseModel):
    id: int
    request_id: int
    number: int
    mode: AutomationMode = Field(description="The category's mode when the draft was made")
    drafter: str
    question: str
    generated: str = Field(description="The text as the drafter wrote it")
    answer: str = Field(description="The current text; the text sent once sent")
    abstained: bool
    reason: str | None = None
    citations: list[CitationOut]
    status: DraftStatus
    created_at: datetime
    decided_by: str | None = None
    decided_at: datetime | None = None
    edit_ratio: float | None = Field(
        default=None, description="1 − similarity of generated and sent text (0 = unchanged)")
    accepted: bool | None = Field(
        default=None, description="Sent with edit_ratio < 0.10 (None while undecided)")
    reject_reason: str | None = None
    message_id: int | None = None
    faq_document: str | None = None
    revisions: list[RevisionOut] = []


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=100_000, description="The answer as sent")
    reason: str | None = Field(default=None, max_length=500, description="Why it was edited")
    status: Status | None = Field(default=None,
                                  description="Request status after sending (default: desk rule)")


class RejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class PromoteIn(BaseModel):
    """Question and answer of the FAQ item; the draft's own when left out (edit them to
    take personal details out of an FAQ everyone can read)."""

    model_config = ConfigDict(extra="forbid")

    question: str | None = Field(default=None, max_length=2000)
    answer: str | None = Field(default=None, max_length=20_000)


class PromotionOut(BaseModel):
    draft_id: int
    document_id: int
    name: str
    title: str
    version: int
    passages: int


class AutomationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: AutomationMode


class AutomationOut(BaseModel):
    category_id: int
    category: str
    department: str
    work_type: str | None
    mode: AutomationMode
    reviewed: int = Field(description="Drafts reviewed by a person, of the last `window`")
    accepted: int = Field(description="Of those, sent without substantive edit")
    acceptance: float | None = Field(description="accepted / reviewed (None: none reviewed)")
    window: int
    threshold: float
    eligible: bool = Field(description="Whether suggest/auto_send may be switched on now")
    changed_at: datetime | None = None

