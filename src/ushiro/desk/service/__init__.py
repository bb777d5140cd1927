"""Desk use cases. Each public function owns its transaction, writes the audit event,
and runs side effects (mail sending) only after commit, through durable jobs.

- common.py: what every write shares (open a request, add a message, move a status);
- submission.py: the portal form, the API with idempotency keys, the chat;
- replies.py: replies, system answers, follow-ups, escalation;
- changes.py: assignment, classification, priority, due date, status.
"""

from ushiro.desk.service.changes import change
from ushiro.desk.service.common import MAX_UPLOADS
from ushiro.desk.service.replies import (
    ESCALATION_TAG,
    escalate,
    follow_up,
    reply,
    system_reply,
)
from ushiro.desk.service.submission import (
    MAX_IDEMPOTENCY_KEY,
    chat_send,
    submit,
    submit_request,
)

__all__ = [
    "ESCALATION_TAG", "MAX_IDEMPOTENCY_KEY", "MAX_UPLOADS", "change", "chat_send", "escalate",
    "follow_up", "reply", "submit", "submit_request", "system_reply",
]
