"""API and service shapes for requests and messages."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from ushiro.core.limits import Id, PlausibleDatetime
from ushiro.desk.choices import Channel, MessageKind, Priority, Status
from ushiro.identity import WorkType

if TYPE_CHECKING:
    from ushiro.desk.models import Request


def reference(number: int) -> str:
    """How a request is named to people and in mail subjects."""
    return f"REQ-{number}"


class RequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=300, description="件名")
    body: str = Field(min_length=1, max_length=100_000, description="本文")
    category: str | None = Field(default=None, max_length=100, description="カテゴリ名")
    priority: Priority = Priority.NORMAL
    tags: list[str] = Field(default_factory=list, max_length=20)


class ReplyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=100_000)
    kind: MessageKind = MessageKind.OUTBOUND
    status: Status | None = Field(default=None, description="返信と同時に変更するステータス")


class RequestChange(BaseModel):
    """Fields an operator may change; unset fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    status: Status | None = None
    category_id: Id | None = None
    work_type: WorkType | None = None
    priority: Priority | None = None
    assignee_id: Id | None = None
    unassign: bool = False
    due_at: PlausibleDatetime | None = None
    tags: list[str] | None = None


class MessageOut(BaseModel):
    id: int
    kind: MessageKind
    author: str
    body: str
    created_at: datetime
    delivery: str | None = None


class AttachmentOut(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int


class RequestOut(BaseModel):
    id: int
    number: int
    reference: str
    title: str
    body: str
    status: Status
    channel: Channel
    priority: Priority
    department: str | None
    category: str | None
    work_type: WorkType | None
    tags: list[str]
    requester: str
    requester_name: str = ""
    assignee: str | None
    due_at: datetime | None
    created_at: datetime
    updated_at: datetime
    messages: list[MessageOut] = []
    attachments: list[AttachmentOut] = []


class RequestList(BaseModel):
    items: list[RequestOut]
    total: int


@dataclass
class Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass
class QueueFilter:
    department_id: int | None = None
    category_id: int | None = None
    work_type: str | None = None
    status: str | None = None
    assignee_id: int | None = None
    unassigned: bool = False
    text: str = ""
    open_only: bool = False
    page: int = 1
    per_page: int = 50


@dataclass(frozen=True)
class Scope:
    """Which requests a principal may see; built by ``desk.access``, applied by the
    repository."""

    tenant_id: int
    requester_id: int | None = None
    department_ids: frozenset[int] | None = None
    user_id: int | None = None
    extra: dict[str, int] = field(default_factory=dict)


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
