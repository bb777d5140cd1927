"""The portal chat as a conversation: the employee sees the operator's reply and the
automatic answer when they arrive (the poll), finds the conversation again after a reload,
reads statuses in their own words, and a question gets its category from its words."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from answers_support import CATEGORY, QUESTION, People, ask, set_mode_directly
from fastapi.testclient import TestClient

from ushiro.answers.choices import AutomationMode
from ushiro.core.runtime import Runtime
from ushiro.desk import (
    Channel,
    MessageKind,
    ReplyCreate,
    RequestChange,
    Status,
    backdate,
    queries,
)
from ushiro.desk import service as desk
from ushiro.identity import Role, Tenant, User

REPLY = "山田さん　お疲れさまです。入社6か月後に10日付与されます。"
NOTE = "社内メモ: 本人の入社日は4月1日。"


def chat(client: TestClient, token: str, message: str, request_id: int | None = None) -> int:
    """A chat message sent as the page sends it (htmx); returns the request id."""
    response = client.post("/portal/chat", headers={"HX-Request": "true"}, data={
        "message": message, "request_id": str(request_id or ""), "csrf_token": token})
    assert response.status_code == 200, response.text
    found = re.search(r'id="chat-request-id" value="(\d+)"', response.text)
    assert found is not None
    assert response.headers["HX-Push-Url"] == f"/portal/chat?request_id={found.group(1)}"
    return int(found.group(1))


def poll(client: TestClient, request_id: int, after: int, status: str,
         auto: bool = False) -> tuple[int, str]:
    response = client.get(f"/portal/chat/{request_id}/messages",
                          params={"after": after, "status": status, "auto": int(auto)})
    return response.status_code, response.text


def next_poll(html: str) -> str | None:
    """The query of the poll the answer sets up (None: polling stops)."""
    found = re.search(r'id="chat-poll"[^>]*hx-get="[^"?]+\?([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_poll_brings_the_reply_and_never_a_note(client: TestClient, rt: Runtime, people: People,
                                                rules: None, login: Callable[[str], str]) -> None:
    """GIVEN an employee's chat question (draft-only: a person answers)
    WHEN the chat polls before anything happened, after the operator wrote an internal
    note and a reply (status waiting), again after that reply, and after the request was
    resolved
    THEN nothing (204) at first; then the reply alone, the footer reading 「回答があります」
    and the next poll asking from the reply's id; nothing again; then the status
    「解決済」 and no further poll."""
    token = login(people.employee.email)
    request_id = chat(client, token, QUESTION)
    assert poll(client, request_id, 0, "new") == (204, "")

    desk.reply(rt, people.operator_p, request_id, ReplyCreate(body=NOTE, kind=MessageKind.NOTE))
    note_only = poll(client, request_id, 0, "new")
    assert note_only == (204, ""), "an internal note is nothing new for the employee"
    sent = desk.reply(rt, people.operator_p, request_id,
                      ReplyCreate(body=REPLY, kind=MessageKind.OUTBOUND, status=Status.WAITING))
    status, html = poll(client, request_id, 0, "new")
    assert status == 200 and REPLY in html and NOTE not in html
    assert 'hx-swap-oob="beforeend:#chat-messages"' in html and f'id="chat-msg-{sent.id}"' in html
    assert people.operator.name in html
    assert 'id="chat-state">回答があります<' in html and "回答待ち" not in html
    assert next_poll(html) == f"after={sent.id}&status=waiting&auto=0"
    assert poll(client, request_id, sent.id, "waiting") == (204, "")

    desk.change(rt, people.operator_p, request_id, RequestChange(status=Status.RESOLVED))
    status, html = poll(client, request_id, sent.id, "waiting")
    assert status == 200 and REPLY not in html and 'id="chat-state">解決済<' in html
    assert next_poll(html) is None


def test_poll_of_a_foreign_request_is_not_found(client: TestClient, rt: Runtime,
                                                people: People, make_user: Callable[..., User],
                                                make_tenant: Callable[..., Tenant],
                                                login: Callable[[str], str]) -> None:
    """GIVEN an employee's chat request
    WHEN another employee, an operator of the tenant (the chat shows only one's own
    requests), a user of another tenant and nobody poll it
    THEN not found for the three, and the anonymous poll is sent to the login page."""
    token = login(people.employee.email)
    request_id = chat(client, token, QUESTION)
    desk.reply(rt, people.operator_p, request_id, ReplyCreate(body=REPLY,
                                                              kind=MessageKind.OUTBOUND))
    other = make_user(Role.REQUESTER, name="田中 次郎")
    elsewhere = make_user(Role.REQUESTER, tenant_obj=make_tenant())
    for user in (other, people.operator, elsewhere):
        client.cookies.clear()
        login(user.email)
        status, html = poll(client, request_id, 0, "new")
        assert status == 404 and REPLY not in html, user.email
    client.cookies.clear()
    anonymous = client.get(f"/portal/chat/{request_id}/messages", follow_redirects=False)
    assert anonymous.status_code in (303, 401) and REPLY not in anonymous.text


def test_the_chat_reopens_with_the_conversation(client: TestClient, rt: Runtime,
                                                people: People,
                                                login: Callable[[str], str]) -> None:
    """GIVEN an employee's chat question that the operator answered and resolved
    WHEN the employee opens the chat again, asks to start a new question, and comes back
    after the resolved conversation is older than the chat keeps it
    THEN the whole thread (question, follow-up, reply) with the employee's status and
    a link to start anew; the greeting with an empty form; the greeting again."""
    token = login(people.employee.email)
    request_id = chat(client, token, QUESTION)
    chat(client, token, "入社は今年の4月です。", request_id)
    desk.reply(rt, people.operator_p, request_id, ReplyCreate(body=NOTE, kind=MessageKind.NOTE))
    desk.reply(rt, people.operator_p, request_id, ReplyCreate(
        body=REPLY, kind=MessageKind.OUTBOUND, status=Status.RESOLVED))

    page = client.get("/portal/chat").text
    assert QUESTION in page and "入社は今年の4月です。" in page and REPLY in page
    assert NOTE not in page
    assert f'id="chat-request-id" value="{request_id}"' in page
    assert 'id="chat-state">解決済<' in page and 'id="chat-poll"' not in page
    assert 'href="/portal/chat?new=1"' in page and 'src="/static/chat.js"' in page

    fresh = client.get("/portal/chat?new=1").text
    assert QUESTION not in fresh and 'id="chat-request-id" value=""' in fresh
    assert "バックオフィスへのご質問をどうぞ" in fresh

    backdate(rt, people.operator_p, request_id, queries.CHAT_KEPT_AFTER_RESOLVED
             + timedelta(hours=1))
    later = client.get("/portal/chat").text
    assert QUESTION not in later and 'id="chat-request-id" value=""' in later


def test_an_open_conversation_polls(client: TestClient, people: People,
                                    login: Callable[[str], str]) -> None:
    """GIVEN an open chat question WHEN the employee reloads the chat THEN it polls for
    the desk's answer from the last message shown, and reads 「受付済み」."""
    token = login(people.employee.email)
    request_id = chat(client, token, QUESTION)
    page = client.get("/portal/chat").text
    assert next_poll(page) == "after=0&status=new&auto=0"
    assert f'hx-get="/portal/chat/{request_id}/messages?' in page
    assert 'id="chat-state">受付済み<' in page and "担当者がここで回答します" in page


def test_a_chat_question_gets_its_category_and_self_service(
        client: TestClient, rt: Runtime, people: People, rules: None, category_id: int,
        login: Callable[[str], str]) -> None:
    """GIVEN 勤怠・休暇 in auto_send mode and an employee who chooses no category
    WHEN they ask about 有給休暇 in the chat, and reload the chat
    THEN the question is put in 勤怠・休暇 by its words, the automatic answer is sent and
    shown in the chat with its citation, the request is resolved (no poll), and the
    reloaded chat shows the same answer."""
    set_mode_directly(rt, people.tenant.id, category_id, AutomationMode.AUTO_SEND)
    token = login(people.employee.email)
    response = client.post("/portal/chat", headers={"HX-Request": "true"}, data={
        "message": QUESTION, "csrf_token": token})
    html = response.text
    assert 'id="auto-answer"' in html and "就業規則 第12条(年次有給休暇)" in html
    request_id = int(re.search(r'id="chat-request-id" value="(\d+)"', html).group(1))  # type: ignore[union-attr]
    item = queries.get_request(rt, people.employee_p, request_id)
    assert item.category == CATEGORY and item.status == "resolved"
    assert 'id="chat-state">解決済<' in html and next_poll(html) is None
    reloaded = client.get("/portal/chat").text
    assert 'id="auto-answer"' in reloaded and "就業規則 第12条(年次有給休暇)" in reloaded


def test_portal_statuses_are_worded_for_the_employee(client: TestClient, rt: Runtime,
                                                     people: People,
                                                     login: Callable[[str], str]) -> None:
    """GIVEN a request the operator answered with status waiting
    WHEN the employee opens their list and the request, and the operator the desk page
    THEN the employee reads 「回答があります」 (never 回答待ち); the desk keeps 回答待ち."""
    token = login(people.employee.email)
    request_id = chat(client, token, QUESTION)
    desk.reply(rt, people.operator_p, request_id, ReplyCreate(
        body=REPLY, kind=MessageKind.OUTBOUND, status=Status.WAITING))
    for url in ("/portal", f"/portal/requests/{request_id}", "/portal/chat"):
        page = client.get(url).text
        assert "回答があります" in page and "回答待ち" not in page, url
    client.cookies.clear()
    login(people.operator.email)
    assert "回答待ち" in client.get(f"/desk/requests/{request_id}").text


def test_poll_brings_a_suggested_answer_once(client: TestClient, rt: Runtime, people: People,
                                             rules: None, category_id: int,
                                             login: Callable[[str], str]) -> None:
    """GIVEN 勤怠・休暇 in suggest mode and a chat question whose automatic draft was made
    after the chat page had loaded (a worker, not the page, drafted it)
    WHEN the page polls, then polls again saying it shows the answer
    THEN the first poll brings the cited answer labelled 自動回答 with the escalate
    button, and asks next with auto=1; the second brings nothing."""
    set_mode_directly(rt, people.tenant.id, category_id, AutomationMode.SUGGEST)
    login(people.employee.email)
    request_id = ask(rt, people.employee_p, channel=Channel.CHAT)  # drafted after commit
    status, html = poll(client, request_id, 0, "new")
    assert status == 200 and 'id="auto-answer"' in html and "自動回答" in html
    assert "就業規則 第12条(年次有給休暇)" in html and 'id="chat-escalate"' in html
    assert next_poll(html) == "after=0&status=new&auto=1"
    assert poll(client, request_id, 0, "new", auto=True) == (204, "")
