"""What the draft panel tells the operator beside the draft: where reference material (model
rules, a government guide) states other values than the company's own rule on the draft's
question. The draft follows the company's rule; the operator sees that the reference
differs, and can answer a requester who read it."""

from __future__ import annotations

from ushiro import knowledge
from ushiro.answers.schemas import DraftOut
from ushiro.answers.service import K
from ushiro.core.runtime import Runtime
from ushiro.identity import Principal


def draft_conflicts(rt: Runtime, principal: Principal,
                    draft: DraftOut | None) -> list[knowledge.Conflict]:
    """The conflicts among the passages the draft's question finds now, searched as the
    operator looking at it (what they may read)."""
    if draft is None or not draft.question.strip():
        return []
    return knowledge.conflicts(knowledge.search(rt, principal, draft.question, k=K))
