"""Answer drafts from the knowledge base, their review, FAQ promotion and self-service.

Its desk hooks (automatic drafts, the chat's instant answer) and its job handler live in
:mod:`ushiro.answers.hooks`, loaded with every domain's hooks by ``ushiro.domains``.
"""

from ushiro.answers.choices import AutomationMode, DraftStatus, RevisionKind
from ushiro.answers.schemas import ApproveIn
from ushiro.answers.selfservice import overview, set_mode
from ushiro.answers.service import approve, drafts_for_request

__all__ = ["ApproveIn", "AutomationMode", "DraftStatus", "RevisionKind", "approve",
           "drafts_for_request", "overview", "set_mode"]
