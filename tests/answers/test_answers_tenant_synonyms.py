"""Drafts read the question with the tenant's own synonyms, the ones search uses, not only
the shipped list: a word the administrator taught the knowledge base counts as the rule's
word when the drafter checks that the passage answers the question."""

from __future__ import annotations

from answers_support import People, ask

from ushiro import knowledge
from ushiro.answers import service as answers
from ushiro.core.runtime import Runtime
from ushiro.identity import Tenant, command_line
from ushiro.knowledge.drafting.drafters import TenantContext
from ushiro.knowledge.drafting.offline import OfflineDrafter

TELEWORK = """在宅勤務規程

（申請）
第３条　在宅勤務をする者は、前日までに所属長へ在宅勤務を申請しなければならない。
"""
# Only the tenant's variant: neither 在宅勤務 nor a shipped synonym of it.
QUESTION = "ホームオフィスの申請はいつまでですか"
SECTION = "第3条(申請)"


def add_rule(rt: Runtime, tenant: Tenant) -> None:
    knowledge.add_document(rt, command_line(tenant.id),
                           knowledge.DocumentIn("在宅勤務規程.txt", TELEWORK.encode()))


def test_draft_uses_a_synonym_the_tenant_added(rt: Runtime, tenant: Tenant) -> None:
    """GIVEN a rule that says 在宅勤務, and a question that says only ホームオフィス
    WHEN the administrator adds ホームオフィス as a variant of 在宅勤務 (edit_synonyms)
    THEN the draft quotes and cites the rule; before, it abstained, and the shipped synonyms
    alone would still abstain on the very passages search now finds."""
    add_rule(rt, tenant)
    [before] = answers.draft_questions(rt, command_line(tenant.id), [QUESTION])
    assert before.abstained and before.citations == []

    knowledge.edit_synonyms(rt, command_line(tenant.id), "在宅勤務", ["ホームオフィス"])
    [after] = answers.draft_questions(rt, command_line(tenant.id), [QUESTION])
    assert not after.abstained, after.reason
    assert [c.section for c in after.citations] == [SECTION]
    assert "前日までに所属長へ在宅勤務を申請しなければならない。" in after.answer

    hits = knowledge.search(rt, command_line(tenant.id), QUESTION)
    assert hits[0].section == SECTION
    shipped_only = OfflineDrafter().draft(QUESTION, hits, TenantContext())
    assert shipped_only.abstained


def test_request_draft_uses_the_tenants_synonyms(rt: Runtime, tenant: Tenant,
                                                 people: People) -> None:
    """The draft made for a request (the desk's path) reads it with the tenant's synonyms."""
    add_rule(rt, tenant)
    knowledge.edit_synonyms(rt, command_line(tenant.id), "在宅勤務", ["ホームオフィス"])
    request_id = ask(rt, people.employee_p, QUESTION, category=None)
    draft = answers.generate_draft(rt, people.operator_p, request_id)
    assert draft is not None
    assert not draft.abstained, draft.reason
    assert [c["section"] for c in draft.citations] == [SECTION]
