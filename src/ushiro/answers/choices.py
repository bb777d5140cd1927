"""Draft statuses, revision kinds and the self-service mode of a category."""

from __future__ import annotations

from ushiro.core.choices import Choice, with_labels


@with_labels({
    "proposed": "Proposed",
    "approved": "Approved, not sent yet",
    "sent": "Sent",
    "rejected": "Rejected",
    "superseded": "Superseded",
})
class DraftStatus(Choice):
    PROPOSED = "proposed"
    APPROVED = "approved"  # decided by a person; the reply has not gone out (yet)
    SENT = "sent"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"  # a newer draft of the same request replaced it


REVIEWED = (DraftStatus.APPROVED, DraftStatus.SENT, DraftStatus.REJECTED)
OPEN = (DraftStatus.PROPOSED, DraftStatus.APPROVED)


@with_labels({
    "generated": "Generated",
    "edit": "Edited",
    "approve": "Approved",
    "reject": "Rejected",
})
class RevisionKind(Choice):
    GENERATED = "generated"
    EDIT = "edit"
    APPROVE = "approve"
    REJECT = "reject"


@with_labels({
    "draft_only": "Draft only (a person reviews every answer)",
    "suggest": "Suggest (the employee sees the answer at once)",
    "auto_send": "Send automatically",
})
class AutomationMode(Choice):
    DRAFT_ONLY = "draft_only"
    SUGGEST = "suggest"
    AUTO_SEND = "auto_send"

    @property
    def self_service(self) -> bool:
        return self is not AutomationMode.DRAFT_ONLY
