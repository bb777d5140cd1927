"""Requests (tickets), messages, intake channels (portal, chat, mail, API) and the queue."""

from ushiro.desk.access import require_staff
from ushiro.desk.choices import Channel, MessageKind, Priority, Status
from ushiro.desk.queries import (
    RequestBrief,
    RequestText,
    briefs,
    get_request,
    last_request,
    recent_briefs,
    texts_since,
)
from ushiro.desk.schemas import (
    QueueFilter,
    ReplyCreate,
    RequestChange,
    RequestCreate,
    RequestOut,
    Upload,
)

__all__ = [
    "Channel", "MessageKind", "Priority", "QueueFilter", "ReplyCreate", "RequestBrief",
    "RequestChange", "RequestCreate", "RequestOut", "RequestText", "Status", "Upload",
    "briefs", "get_request", "last_request", "recent_briefs", "require_staff", "texts_since",
]
