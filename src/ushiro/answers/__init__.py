"""Answer drafts from the knowledge base, their review, FAQ promotion and self-service.

Importing the package registers its desk hooks (automatic drafts, the chat's instant
answer) and its job handler; see :mod:`ushiro.answers.hooks`.
"""

from ushiro.answers import hooks as _hooks  # noqa: F401 - registers with desk and jobs
from ushiro.answers.choices import AutomationMode, DraftStatus, RevisionKind

__all__ = ["AutomationMode", "DraftStatus", "RevisionKind"]
