"""A tenant's synonyms: reading them (the shipped list with the tenant's changes) and
editing them, which stores the change against the shipped list and re-analyses the current
passages in the same transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ushiro import audit
from ushiro.core.errors import invalid
from ushiro.core.runtime import Runtime
from ushiro.core.text import one_line
from ushiro.identity import Principal
from ushiro.knowledge import access, repository
from ushiro.knowledge.retrieval.synonyms import ADD, REMOVE, Pair, shipped
from ushiro.knowledge.state import bump, ready_state, retokenise, synonym_set


def synonyms(rt: Runtime, principal: Principal) -> dict[str, list[str]]:
    """canonical → variants of the tenant (the shipped list with its changes), for its
    administrators, who edit them."""
    access.require_manager(principal)
    with rt.db.reading() as session:
        pairs = synonym_set(session, principal.tenant_id).pairs
    grouped: dict[str, list[str]] = {}
    for canonical, variant in pairs:
        variants = grouped.setdefault(canonical, [])
        if variant != canonical:
            variants.append(variant)
    return grouped


def edit_synonyms(rt: Runtime, principal: Principal, canonical: str,
                  variants: list[str], *, remove: bool = False) -> int:
    """Add (or remove) variants of ``canonical``; current passages are re-analysed in the
    same transaction, so search never mixes the old and the new reading. Returns the number
    of synonym pairs added or removed."""
    actor, tenant_id = access.acting(principal), principal.tenant_id
    canonical = one_line(canonical, 100)
    variants = [v for v in dict.fromkeys(one_line(v, 100) for v in variants) if v]
    if not canonical:
        raise invalid("canonical", "正規の語 (例: 年次有給休暇) を指定してください。")
    with rt.db.transaction() as session:
        state = ready_state(session, tenant_id, actor)
        existing = synonym_set(session, tenant_id).pairs
        if remove:
            count = _remove(session, tenant_id, [
                (c, v) for c, v in existing
                if c == canonical and (not variants or v in variants)])
        else:
            known = set(existing)
            count = _add(session, tenant_id, [(canonical, v) for v in [canonical, *variants]
                                              if (canonical, v) not in known])
        if count:
            synonyms_now = synonym_set(session, tenant_id)
            retokenise(session, tenant_id, synonyms_now)
            state.synonyms_digest = synonyms_now.digest
            bump(state)
            audit.record(session, tenant_id=tenant_id, actor=actor,
                         action="knowledge.synonyms." + ("remove" if remove else "add"),
                         object_type="kb_synonyms", object_id=tenant_id,
                         after={"canonical": canonical, "variants": variants, "rows": count})
    return count


def _add(session: Session, tenant_id: int, pairs: list[Pair]) -> int:
    """Pairs the tenant lacks: a shipped one it had removed comes back (its removal is
    deleted), any other is stored as its own addition."""
    base = set(shipped().pairs)
    repository.delete_synonym_changes(session, tenant_id, [p for p in pairs if p in base])
    repository.add_synonym_changes(session, tenant_id, [p for p in pairs if p not in base], ADD)
    return len(pairs)


def _remove(session: Session, tenant_id: int, pairs: list[Pair]) -> int:
    """Pairs the tenant has: a shipped one is stored as removed, its own addition deleted."""
    base = set(shipped().pairs)
    repository.delete_synonym_changes(session, tenant_id, [p for p in pairs if p not in base])
    repository.add_synonym_changes(session, tenant_id, [p for p in pairs if p in base], REMOVE)
    return len(pairs)
