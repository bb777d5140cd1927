"""The whole story over HTTP: an employee asks a rule question in the portal chat, the
operator reviews the cited draft, edits and sends it, the edit is kept, the answer becomes
an FAQ item that search finds."""

from __future__ import annotations

import re
from collections.abc import Callable

from answers_support import QUESTION, People, ask, csrf_of, current_draft
from fastapi.testclient import TestClient

from ushiro import audit, knowledge
from ushiro.core.runtime import Runtime
from ushiro.desk import queries
from ushiro.identity import User, command_line

EDIT = "申請は勤怠システムの「休暇申請」から行ってください。"


def _audit_actions(rt: Runtime, tenant_id: int) -> list[str]:
    with rt.db.reading() as session:
        return [e.action for e in reversed(audit.recent_events(session, tenant_id, 10_000))]


def test_rule_question_from_chat_to_faq(client: TestClient, rt: Runtime, people: People,
                                        rules: None, category_id: int,
                                        login: Callable[[str], str],
                                        api_headers: Callable[[User], dict[str, str]]) -> None:
    """GIVEN the company's 就業規則 in the knowledge base and the category 勤怠・休暇 in
    draft-only mode
    WHEN an employee asks how many days of paid leave they get in the portal chat,
    the operator opens the request, edits the cited draft, approves and sends it,
    and promotes the answer to the FAQ
    THEN the employee sees no automatic answer but later the operator's reply;
    the draft cited 第12条(年次有給休暇) with the quoted sentences highlighted (escaped);
    the edit is a revision with author, reason and a unified diff;
    the FAQ document faq-REQ-n is one Q&A passage that search finds."""
    token = login(people.employee.email)
    chat = client.post("/portal/chat", headers={"HX-Request": "true"},
                       data={"message": QUESTION, "category": str(category_id),
                             "csrf_token": token})
    assert chat.status_code == 200, chat.text
    assert 'id="auto-answer"' not in chat.text  # draft-only: a person answers
    found = re.search(r'id="chat-request-id" value="(\d+)"', chat.text)
    assert found is not None
    request_id = int(found.group(1))

    token = login(people.operator.email)
    page = client.get(f"/desk/requests/{request_id}")
    assert page.status_code == 200
    assert 'id="draft-panel"' in page.text and "承認して送信" in page.text
    assert "就業規則 第12条(年次有給休暇)" in page.text
    assert "<mark>雇入れの日から６か月間継続勤務し" in page.text
    assert "&lt;重要&gt;" in page.text and "<重要>" not in page.text  # passage text escaped

    headers = api_headers(people.operator)
    draft = client.get(f"/api/v1/requests/{request_id}/drafts", headers=headers).json()[0]
    assert draft["status"] == "proposed" and not draft["abstained"]
    assert draft["citations"][0]["section"] == "第12条(年次有給休暇)"
    edited = draft["answer"].replace("ご不明な点があれば、このままご返信ください。", EDIT)
    sent = client.post(f"/desk/drafts/{draft['id']}/approve", follow_redirects=False,
                       data={"text": edited, "reason": "申請方法を追記", "status": "resolved",
                             "csrf_token": token})
    assert sent.status_code == 303, sent.text

    draft = client.get(f"/api/v1/requests/{request_id}/drafts", headers=headers).json()[0]
    assert draft["status"] == "sent" and draft["answer"] == edited
    assert [r["kind"] for r in draft["revisions"]] == ["generated", "edit", "approve"]
    edit = draft["revisions"][1]
    assert (edit["author"], edit["reason"]) == ("佐藤 花子", "申請方法を追記")
    assert "-ご不明な点があれば、このままご返信ください。" in edit["diff"]
    assert f"+{EDIT}" in edit["diff"]
    assert 0 < draft["edit_ratio"] < 0.10 and draft["accepted"] is True
    page = client.get(f"/desk/requests/{request_id}")
    assert 'id="draft-history"' in page.text and "申請方法を追記" in page.text
    assert 'id="draft-edit-ratio"' in page.text and "実質的な修正なしで承認" in page.text

    seen = queries.get_request(rt, people.employee_p, request_id)
    assert seen.status == "resolved"
    assert [(m.kind, m.body) for m in seen.messages] == [("outbound", edited)]

    promoted = client.post(f"/desk/drafts/{draft['id']}/promote", follow_redirects=False,
                           data={"question": QUESTION, "answer": edited, "csrf_token": token})
    assert promoted.status_code == 303, promoted.text
    faq = [d for d in knowledge.list_documents(rt, command_line(people.tenant.id))
           if d.name == f"faq-{seen.reference}"]
    assert len(faq) == 1 and faq[0].passages == 1
    hits = knowledge.search(rt, people.employee_p, "入社して何か月で有給休暇がもらえますか",
                            k=3)
    assert f"社内FAQ {seen.reference}" in [h.document for h in hits]
    assert any(h.section.startswith("Q") for h in hits if h.document.startswith("社内FAQ"))
    page = client.get(f"/desk/requests/{request_id}")
    assert f"faq-{seen.reference}" in page.text

    actions = _audit_actions(rt, people.tenant.id)
    for action in ("draft.create", "draft.approve", "draft.send", "draft.promote"):
        assert action in actions


def test_csrf_token_is_required_for_review(client: TestClient, rt: Runtime, people: People,
                                           rules: None, login: Callable[[str], str]) -> None:
    """GIVEN a draft awaiting review
    WHEN the approve form is posted without the session's CSRF token
    THEN it is refused (403) and nothing is sent."""
    request_id = ask(rt, people.employee_p)
    draft = current_draft(rt, people.operator_p, request_id)
    login(people.operator.email)
    csrf_of(client, "/portal")
    response = client.post(f"/desk/drafts/{draft.id}/approve", data={"text": "はい"})
    assert response.status_code == 403
    assert current_draft(rt, people.operator_p, request_id).status == "proposed"
