"""Requests (tickets), messages, intake channels (portal, chat, mail, API) and the queue."""

from ushiro.desk.choices import Channel, MessageKind, Priority, Status
from ushiro.desk.schemas import QueueFilter, ReplyCreate, RequestChange, RequestCreate, Upload

__all__ = [
    "Channel", "MessageKind", "Priority", "QueueFilter", "ReplyCreate", "RequestChange",
    "RequestCreate", "Status", "Upload",
]
