"""The whole story by real mail: a rule question in ISO-2022-JP lands in a Dovecot mailbox,
the desk polls it, the request gets a cited draft, the operator edits and sends it over
HTTP, the answer leaves by SMTP threaded to the question, becomes an FAQ item, and the
employee's mailed reply joins the same request."""

from __future__ import annotations

import email
import email.policy
import email.utils
import uuid
from collections.abc import Callable, Iterator
from email.header import Header
from email.message import EmailMessage
from email.mime.text import MIMEText

import pytest
from answers_support import CATEGORY, People, csrf_of
from fastapi.testclient import TestClient
from servers.mail import ImapServer, SmtpServer, dovecot_available, openssl_available

from ushiro import knowledge
from ushiro.answers import service as answers
from ushiro.core.runtime import Runtime
from ushiro.desk import mail as desk_mail
from ushiro.desk import queries
from ushiro.desk.mail import MailAccountIn
from ushiro.identity import User, command_line

pytestmark = pytest.mark.mailserver

DESK = "desk@example.co.jp"
SUBJECT = "有給休暇の付与について"
QUESTION = "有給休暇は入社後いつから何日もらえますか？"
# As people write mail: salutation, self-introduction, the question, closing, signature.
BODY = (f"人事部 御中\n\nお疲れさまです。営業部の山田です。\n\n{QUESTION}\n"
        "よろしくお願いいたします。\n\n--\n山田 太郎\n営業部 第二課\n")
CLOSING = "ご不明な点があれば、このままご返信ください。"
EDIT = "申請は勤怠システムの「休暇申請」から行ってください。"
REASON = "申請方法を追記"
THANKS = "ありがとうございます。来月の申請は勤怠システムから行います。"
ISO_2022_JP_KANJI = b"\x1b$B"  # ESC $ B: the switch to JIS X 0208 in an ISO-2022-JP text


@pytest.fixture(scope="module")
def imap() -> Iterator[ImapServer]:
    if not dovecot_available():
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd)")
    if not openssl_available():
        pytest.skip("the openssl command is missing: cannot make the IMAPS certificate")
    with ImapServer() as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def folder() -> str:
    return f"desk-{uuid.uuid4().hex[:10]}"


def iso2022jp_mail(sender: User, subject: str, body: str, *, in_reply_to: str | None = None,
                   references: str | None = None) -> bytes:
    """A mail as a Japanese mailer of the old school sends it: ISO-2022-JP, 7bit,
    RFC 2047 encoded name and subject."""
    msg = MIMEText(body, "plain", "iso-2022-jp")
    msg["From"] = email.utils.formataddr((sender.name, sender.email), charset="iso-2022-jp")
    msg["To"] = DESK
    msg["Subject"] = Header(subject, "iso-2022-jp")
    msg["Date"] = email.utils.formatdate(localtime=True)
    msg["Message-ID"] = email.utils.make_msgid(domain="mail.example.co.jp")
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    raw = msg.as_bytes()
    assert ISO_2022_JP_KANJI in raw and b'charset="iso-2022-jp"' in raw
    assert max(raw) < 0x80, "ISO-2022-JP is 7-bit"
    return raw


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def plain_text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n").strip()


def test_rule_question_by_mail_to_faq_and_back(
        client: TestClient, rt: Runtime, people: People, rules: None, category_id: int,
        imap: ImapServer, folder: str, smtp: SmtpServer, login: Callable[[str], str],
        api_headers: Callable[[User], dict[str, str]]) -> None:
    """GIVEN the 就業規則 in the knowledge base, the desk's mailbox on Dovecot and SMTP on
    aiosmtpd
    WHEN the employee mails a paid-leave question in ISO-2022-JP, the desk polls it, the
    operator sorts it into 勤怠・休暇, the drafting job runs, the operator edits the cited
    draft over HTTP, approves and sends it, promotes it to the FAQ, and the employee
    answers the mail
    THEN the request shows the decoded Japanese question; the draft cites 第12条 with the
    quoted sentence highlighted; one mail leaves by SMTP to the employee with
    In-Reply-To/References naming the question and the edited text as body; the edit is a
    revision with author, reason and diff; search finds the FAQ; the employee's answer is
    an inbound message of the same request and reopens it."""
    desk_mail.save_account(rt, command_line(people.tenant.id), MailAccountIn(
        address=DESK, imap_host=imap.host, imap_port=imap.port, imap_security="none",
        imap_user=imap.user, imap_password=imap.password, imap_folder=folder,
        smtp_host=smtp.host, smtp_port=smtp.port, smtp_security="none"))
    question_mail = iso2022jp_mail(people.employee, SUBJECT, BODY)
    question_id = parsed(question_mail)["Message-ID"]
    imap.append(question_mail, folder=folder)

    # -- The desk polls the mailbox: one new request, the mail marked seen.
    polled = desk_mail.poll(rt, people.tenant.id)
    assert polled.errors == []
    [opened] = polled.imported
    assert opened.created and imap.unseen_count(folder) == 0
    request_id = opened.request_id
    request = queries.get_request(rt, people.operator_p, request_id)
    reference = request.reference
    assert (request.title, request.channel, request.requester) == (
        SUBJECT, "mail", people.employee.email)
    assert QUESTION in request.body

    # -- Mail arrives without a category, so without a draft; the operator sorts it into
    #    a 判断 category, which queues the drafting job (run after the commit: inline here).
    assert answers.drafts_for_request(rt, people.operator_p, request_id) == []
    token = login(people.operator.email)
    sorted_ = client.post(f"/desk/requests/{request_id}/update", follow_redirects=False,
                          data={"category_id": str(category_id), "csrf_token": token})
    assert sorted_.status_code == 303, sorted_.text
    assert queries.get_request(rt, people.operator_p, request_id).category == CATEGORY

    page = client.get(f"/desk/requests/{request_id}")
    assert page.status_code == 200
    assert 'id="draft-panel"' in page.text and "承認して送信" in page.text
    assert "就業規則 第12条(年次有給休暇)" in page.text
    assert "<mark>雇入れの日から６か月間継続勤務し" in page.text
    headers = api_headers(people.operator)
    [draft] = client.get(f"/api/v1/requests/{request_id}/drafts", headers=headers).json()
    assert draft["status"] == "proposed" and not draft["abstained"]
    assert draft["mode"] == "draft_only"
    assert [r["author"] for r in draft["revisions"]] == [answers.SYSTEM_LABEL]
    assert draft["citations"][0]["document"] == "就業規則"
    assert draft["citations"][0]["section"] == "第12条(年次有給休暇)"
    assert "１０日の年次有給休暇" in draft["answer"] and CLOSING in draft["answer"]
    # What was asked, without the mail's salutation, introduction, closing and signature.
    assert draft["question"] == f"{SUBJECT}\n{QUESTION}"

    # -- The operator edits the draft, approves and sends it.
    edited = draft["answer"].replace(CLOSING, EDIT)
    sent = client.post(f"/desk/drafts/{draft['id']}/approve", follow_redirects=False,
                       data={"text": edited, "reason": REASON, "status": "resolved",
                             "csrf_token": token})
    assert sent.status_code == 303, sent.text

    [(mail_from, rcpt_tos, raw)] = smtp.wait_for(1)
    reply = parsed(raw)
    assert (mail_from, rcpt_tos) == (DESK, [people.employee.email])
    assert reply["To"] == people.employee.email and reply["From"] == DESK
    assert reply["In-Reply-To"] == question_id
    assert question_id in reply["References"].split()
    assert f"[{reference}]" in reply["Subject"] and SUBJECT in reply["Subject"]
    assert plain_text(reply) == edited
    assert EDIT in plain_text(reply) and CLOSING not in plain_text(reply)

    [draft] = client.get(f"/api/v1/requests/{request_id}/drafts", headers=headers).json()
    assert draft["status"] == "sent" and draft["answer"] == edited
    assert [r["kind"] for r in draft["revisions"]] == ["generated", "edit", "approve"]
    edit = draft["revisions"][1]
    assert (edit["author"], edit["reason"], edit["body"]) == ("佐藤 花子", REASON, edited)
    assert f"-{CLOSING}" in edit["diff"] and f"+{EDIT}" in edit["diff"]
    assert draft["accepted"] is True and 0 < draft["edit_ratio"] < 0.10
    request = queries.get_request(rt, people.operator_p, request_id)
    assert request.status == "resolved"
    assert [(m.kind, m.body, m.delivery) for m in request.messages] == [
        ("outbound", edited, "sent")]

    # -- The answer becomes an FAQ item that search finds.
    token = csrf_of(client, f"/desk/requests/{request_id}")
    promoted = client.post(f"/desk/drafts/{draft['id']}/promote", follow_redirects=False,
                           data={"question": QUESTION, "answer": edited, "csrf_token": token})
    assert promoted.status_code == 303, promoted.text
    hits = knowledge.search(rt, people.employee_p, "入社して何か月で有給休暇がもらえますか",
                            k=3)
    faq = [h for h in hits if h.document == f"社内FAQ {reference}"]
    assert faq, [h.document for h in hits]
    assert QUESTION in faq[0].text and EDIT in faq[0].text

    # -- The employee answers the mail from their mailer: it threads into the request.
    answer_mail = iso2022jp_mail(people.employee, f"Re: {reply['Subject']}", THANKS,
                                 in_reply_to=reply["Message-ID"],
                                 references=f"{reply['References']} {reply['Message-ID']}")
    imap.append(answer_mail, folder=folder)
    [answered] = desk_mail.poll(rt, people.tenant.id).imported
    assert (answered.request_id, answered.created) == (request_id, False)
    request = queries.get_request(rt, people.operator_p, request_id)
    assert [(m.kind, m.body) for m in request.messages] == [("outbound", edited),
                                                           ("inbound", THANKS)]
    assert request.messages[1].author == people.employee.name  # decoded From: name
    assert request.status == "in_progress"  # a resolved request reopens on an answer
