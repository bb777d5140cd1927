"""What each mode does for the employee: suggest shows the cited answer in the chat with
an escalate button, auto_send answers and resolves, an abstention always goes to a person."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from answers_support import MANUAL, QUESTION, People, ask, current_draft, set_mode_directly
from fastapi.testclient import TestClient

from ushiro import audit, knowledge
from ushiro.answers import service as answers
from ushiro.answers.choices import AutomationMode
from ushiro.core.runtime import Runtime
from ushiro.desk import events, queries
from ushiro.desk import service as desk
from ushiro.desk.schemas import RequestChange
from ushiro.desk.service import ESCALATION_TAG
from ushiro.identity import Role, WorkType, command_line


def _chat(client: TestClient, token: str, message: str, category_id: int) -> tuple[str, int]:
    response = client.post("/portal/chat", headers={"HX-Request": "true"},
                           data={"message": message, "category": str(category_id),
                                 "csrf_token": token})
    assert response.status_code == 200, response.text
    found = re.search(r'id="chat-request-id" value="(\d+)"', response.text)
    assert found is not None
    return response.text, int(found.group(1))


def _actions(rt: Runtime, tenant_id: int) -> list[str]:
    with rt.db.reading() as session:
        return [e.action for e in reversed(audit.recent_events(session, tenant_id, 10_000))]


def test_suggest_shows_the_answer_and_escalates(client: TestClient, rt: Runtime,
                                                people: People, rules: None, category_id: int,
                                                login: Callable[[str], str]) -> None:
    """GIVEN a category in suggest mode
    WHEN an employee asks a rule question in the portal chat, then presses 「担当者に確認する」
    THEN the chat shows the cited answer labelled 「自動回答」 at once, with the button;
    the request stays new in the queue with its draft awaiting review; escalating tags it
    エスカレーション (status still new) and the chat says a person will check."""
    set_mode_directly(rt, people.tenant.id, category_id, AutomationMode.SUGGEST)
    token = login(people.employee.email)
    html, request_id = _chat(client, token, QUESTION, category_id)
    assert 'id="auto-answer"' in html and "自動回答" in html
    assert "就業規則 第12条(年次有給休暇)" in html and "１０日の年次有給休暇を与える" in html
    assert 'id="chat-escalate"' in html and "担当者に確認する" in html
    item = queries.get_request(rt, people.employee_p, request_id)
    assert item.status == "new" and item.messages == []
    assert current_draft(rt, people.operator_p, request_id).status == "proposed"

    escalated = client.post("/portal/chat/escalate", headers={"HX-Request": "true"},
                            data={"request_id": str(request_id), "csrf_token": token})
    assert escalated.status_code == 200
    assert 'id="escalated"' in escalated.text and 'id="chat-escalate"' not in escalated.text
    item = queries.get_request(rt, people.operator_p, request_id)
    assert item.status == "new" and ESCALATION_TAG in item.tags
    assert "request.escalate" in _actions(rt, people.tenant.id)
    page = client.get(f"/portal/chat?request_id={request_id}")
    assert 'id="auto-answer"' in page.text and 'id="escalated"' in page.text


def test_suggest_reads_only_what_the_requester_may(rt: Runtime, people: People, rules: None,
                                                   category_id: int) -> None:
    """GIVEN a suggest category and a manual only operators may search
    WHEN an employee asks about what only the manual says
    THEN the automatic draft does not use the manual (it abstains, nothing is shown to the
    employee), while a draft the operator asks for cites it."""
    knowledge.add_document(rt, command_line(people.tenant.id), knowledge.DocumentIn(
        "経理担当者マニュアル.txt", MANUAL.encode(), min_role=Role.OPERATOR))
    set_mode_directly(rt, people.tenant.id, category_id, AutomationMode.SUGGEST)
    question = "社内ポイント制度の原資はどのように予算化されますか"
    request_id = ask(rt, people.employee_p, question)
    automatic = current_draft(rt, people.operator_p, request_id)
    assert automatic.mode == "suggest"
    assert "経理担当者マニュアル" not in [c.document for c in automatic.citations]
    assert automatic.abstained
    assert events.instant_answer(rt, people.employee_p, request_id) is None
    on_demand = answers.generate_draft(rt, people.operator_p, request_id)
    assert on_demand is not None and on_demand.mode == "draft_only"
    assert [c["document"] for c in on_demand.citations] == ["経理担当者マニュアル"]


def test_auto_send_answers_and_resolves(client: TestClient, rt: Runtime, people: People,
                                        rules: None, category_id: int,
                                        login: Callable[[str], str]) -> None:
    """GIVEN a category in auto_send mode
    WHEN an employee asks a rule question in the chat
    THEN the answer is sent at once as the reply (labelled 「自動回答」 in the chat), the
    request is resolved, and the draft is kept as sent by the system."""
    set_mode_directly(rt, people.tenant.id, category_id, AutomationMode.AUTO_SEND)
    token = login(people.employee.email)
    html, request_id = _chat(client, token, QUESTION, category_id)
    assert 'id="auto-answer"' in html and "就業規則 第12条(年次有給休暇)" in html
    item = queries.get_request(rt, people.employee_p, request_id)
    assert item.status == "resolved"
    [reply] = item.messages
    assert (reply.kind, reply.author) == ("outbound", "自動回答")
    assert html.count(reply.body.splitlines()[0]) == 1  # shown once, as the automatic answer
    draft = current_draft(rt, people.operator_p, request_id)
    assert (draft.status, draft.decided_by, draft.message_id) == ("sent", None, reply.id)
    assert draft.answer == reply.body and draft.edit_ratio == 0.0
    assert [(r.kind, r.reason) for r in draft.revisions] == [("generated", None),
                                                             ("approve", "自動送信")]
    assert "draft.auto_send" in _actions(rt, people.tenant.id)


@pytest.mark.parametrize("mode", [AutomationMode.SUGGEST, AutomationMode.AUTO_SEND])
def test_abstention_goes_to_a_person(client: TestClient, rt: Runtime, people: People,
                                     rules: None, category_id: int,
                                     login: Callable[[str], str], mode: AutomationMode) -> None:
    """GIVEN a self-service category
    WHEN the employee asks something the rules do not cover
    THEN the draft abstains with a reason and no citations, nothing automatic is shown or
    sent, the request waits as new, and the desk panel says a person must answer and why."""
    set_mode_directly(rt, people.tenant.id, category_id, mode)
    token = login(people.employee.email)
    html, request_id = _chat(client, token, "社員食堂の今週のメニューを教えてください", category_id)
    assert 'id="auto-answer"' not in html and "担当者がここで回答します" in html
    item = queries.get_request(rt, people.employee_p, request_id)
    assert item.status == "new" and item.messages == []
    draft = current_draft(rt, people.operator_p, request_id)
    assert draft.abstained and draft.citations == [] and draft.reason
    assert draft.status == "proposed"
    login(people.operator.email)
    page = client.get(f"/desk/requests/{request_id}")
    assert 'id="draft-abstained"' in page.text and "保留の返信" in page.text
    assert draft.reason.split(":")[0] in page.text


def test_tenant_without_knowledge_gets_no_automatic_drafts(rt: Runtime, people: People,
                                                           category_id: int) -> None:
    """GIVEN a tenant with no documents in its knowledge base
    WHEN a judgment request comes in
    THEN no draft is made by itself (nothing to cite); on demand, the draft abstains."""
    request_id = ask(rt, people.employee_p)
    assert answers.drafts_for_request(rt, people.operator_p, request_id) == []
    draft = answers.generate_draft(rt, people.operator_p, request_id)
    assert draft is not None and draft.abstained and draft.citations == []


def test_transcription_requests_get_no_automatic_drafts(rt: Runtime, people: People,
                                                        rules: None) -> None:
    """GIVEN a knowledge base
    WHEN a transcription request (入退社手続) and an uncategorised one come in
    THEN neither gets a draft by itself: drafts are for judgment and guidance."""
    for category in ("入退社手続", None):
        request_id = ask(rt, people.employee_p, category=category)
        assert answers.drafts_for_request(rt, people.operator_p, request_id) == []


def test_sorting_a_request_into_a_judgment_category_drafts_it(rt: Runtime, people: People,
                                                              rules: None,
                                                              category_id: int) -> None:
    """GIVEN a knowledge base and a question that arrived without a category (mail, chat)
    WHEN an operator sorts it into 勤怠・休暇 (a judgment category)
    THEN it gets a cited draft then, once: sorting it again does not draft it twice."""
    request_id = ask(rt, people.employee_p, category=None)
    assert answers.drafts_for_request(rt, people.operator_p, request_id) == []
    desk.change(rt, people.operator_p, request_id, RequestChange(category_id=category_id))
    drafts = answers.drafts_for_request(rt, people.operator_p, request_id)
    assert len(drafts) == 1 and not drafts[0].abstained
    assert any("第12条" in c.section for c in drafts[0].citations)
    desk.change(rt, people.operator_p, request_id, RequestChange(work_type=WorkType.GUIDANCE))
    assert len(answers.drafts_for_request(rt, people.operator_p, request_id)) == 1
