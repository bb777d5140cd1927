"""A tenant's synonyms: reading them (the shipped list until someone edits them) and
editing them, which re-analyses the current passages in the same transaction."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ushiro import audit
from ushiro.core.errors import invalid
from ushiro.core.runtime import Runtime
from ushiro.core.text import one_line
from ushiro.identity import Principal
from ushiro.knowledge import access, repository
from ushiro.knowledge.retrieval.tokenize import Analyzer, index_text
from ushiro.knowledge.state import bump, ready_state, seed


def synonyms(rt: Runtime, principal: Principal) -> dict[str, list[str]]:
    """canonical → variants of the tenant (the shipped list until someone edits it), for
    its administrators, who edit them."""
    access.require_manager(principal)
    tenant_id = principal.tenant_id
    with rt.db.reading() as session:
        seeded = repository.seeded_stamp(session, tenant_id) is not None
    if not seeded:
        seed(rt, tenant_id)
    with rt.db.reading() as session:
        pairs = repository.synonym_pairs(session, tenant_id)
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
    of synonym rows added or removed."""
    actor, tenant_id = access.acting(principal), principal.tenant_id
    canonical = one_line(canonical, 100)
    variants = [v for v in dict.fromkeys(one_line(v, 100) for v in variants) if v]
    if not canonical:
        raise invalid("canonical", "正規の語 (例: 年次有給休暇) を指定してください。")
    with rt.db.transaction() as session:
        state = ready_state(session, tenant_id, actor)
        existing = set(repository.synonym_pairs(session, tenant_id))
        if remove:
            count = repository.remove_synonyms(session, tenant_id, canonical, variants or None)
        else:
            new = [(canonical, v) for v in [canonical, *variants] if (canonical, v) not in existing]
            count = repository.add_synonyms(session, tenant_id, new)
        if count:
            _retokenise(session, tenant_id)
            bump(state)
            audit.record(session, tenant_id=tenant_id, actor=actor,
                         action="knowledge.synonyms." + ("remove" if remove else "add"),
                         object_type="kb_synonyms", object_id=tenant_id,
                         after={"canonical": canonical, "variants": variants, "rows": count})
    return count


def _retokenise(session: Session, tenant_id: int) -> None:
    analyzer = Analyzer(repository.synonym_pairs(session, tenant_id))
    rows = [{"id": p_id, "tokens": " ".join(analyzer.index_tokens(index_text(section, text)))}
            for p_id, section, text in repository.current_passage_texts(session, tenant_id)]
    repository.update_passage_tokens(session, rows)
