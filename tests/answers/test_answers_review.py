"""Reviewing drafts: reject with a reason, re-draft, decisions that cannot be taken twice,
mail requests answered by SMTP, and the edit ratio that defines "accepted"."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from answers_support import People, ask, current_draft
from fastapi.testclient import TestClient
from servers.mail import SmtpServer

from ushiro import jobs
from ushiro.answers import compare
from ushiro.answers import service as answers
from ushiro.answers.hooks import JOB
from ushiro.answers.schemas import ApproveIn
from ushiro.core.errors import ErrorCode, UshiroError
from ushiro.core.runtime import Runtime
from ushiro.desk import mail as desk_mail
from ushiro.desk import queries
from ushiro.identity import User, command_line

MAIL = Path(__file__).resolve().parents[1] / "fixtures" / "mail" / "iso2022jp.eml"


def test_reject_needs_a_reason_and_sends_nothing(client: TestClient, rt: Runtime,
                                                 people: People, rules: None,
                                                 api_headers: Callable[[User], dict[str, str]]
                                                 ) -> None:
    """GIVEN a draft awaiting review
    WHEN the operator rejects it without a reason, then with one, then tries to approve it
    THEN the first is a 422, the second rejects it (reason kept as the last revision,
    nothing sent), and a rejected draft cannot be approved any more (409)."""
    request_id = ask(rt, people.employee_p)
    draft = current_draft(rt, people.operator_p, request_id)
    headers = api_headers(people.operator)
    empty = client.post(f"/api/v1/drafts/{draft.id}/reject", json={"reason": ""},
                        headers=headers)
    assert empty.status_code == 422
    rejected = client.post(f"/api/v1/drafts/{draft.id}/reject",
                           json={"reason": "就業規則が改定予定のため"}, headers=headers)
    assert rejected.status_code == 200, rejected.text
    body = rejected.json()
    assert (body["status"], body["reject_reason"], body["accepted"]) == (
        "rejected", "就業規則が改定予定のため", False)
    assert body["revisions"][-1]["kind"] == "reject"
    assert body["revisions"][-1]["author"] == "佐藤 花子"
    assert queries.get_request(rt, people.operator_p, request_id).messages == []
    again = client.post(f"/api/v1/drafts/{draft.id}/approve", json={"text": "はい"},
                        headers=headers)
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


def test_redrafting_supersedes_the_open_draft(client: TestClient, rt: Runtime, people: People,
                                              rules: None,
                                              api_headers: Callable[[User], dict[str, str]]
                                              ) -> None:
    """GIVEN a request with an automatic draft
    WHEN the operator asks for a new draft (再作成)
    THEN the new one is number 2 and the old one is superseded and cannot be approved."""
    request_id = ask(rt, people.employee_p)
    first = current_draft(rt, people.operator_p, request_id)
    headers = api_headers(people.operator)
    second = client.post(f"/api/v1/requests/{request_id}/drafts", headers=headers)
    assert second.status_code == 201
    assert second.json()["number"] == 2 and second.json()["status"] == "proposed"
    listed = client.get(f"/api/v1/requests/{request_id}/drafts", headers=headers).json()
    assert [(d["number"], d["status"]) for d in listed] == [(2, "proposed"), (1, "superseded")]
    stale = client.post(f"/api/v1/drafts/{first.id}/approve", json={"text": first.answer},
                        headers=headers)
    assert stale.status_code == 409


def test_draft_job_is_idempotent(rt: Runtime, people: People, rules: None) -> None:
    """GIVEN a request that got its automatic draft
    WHEN the drafting job runs again (a retry after a crash)
    THEN it changes nothing: still one draft."""
    request_id = ask(rt, people.employee_p)
    payload = {"request_id": request_id, "tenant_id": people.tenant.id}
    with rt.db.transaction() as session:
        jobs.enqueue(session, JOB, payload, tenant_id=people.tenant.id)
    jobs.run_pending(rt)
    assert len(answers.drafts_for_request(rt, people.operator_p, request_id)) == 1


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


def test_mail_request_answer_goes_out_by_smtp(rt: Runtime, people: People, rules: None,
                                              smtp: SmtpServer) -> None:
    """GIVEN a request that came in by mail and a draft for it
    WHEN the operator approves it before SMTP is configured, then again after
    THEN the first attempt fails with mail_not_configured and leaves the draft approved
    but not sent; the second sends the approved text by SMTP to the requester."""
    result = desk_mail.import_mail(rt, command_line(people.tenant.id), MAIL.read_bytes())
    draft = answers.generate_draft(rt, people.operator_p, result.request_id)
    assert draft is not None
    text = "交通費の精算は、経費精算システムから月末までに申請してください。"
    with pytest.raises(UshiroError) as failed:
        answers.approve(rt, people.operator_p, draft.id, ApproveIn(text=text))
    assert failed.value.code is ErrorCode.MAIL_NOT_CONFIGURED
    assert current_draft(rt, people.operator_p, result.request_id).status == "approved"
    desk_mail.save_account(rt, command_line(people.tenant.id), desk_mail.MailAccountIn(
        address="desk@example.co.jp", smtp_host=smtp.host, smtp_port=smtp.port,
        smtp_security="none"))
    answers.approve(rt, people.operator_p, draft.id, ApproveIn(text=text))
    assert current_draft(rt, people.operator_p, result.request_id).status == "sent"
    [(_from, rcpt_tos, raw)] = smtp.wait_for(1)
    sent = email.message_from_bytes(raw, policy=email.policy.default)
    assert rcpt_tos == [queries.get_request(rt, people.operator_p, result.request_id).requester]
    assert text in sent.get_body(("plain",)).get_content()  # type: ignore[union-attr]


LONG = ("年次有給休暇は、雇入れの日から６か月間継続勤務し、所定労働日の８割以上出勤した従業員に"
        "対して１０日を付与します。取得する場合は、原則として取得日の３日前までに所定の様式により"
        "届け出てください。") * 3

# (description, generated, sent, accepted without substantive edit)
EDITS = [
    ("unchanged", LONG, LONG, True),
    ("one character in a long Japanese answer", LONG, LONG.replace("１０日", "10日", 1), True),
    ("a sentence added", LONG, LONG + "不明点は人事部までお問い合わせください。", True),
    ("rewritten", LONG, "担当者が確認しました。詳しくは人事部までお電話ください。", False),
    ("half of it cut", LONG, LONG[: len(LONG) // 2], False),
]


@pytest.mark.parametrize(("generated", "sent", "accepted"), [e[1:] for e in EDITS],
                         ids=[e[0] for e in EDITS])
def test_edit_ratio_defines_acceptance(generated: str, sent: str, accepted: bool) -> None:
    """GIVEN a generated draft and the text sent
    WHEN the edit ratio (1 − SequenceMatcher ratio, autojunk off) is computed
    THEN it is below 0.10 exactly for the answers sent without substantive edit; a small
    edit of a long Japanese text stays small (autojunk would call it a rewrite)."""
    ratio = compare.edit_ratio(generated, sent)
    assert 0.0 <= ratio <= 1.0
    assert compare.accepted(ratio) is accepted


def test_highlight_marks_quoted_sentences_only() -> None:
    """GIVEN an article of three sentences and an answer quoting the second
    WHEN the passage is cut for highlighting
    THEN only the quoted sentence is marked (without its item number) and the segments
    put together are the passage unchanged."""
    passage = ("第９条　業務の都合により、所定労働時間を超え、又は休日に労働させることがある。\n"
               "２　時間外労働は、１か月４５時間、１年３６０時間を上限とする。\n"
               "３　時間外労働を行う場合は、事前に所属長の承認を得なければならない。")
    answer = "「時間外労働は、１か月４５時間、１年３６０時間を上限とする。」"
    segments = compare.highlight(passage, answer)
    assert "".join(s.text for s in segments) == passage
    assert [s.text for s in segments if s.marked] == [
        "時間外労働は、１か月４５時間、１年３６０時間を上限とする。"]
