"""Request statuses, channels, priorities and message kinds."""

from __future__ import annotations

from ushiro.core.choices import Choice, with_labels


@with_labels({
    "new": "New",
    "triaged": "Triaged",
    "in_progress": "In progress",
    "waiting": "Waiting on requester",
    "resolved": "Resolved",
    "closed": "Closed",
})
class Status(Choice):
    NEW = "new"
    TRIAGED = "triaged"
    IN_PROGRESS = "in_progress"
    WAITING = "waiting"
    RESOLVED = "resolved"
    CLOSED = "closed"


# The same statuses as the requester reads them. The desk's words describe its own work
# (回答待ち: the desk waits on the requester); the employee needs to know what to do next
# (回答があります: read the answer). Staff pages keep Status's labels.
@with_labels({
    "new": "Accepted, awaiting an answer",
    "triaged": "Accepted, awaiting an answer",
    "in_progress": "Being handled",
    "waiting": "You have an answer",
    "resolved": "Resolved",
    "closed": "Closed",
})
class RequesterStatus(Choice):
    NEW = "new"
    TRIAGED = "triaged"
    IN_PROGRESS = "in_progress"
    WAITING = "waiting"
    RESOLVED = "resolved"
    CLOSED = "closed"


OPEN_STATUSES = (Status.NEW, Status.TRIAGED, Status.IN_PROGRESS, Status.WAITING)

# The lifecycle. Reopening is resolved/closed → in_progress.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.TRIAGED, Status.IN_PROGRESS, Status.WAITING, Status.RESOLVED,
                           Status.CLOSED}),
    Status.TRIAGED: frozenset({Status.IN_PROGRESS, Status.WAITING, Status.RESOLVED,
                               Status.CLOSED}),
    Status.IN_PROGRESS: frozenset({Status.WAITING, Status.RESOLVED, Status.CLOSED,
                                   Status.TRIAGED}),
    Status.WAITING: frozenset({Status.IN_PROGRESS, Status.RESOLVED, Status.CLOSED}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.IN_PROGRESS}),
    Status.CLOSED: frozenset({Status.IN_PROGRESS}),
}


@with_labels({"portal": "Portal form", "chat": "Chat", "mail": "E-mail", "api": "API"})
class Channel(Choice):
    PORTAL = "portal"
    CHAT = "chat"
    MAIL = "mail"
    API = "api"


@with_labels({"low": "Low", "normal": "Normal", "high": "High", "urgent": "Urgent"})
class Priority(Choice):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


@with_labels({"inbound": "Message from requester", "outbound": "Reply", "note": "Internal note"})
class MessageKind(Choice):
    INBOUND = "inbound"
    OUTBOUND = "outbound"
    NOTE = "note"


@with_labels({"pending": "Pending", "sent": "Sent", "failed": "Failed"})
class DeliveryStatus(Choice):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@with_labels({"none": "None (plain)", "ssl": "SSL/TLS", "starttls": "STARTTLS"})
class MailSecurity(Choice):
    NONE = "none"
    SSL = "ssl"
    STARTTLS = "starttls"
