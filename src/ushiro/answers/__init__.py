"""Answer drafts from the knowledge base, their review, FAQ promotion and self-service.

Its desk hooks (automatic drafts, the chat's instant answer) and its job handler live in
:mod:`ushiro.answers.hooks`, loaded with every domain's hooks by ``ushiro.domains``.
"""

from ushiro.answers.choices import AutomationMode, DraftStatus, RevisionKind

__all__ = ["AutomationMode", "DraftStatus", "RevisionKind"]
