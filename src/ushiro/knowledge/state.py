"""The tenant's knowledge state: the generation stamp every write bumps (search rebuilds
its index when the stamp changes) and the first use, which copies in the shipped synonyms.
Every knowledge write locks this row first, so writes of one tenant are serialised."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from ushiro import audit
from ushiro.audit import Actor
from ushiro.core.clock import now
from ushiro.core.runtime import Runtime
from ushiro.knowledge import repository
from ushiro.knowledge.models import KnowledgeState
from ushiro.knowledge.retrieval.synonyms import default_pairs


def bump(state: KnowledgeState) -> None:
    state.generation += 1
    state.stamp = uuid.uuid4().hex
    state.updated_at = now()


def ready_state(session: Session, tenant_id: int, actor: Actor) -> KnowledgeState:
    """Lock the tenant's knowledge state; on first use, copy in the shipped synonyms."""
    state = repository.lock_state(session, tenant_id)
    if not state.synonyms_seeded:
        count = repository.add_synonyms(session, tenant_id, default_pairs())
        state.synonyms_seeded = True
        bump(state)
        audit.record(session, tenant_id=tenant_id, actor=actor, action="knowledge.synonyms.seed",
                     object_type="kb_synonyms", object_id=tenant_id, after={"pairs": count})
    return state


def seed(rt: Runtime, tenant_id: int) -> None:
    """A tenant's first use: copy in the shipped synonyms (nothing when already done)."""
    with rt.db.transaction() as session:
        ready_state(session, tenant_id, audit.SYSTEM)
