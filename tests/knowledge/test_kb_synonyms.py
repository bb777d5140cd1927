"""A tenant's synonyms: the shipped list read from the package, the tenant's own changes
stored against it, and one analyser per synonym set shared between tenants."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select, update

from ushiro import knowledge
from ushiro.core.runtime import Runtime
from ushiro.identity import Tenant, command_line
from ushiro.knowledge import DocumentIn
from ushiro.knowledge.models import KnowledgeState, Passage, Synonym

RULE = "# 就業規則\n## 第12条（年次有給休暇）\n年次有給休暇は入社6か月後に10日付与する。"


def _rows(rt: Runtime, tenant: Tenant) -> list[tuple[str, str, str]]:
    with rt.db.reading() as session:
        return [tuple(row) for row in session.execute(  # type: ignore[misc]
            select(Synonym.canonical, Synonym.variant, Synonym.op)
            .where(Synonym.tenant_id == tenant.id).order_by(Synonym.id))]


def _top(rt: Runtime, tenant: Tenant, query: str) -> list[str]:
    return [h.section for h in knowledge.search(rt, command_line(tenant.id), query, k=1)]


def _state(rt: Runtime, tenant: Tenant) -> tuple[str, str | None]:
    with rt.db.reading() as session:
        state = session.get(KnowledgeState, tenant.id)
        assert state is not None
        return state.stamp, state.synonyms_digest


def test_tenants_with_the_same_synonyms_share_one_analyser(
        rt: Runtime, make_tenant: Callable[..., Tenant]) -> None:
    """GIVEN two tenants with the shipped synonyms WHEN both search THEN they use one
    analyser; once one adds a variant it has its own, and when it takes the variant out
    again it has no rows left and shares the analyser once more."""
    first, second = make_tenant(), make_tenant()
    shared = knowledge.analyzer(rt, command_line(first.id))
    assert knowledge.analyzer(rt, command_line(second.id)) is shared
    knowledge.edit_synonyms(rt, command_line(first.id), "在宅勤務", ["ホームオフィス"])
    own = knowledge.analyzer(rt, command_line(first.id))
    assert own is not shared and "ホームオフィス" in own.terms
    assert knowledge.analyzer(rt, command_line(second.id)) is shared
    knowledge.edit_synonyms(rt, command_line(first.id), "在宅勤務", ["ホームオフィス"], remove=True)
    assert _rows(rt, first) == []
    assert knowledge.analyzer(rt, command_line(first.id)) is shared


def test_edits_are_stored_as_changes_to_the_shipped_list(rt: Runtime, tenant: Tenant) -> None:
    """GIVEN the shipped synonyms (有休 → 年次有給休暇)
    WHEN the admin removes 有休 THEN one removal is stored and a question with 有休 no longer
    finds the clause; WHEN it adds 有休 back THEN the removal is gone (no rows) and the
    question finds the clause again; a variant of its own is stored as an addition."""
    knowledge.add_document(rt, command_line(tenant.id), DocumentIn("就業規則.md", RULE.encode()))
    assert _top(rt, tenant, "有休") == ["第12条(年次有給休暇)"]
    principal = command_line(tenant.id)
    assert knowledge.edit_synonyms(rt, principal, "年次有給休暇", ["有休"], remove=True) == 1
    assert _rows(rt, tenant) == [("年次有給休暇", "有休", "remove")]
    assert "有休" not in knowledge.synonyms(rt, principal)["年次有給休暇"]
    assert _top(rt, tenant, "有休") == []
    assert knowledge.edit_synonyms(rt, principal, "年次有給休暇", ["有休", "有給"]) == 1
    assert _rows(rt, tenant) == [] and _top(rt, tenant, "有休") == ["第12条(年次有給休暇)"]
    assert knowledge.edit_synonyms(rt, principal, "年次有給休暇", ["ねんきゅう"]) == 1
    assert _rows(rt, tenant) == [("年次有給休暇", "ねんきゅう", "add")]


def test_removing_a_whole_term_removes_its_shipped_pairs(rt: Runtime, tenant: Tenant) -> None:
    """GIVEN the shipped 賞与 ← ボーナス and an added variant 大入り袋 WHEN the admin removes 賞与
    without naming variants THEN the term is gone from the table: its shipped pairs are
    stored as removals and its own addition deleted."""
    principal = command_line(tenant.id)
    shipped = [(c, v) for c, v in knowledge.default_pairs() if c == "賞与"]
    knowledge.edit_synonyms(rt, principal, "賞与", ["大入り袋"])
    assert knowledge.edit_synonyms(rt, principal, "賞与", [], remove=True) == len(shipped) + 1
    assert "賞与" not in knowledge.synonyms(rt, principal)
    assert sorted(_rows(rt, tenant)) == sorted((c, v, "remove") for c, v in shipped)


def _tokens(rt: Runtime, tenant: Tenant) -> list[str]:
    with rt.db.reading() as session:
        return list(session.scalars(select(Passage.tokens).where(Passage.tenant_id == tenant.id)
                                    .order_by(Passage.id)))


def test_passages_analysed_under_another_shipped_list_are_analysed_again(
        rt: Runtime, tenant: Tenant) -> None:
    """GIVEN passages analysed under another synonym set than the tenant's (as after a
    release that changed the shipped list)
    WHEN the tenant next searches THEN its passages are analysed again under its set, once
    (a new stamp for every process), and a second search changes nothing more."""
    knowledge.add_document(rt, command_line(tenant.id), DocumentIn("就業規則.md", RULE.encode()))
    analysed = _tokens(rt, tenant)
    with rt.db.transaction() as session:
        session.execute(update(Passage).where(Passage.tenant_id == tenant.id)
                        .values(tokens="read under another list"))
        session.execute(update(KnowledgeState).where(KnowledgeState.tenant_id == tenant.id)
                        .values(synonyms_digest="0" * 64, stamp="another-release"))
    assert _top(rt, tenant, "有給") == ["第12条(年次有給休暇)"]
    stamp, digest = _state(rt, tenant)
    assert _tokens(rt, tenant) == analysed and stamp != "another-release"
    assert digest == knowledge.synonym_state(rt, tenant.id)[1].digest
    assert _top(rt, tenant, "有給") == ["第12条(年次有給休暇)"] and _state(rt, tenant)[0] == stamp
