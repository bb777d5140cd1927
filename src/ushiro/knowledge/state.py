"""The tenant's knowledge state: the generation stamp every write bumps (search rebuilds
its index when the stamp changes), set up on first use, and the tenant's synonym set with
the digest its passages were analysed under. Every knowledge write locks this row first,
so writes of one tenant are serialised."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from ushiro import audit
from ushiro.audit import Actor
from ushiro.core.clock import now
from ushiro.core.runtime import Runtime
from ushiro.knowledge import repository
from ushiro.knowledge.models import KnowledgeState
from ushiro.knowledge.retrieval.synonyms import SynonymSet, analyzer_for, effective
from ushiro.knowledge.retrieval.tokenize import Analyzer, index_text


def bump(state: KnowledgeState) -> None:
    state.generation += 1
    state.stamp = uuid.uuid4().hex
    state.updated_at = now()


def synonym_set(session: Session, tenant_id: int) -> SynonymSet:
    """The tenant's effective synonyms: the shipped list with its own changes applied."""
    return effective(repository.synonym_changes(session, tenant_id))


def ready_state(session: Session, tenant_id: int, actor: Actor) -> KnowledgeState:
    """Lock the tenant's knowledge state, set up on first use. Passages analysed under
    another synonym set than the tenant's (a release changed the shipped list) are
    analysed again first: search and ingest must read them as questions are read."""
    state = repository.lock_state(session, tenant_id)
    changed = not state.synonyms_seeded
    state.synonyms_seeded = True
    synonyms = synonym_set(session, tenant_id)
    if state.synonyms_digest != synonyms.digest:
        changed = retokenise(session, tenant_id, synonyms) > 0 or changed
        state.synonyms_digest = synonyms.digest
    if changed:
        bump(state)
    return state


def retokenise(session: Session, tenant_id: int, synonyms: SynonymSet) -> int:
    """Analyse the current passages again under ``synonyms``; the number analysed. The
    caller records the set's digest on the state it holds locked."""
    analyzer = analyzer_for(synonyms)
    rows = [{"id": p_id, "tokens": " ".join(analyzer.index_tokens(index_text(section, text)))}
            for p_id, section, text in repository.current_passage_texts(session, tenant_id)]
    repository.update_passage_tokens(session, rows)
    return len(rows)


def seed(rt: Runtime, tenant_id: int) -> None:
    """A tenant's first use: set up its state (nothing when already done). Nothing is
    copied: the shipped synonyms are read from the package."""
    with rt.db.transaction() as session:
        ready_state(session, tenant_id, audit.SYSTEM)


def current_analyzer(rt: Runtime, tenant_id: int) -> Analyzer:
    """The analyser of the tenant's synonym set, shared with every tenant of the same set;
    its passages are re-analysed first if they were analysed under another set."""
    with rt.db.reading() as session:
        synonyms = synonym_set(session, tenant_id)
        analysed = repository.synonyms_digest(session, tenant_id)
    if analysed != synonyms.digest:
        seed(rt, tenant_id)
        with rt.db.reading() as session:
            synonyms = synonym_set(session, tenant_id)
    return analyzer_for(synonyms)
