"""Roles and work types."""

from __future__ import annotations

from ushiro.core.choices import Choice, with_labels


@with_labels({
    "requester": "Requester",
    "operator": "Operator",
    "approver": "Approver",
    "admin": "Administrator",
})
class Role(Choice):
    REQUESTER = "requester"
    OPERATOR = "operator"
    APPROVER = "approver"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return ROLE_RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


# Each role can do everything the roles below it can (an approver also works the queue).
ROLE_RANK = {Role.REQUESTER: 0, Role.OPERATOR: 1, Role.APPROVER: 2, Role.ADMIN: 3}
# The roles that work the desk (assignable, answer requests); requesters only ask.
STAFF_ROLES: tuple[Role, ...] = tuple(r for r in Role if r.at_least(Role.OPERATOR))


@with_labels({
    "judgment": "Judgment",
    "transcription": "Transcription",
    "guidance": "Guidance",
})
class WorkType(Choice):
    JUDGMENT = "judgment"
    TRANSCRIPTION = "transcription"
    GUIDANCE = "guidance"
