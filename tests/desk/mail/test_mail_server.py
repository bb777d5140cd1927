"""Mail against real loopback servers: polling a Dovecot IMAP mailbox (plain and TLS),
sending threaded replies to an aiosmtpd SMTP server, and `ushiro mail configure|poll`."""

from __future__ import annotations

import email
import email.policy
import email.utils
import gc
import json
import uuid
import warnings
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from servers.mail import ImapServer, SmtpServer, dovecot_available, openssl_available
from sqlalchemy import select
from typer.testing import Result

from ushiro.core.db import Database
from ushiro.core.errors import ErrorCode, UshiroError
from ushiro.core.runtime import Runtime
from ushiro.desk import mail as desk_mail
from ushiro.desk import queries
from ushiro.desk import service as desk_service
from ushiro.desk.mail import MailAccountIn
from ushiro.desk.models import Request
from ushiro.desk.schemas import QueueFilter, ReplyCreate, Upload
from ushiro.identity import Principal, Role, Tenant, User, command_line
from ushiro.identity import service as identity_service
from ushiro.jobs.models import Job

MAIL_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "mail"
DESK = "desk@example.co.jp"
MSGID_ORIGINAL = "<CAJm4rT2xQ8nV1b9ZpK3wYcR7uF5eHd0sA6gL2jM@mail.gmail.com>"
REQUESTER = "kenta.tanaka@example.co.jp"
NO_DOVECOT = "Dovecot is not installed (apt-get install dovecot-imapd): no IMAP server to poll"


def raw(name: str) -> bytes:
    return (MAIL_DIR / name).read_bytes()


@pytest.fixture(scope="module")
def imap() -> Iterator[ImapServer]:
    """One private Dovecot for the module; each test uses its own folder."""
    if not dovecot_available():
        pytest.skip(NO_DOVECOT)
    if not openssl_available():
        pytest.skip("the openssl command is missing: cannot make the IMAPS certificate")
    with ImapServer() as server:
        yield server


@pytest.fixture
def folder() -> str:
    return f"desk-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def operator(make_user: Callable[..., User], rt: Runtime, tenant: Tenant) -> Principal:
    user = make_user(Role.OPERATOR, email="keiri.op@sakura.example.co.jp", name="経理 担当")
    return identity_service.principal(rt.db, user.id, tenant.id)


def account(*, imap: ImapServer | None = None, folder: str = "INBOX", tls: bool = False,
            smtp: SmtpServer | None = None, **extra: object) -> MailAccountIn:
    values: dict[str, object] = {"address": DESK}
    if imap is not None:
        values.update(imap_host=imap.host, imap_port=imap.tls_port if tls else imap.port,
                      imap_security="ssl" if tls else "none", imap_user=imap.user,
                      imap_password=imap.password, imap_folder=folder)
    if smtp is not None:
        values.update(smtp_host=smtp.host, smtp_port=smtp.port, smtp_security="none")
    values.update(extra)
    return MailAccountIn(**values)


def parsed(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)


def send_jobs(rt: Runtime) -> list[Job]:
    with rt.db.reading() as session:
        return list(session.scalars(select(Job).where(Job.kind == "desk.send_reply")
                                    .order_by(Job.id)))


def requester_reply(to_outbound: bytes, body: str) -> bytes:
    """What the requester's mailer sends when answering our reply."""
    ours = parsed(to_outbound)
    msg = EmailMessage()
    msg["From"] = parsed(to_outbound)["To"]  # the requester the reply was sent to
    msg["To"] = DESK
    msg["Subject"] = f"Re: {ours['Subject']}"
    msg["Message-ID"] = email.utils.make_msgid(domain="mail.gmail.com")
    msg["In-Reply-To"] = ours["Message-ID"]
    msg["References"] = f"{ours['References']} {ours['Message-ID']}"
    msg.set_content(body, charset="utf-8")
    return msg.as_bytes(policy=email.policy.SMTP)


# --------------------------------------------------------------------------- IMAP polling

@pytest.mark.mailserver
def test_poll_imports_unseen_mail_and_marks_it_seen(
        rt: Runtime, tenant: Tenant, operator: Principal, imap: ImapServer, folder: str) -> None:
    """GIVEN a Dovecot folder with three Japanese mails, one malformed mail and one mail
    already read by a person
    WHEN the desk polls it twice
    THEN the first poll opens three requests and quarantines the malformed one with its
    Japanese reason (seen and flagged $UshiroQuarantined), every unseen mail is now
    \\Seen, the read mail is left alone, and the second poll imports nothing."""
    for name in ("iso2022jp.eml", "cp932.eml", "utf8_attachment.eml", "malformed.eml"):
        imap.append(raw(name), folder=folder)
    imap.append(raw("html_only.eml"), folder=folder, flags=("\\Seen",))
    desk_mail.save_account(rt, command_line(tenant.id), account(imap=imap, folder=folder))

    first = desk_mail.poll(rt, tenant.id)

    assert [r.created for r in first.imported] == [True, True, True]
    titles = [queries.get_request(rt, operator, r.request_id).title for r in first.imported]
    assert titles == ["交通費の精算について", "備品購入のお願い",
                      "出張旅費の精算について（大阪出張 1/15〜1/16）"]
    attachments = queries.get_request(rt, operator, first.imported[2].request_id).attachments
    assert [(a.filename, a.size) for a in attachments] == [("領収書.pdf", 629)]
    [error] = first.errors
    assert error.startswith("UID ") and "差出人(From)のメールアドレスを読み取れません" in error
    [held] = first.quarantined
    assert held.code == "mail_malformed"
    assert imap.unseen_count(folder) == 0 and imap.seen_count(folder) == 5
    flagged = [uid for uid, flags in imap.flags(folder).items() if "$UshiroQuarantined" in flags]
    assert flagged == [imap.uids(folder)[3]]

    second = desk_mail.poll(rt, tenant.id)

    assert second.imported == [] and second.errors == []
    assert queries.list_requests(rt, operator, QueueFilter()).total == 3


@pytest.mark.mailserver
def test_a_mail_that_cannot_be_decoded_does_not_block_the_mailbox(
        rt: Runtime, tenant: Tenant, imap: ImapServer, folder: str) -> None:
    """GIVEN a mailbox whose first unseen mail has a broken encoded word and raw 8-bit
    headers, followed by a normal mail
    WHEN the desk polls
    THEN both become requests and both are marked seen."""
    broken = (b"From: \xe7\x94\xb0\xe4\xb8\xad <kenta.tanaka@example.co.jp>\r\n"
              b"Subject: =?UTF-8?B?5?=\r\nMessage-ID: <broken.1@example.co.jp>\r\n"
              b"Content-Disposition: inline; filename=\"\xe9\xa0\x98.txt\"\r\n\r\nhi\r\n")
    imap.append(broken, folder=folder)
    imap.append(raw("iso2022jp.eml"), folder=folder)
    desk_mail.save_account(rt, command_line(tenant.id), account(imap=imap, folder=folder))

    result = desk_mail.poll(rt, tenant.id)

    assert [r.created for r in result.imported] == [True, True] and result.errors == []
    assert imap.unseen_count(folder) == 0


# The stdlib raises TypeError on a name given both as RFC 2231 "name*=" and "name*0="
# (email.utils.collapse_rfc2231_value sorts None with int): an unexpected exception.
STDLIB_CRASH = (b"From: kenta.tanaka@example.co.jp\r\nSubject: crash\r\n"
                b"Message-ID: <crash.1@example.co.jp>\r\nMIME-Version: 1.0\r\n"
                b"Content-Type: application/pdf; name*=utf-8''%E3%81%82; name*0=x\r\n"
                b"\r\nzz\r\n")


@pytest.mark.mailserver
@pytest.mark.parametrize("bad", ["nested", "stdlib_crash"])
def test_a_mail_that_crashes_the_parser_is_quarantined_and_the_poll_goes_on(
        rt: Runtime, tenant: Tenant, operator: Principal, imap: ImapServer, folder: str,
        bad: str) -> None:
    """GIVEN a mailbox where a mail that makes the parser fail (1,000 nested multiparts:
    RecursionError; a doubled RFC 2231 name: TypeError in the stdlib) sits between two
    valid mails
    WHEN the desk polls, twice
    THEN both valid mails become requests, the bad one is quarantined (kept, seen and
    flagged $UshiroQuarantined), and the second poll finds nothing left."""
    depth = 1000
    body = b"Content-Type: text/plain\r\n\r\nhello\r\n"
    for level in range(depth):
        b = b"b%d" % level
        body = (b'Content-Type: multipart/mixed; boundary="' + b + b'"\r\n\r\n--' + b
                + b"\r\n" + body + b"\r\n--" + b + b"--\r\n")
    nested = b"From: kenta.tanaka@example.co.jp\r\nMessage-ID: <nest.1@example.co.jp>\r\n" + body
    imap.append(raw("iso2022jp.eml"), folder=folder)
    imap.append(nested if bad == "nested" else STDLIB_CRASH, folder=folder)
    imap.append(raw("cp932.eml"), folder=folder)
    desk_mail.save_account(rt, command_line(tenant.id), account(imap=imap, folder=folder))

    first = desk_mail.poll(rt, tenant.id)
    second = desk_mail.poll(rt, tenant.id)

    assert [r.created for r in first.imported] == [True, True]
    [held] = first.quarantined
    assert held.code == ("mail_limit_exceeded" if bad == "nested" else "internal_error")
    assert imap.unseen_count(folder) == 0
    middle = imap.uids(folder)[1]
    assert "$UshiroQuarantined" in imap.flags(folder)[middle]
    assert second.imported == [] and second.quarantined == []


@pytest.mark.mailserver
def test_poll_a_folder_with_a_japanese_name(
        rt: Runtime, tenant: Tenant, imap: ImapServer) -> None:
    """GIVEN the desk mail is filed into a folder named 「受付」 (on the wire, in IMAP's
    modified UTF-7: &U9dO2A-)
    WHEN the account names the folder 受付 and the desk polls
    THEN the mail in that folder is imported and marked seen."""
    wire = f"&U9dO2A-{uuid.uuid4().hex[:6]}"
    imap.append(raw("cp932.eml"), folder=wire)
    name = "受付" + wire.removeprefix("&U9dO2A-")
    desk_mail.save_account(rt, command_line(tenant.id), account(imap=imap, folder=name))

    [imported] = desk_mail.poll(rt, tenant.id).imported

    assert imported.created and imap.unseen_count(wire) == 0


@pytest.mark.mailserver
def test_poll_over_tls_verifies_the_server_certificate(
        rt: Runtime, tenant: Tenant, operator: Principal, imap: ImapServer, folder: str) -> None:
    """GIVEN a mailbox reachable only over IMAPS with a private CA
    WHEN the desk polls without trusting that CA
    THEN it refuses to connect (mail_connection_failed) and marks nothing seen;
    WHEN Settings.mail_ca_file names the CA
    THEN the mail is imported and marked seen."""
    imap.append(raw("cp932.eml"), folder=folder)
    desk_mail.save_account(rt, command_line(tenant.id), account(imap=imap, folder=folder, tls=True))

    with pytest.raises(UshiroError) as caught:
        desk_mail.poll(rt, tenant.id)
    assert caught.value.code == ErrorCode.MAIL_CONNECTION
    assert "IMAP サーバー" in caught.value.message and "接続できません" in caught.value.message
    assert imap.unseen_count(folder) == 1

    trusting = Runtime(rt.settings.model_copy(update={"mail_ca_file": imap.cafile}), rt.db)
    result = desk_mail.poll(trusting, tenant.id)

    [imported] = result.imported
    out = queries.get_request(rt, operator, imported.request_id)
    assert out.title == "備品購入のお願い" and "いつもの㈱文具堂から購入" in out.body
    assert imap.unseen_count(folder) == 0


@pytest.mark.mailserver
def test_poll_with_a_wrong_password_fails_in_japanese(
        rt: Runtime, tenant: Tenant, imap: ImapServer, folder: str) -> None:
    imap.append(raw("cp932.eml"), folder=folder)
    desk_mail.save_account(rt, command_line(tenant.id),
                              account(imap=imap, folder=folder, imap_password="wrong"))

    with pytest.raises(UshiroError) as caught:
        desk_mail.poll(rt, tenant.id)

    assert caught.value.code == ErrorCode.MAIL_CONNECTION and "接続できません" in caught.value.message
    assert imap.unseen_count(folder) == 1


def _unclosed_sockets_after(action: Callable[[], object]) -> list[str]:
    """The ResourceWarnings of sockets left open by ``action`` (which must raise
    UshiroError); the exception and its frames are dropped first, so a socket still
    open is found by the garbage collector here, not in a later test."""
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always", ResourceWarning)
        try:
            action()
        except UshiroError:
            pass
        gc.collect()
    return [str(w.message) for w in seen if issubclass(w.category, ResourceWarning)]


@pytest.mark.mailserver
@pytest.mark.parametrize("case", ["wrong password", "missing folder"])
def test_a_failed_poll_closes_its_connection(
        rt: Runtime, tenant: Tenant, imap: ImapServer, folder: str, case: str) -> None:
    """GIVEN an IMAP account whose login fails, or whose folder does not exist
    WHEN the desk polls it and gets the error
    THEN the connection to the server is closed (no socket left for the collector)."""
    extra: dict[str, object] = ({"imap_password": "wrong"} if case == "wrong password"
                                else {"folder": "存在しない"})
    desk_mail.save_account(rt, command_line(tenant.id),
                              account(imap=imap, **({"folder": folder} | extra)))

    assert _unclosed_sockets_after(lambda: desk_mail.poll(rt, tenant.id)) == []


@pytest.mark.mailserver
def test_poll_of_a_missing_folder_names_it(rt: Runtime, tenant: Tenant, imap: ImapServer) -> None:
    desk_mail.save_account(rt, command_line(tenant.id), account(imap=imap, folder="経理/存在しない"))

    with pytest.raises(UshiroError) as caught:
        desk_mail.poll(rt, tenant.id)

    assert caught.value.code == ErrorCode.MAIL_CONNECTION
    assert "フォルダ「経理/存在しない」を開けません" in caught.value.message


def test_poll_without_a_mail_account_says_how_to_configure_it(rt: Runtime, tenant: Tenant) -> None:
    with pytest.raises(UshiroError) as caught:
        desk_mail.poll(rt, tenant.id)

    assert caught.value.code == ErrorCode.MAIL_NOT_CONFIGURED and "メール設定" in caught.value.message


# --------------------------------------------------------------------------- SMTP replies

@pytest.mark.parametrize(("title", "subject"), [
    ("出張旅費の件", "Re: [REQ-7] 出張旅費の件"),
    ("Re: 出張旅費の件", "Re: [REQ-7] 出張旅費の件"),
    ("RE: FW: 出張旅費の件", "Re: [REQ-7] 出張旅費の件"),
    ("Fwd: Re[2]: 出張旅費の件", "Re: [REQ-7] 出張旅費の件"),
    ("返信: 転送: 出張旅費の件", "Re: [REQ-7] 出張旅費の件"),
    ("Re：[REQ-7] 出張旅費の件", "Re: [REQ-7] 出張旅費の件"),
    ("Re: Re: ", "Re: [REQ-7] Re:"),  # nothing but prefixes: one is kept as the title
    ("Regarding the invoice", "Re: [REQ-7] Regarding the invoice"),
    ("返信期限について", "Re: [REQ-7] 返信期限について"),
])
def test_a_reply_subject_says_re_and_the_reference_once(title: str, subject: str) -> None:
    """GIVEN a mail request titled with the subject it arrived with
    WHEN the desk answers it
    THEN the subject is "Re: [REQ-n] " and the title without the "Re:", "FW:", "返信:",
    "転送:" and "[REQ-n]" the mail programs had put in front (words that only start like
    them stay)."""
    from ushiro.desk.mail import reply_subject

    assert reply_subject("REQ-7", title) == subject


def test_a_reply_to_a_forwarded_reply_has_a_clean_subject(
        rt: Runtime, tenant: Tenant, operator: Principal, smtp: SmtpServer) -> None:
    """GIVEN a request opened by a mail whose subject was "RE: 転送: 定期券の払い戻し"
    WHEN an operator replies
    THEN the mail sent says "Re: [REQ-n] 定期券の払い戻し", not "Re: [REQ-n] RE: 転送: …"."""
    desk_mail.save_account(rt, command_line(tenant.id), account(smtp=smtp))
    incoming = EmailMessage()
    incoming["From"] = REQUESTER
    incoming["To"] = DESK
    incoming["Subject"] = "RE: 転送: 定期券の払い戻し"
    incoming["Message-ID"] = "<forwarded.1@example.co.jp>"
    incoming.set_content("定期券の払い戻しはどうすればよいですか。")
    request = desk_mail.import_mail(rt, command_line(tenant.id), incoming.as_bytes())

    desk_service.reply(rt, operator, request.request_id, ReplyCreate(body="窓口で手続きできます。"))

    [(_from, _to, data)] = smtp.wait_for(1)
    assert parsed(data)["Subject"] == f"Re: [REQ-{request.number}] 定期券の払い戻し"


def test_operator_reply_is_sent_threaded_in_utf8(
        rt: Runtime, tenant: Tenant, operator: Principal, smtp: SmtpServer) -> None:
    """GIVEN a request opened by a mail
    WHEN an operator replies
    THEN one mail goes to the requester with In-Reply-To/References naming the original,
    [REQ-n] in the subject and the Japanese body intact; the reply shows as sent."""
    desk_mail.save_account(rt, command_line(tenant.id), account(smtp=smtp))
    request = desk_mail.import_mail(rt, command_line(tenant.id), raw("utf8_attachment.eml"))
    body = "田中様\n\n領収書①を確認しました。髙橋が㈱なにわ精機様の件も精算します。"

    desk_service.reply(rt, operator, request.request_id, ReplyCreate(body=body))

    [(mail_from, rcpt_tos, data)] = smtp.wait_for(1)
    sent = parsed(data)
    assert mail_from == DESK and rcpt_tos == [REQUESTER]
    assert sent["To"] == REQUESTER and sent["From"] == DESK
    assert sent["In-Reply-To"] == MSGID_ORIGINAL
    assert MSGID_ORIGINAL in sent["References"].split()
    assert f"[REQ-{request.number}]" in sent["Subject"]
    assert "出張旅費の精算について（大阪出張 1/15〜1/16）" in sent["Subject"]
    assert sent.get_content_charset() == "utf-8"
    assert sent.get_content().replace("\r\n", "\n").strip() == body
    out = queries.get_request(rt, operator, request.request_id)
    assert [(m.kind, m.delivery) for m in out.messages] == [("outbound", "sent")]
    assert out.status == "in_progress"


def test_files_attached_to_a_reply_are_mailed_with_it(
        rt: Runtime, tenant: Tenant, operator: Principal, smtp: SmtpServer) -> None:
    """GIVEN a mail request
    WHEN an operator replies with a file attached
    THEN the mail carries the file under its Japanese name with the same bytes."""
    desk_mail.save_account(rt, command_line(tenant.id), account(smtp=smtp))
    request = desk_mail.import_mail(rt, command_line(tenant.id), raw("utf8_attachment.eml"))
    data = b"%PDF-1.4\n% \xe7\xb2\xbe\xe7\xae\x97\n%%EOF\n"

    desk_service.reply(rt, operator, request.request_id, ReplyCreate(body="精算書を添付します。"),
                       [Upload("精算書.pdf", "application/pdf", data)])

    sent = parsed(smtp.wait_for(1)[0].raw)
    [attached] = list(sent.iter_attachments())
    assert attached.get_filename() == "精算書.pdf"
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_payload(decode=True) == data
    body = sent.get_body(preferencelist=("plain",))
    assert body is not None and body.get_content().strip() == "精算書を添付します。"


def test_reply_with_smtp_auth(rt: Runtime, tenant: Tenant, operator: Principal) -> None:
    """GIVEN an SMTP server that requires AUTH
    WHEN the account holds its user and password
    THEN the reply is delivered."""
    with SmtpServer(user="desk", password="smtp-pass-1") as server:
        desk_mail.save_account(rt, command_line(tenant.id), account(
            smtp=server, smtp_user="desk", smtp_password="smtp-pass-1"))
        request = desk_mail.import_mail(rt, command_line(tenant.id), raw("iso2022jp.eml"))

        desk_service.reply(rt, operator, request.request_id, ReplyCreate(body="承知しました。"))

        assert len(server.wait_for(1)) == 1
    [message] = queries.get_request(rt, operator, request.request_id).messages
    assert message.delivery == "sent"


def test_reply_while_smtp_is_down_is_kept_and_sent_later(
        rt: Runtime, tenant: Tenant, operator: Principal, smtp: SmtpServer) -> None:
    """GIVEN the SMTP server is down
    WHEN an operator replies to a mail request
    THEN the reply is stored, marked failed with the error kept on a job to retry, and
    nothing is lost: once SMTP is back the job delivers it exactly once."""
    desk_mail.save_account(rt, command_line(tenant.id), account(smtp=smtp))
    request = desk_mail.import_mail(rt, command_line(tenant.id), raw("utf8_attachment.eml"))
    smtp.stop()

    message = desk_service.reply(rt, operator, request.request_id,
                                 ReplyCreate(body="担当の経理です。確認いたします。"))

    [stored] = queries.get_request(rt, operator, request.request_id).messages
    assert stored.id == message.id and stored.body == "担当の経理です。確認いたします。"
    assert stored.delivery == "failed"
    [job] = send_jobs(rt)
    assert job.status == "pending" and job.attempts == 1
    assert "SMTP" in (job.last_error or "")

    with SmtpServer() as back:
        desk_mail.save_account(rt, command_line(tenant.id), account(smtp=back))
        desk_mail.send_reply(rt, dict(job.payload))  # the retry the worker would run
        desk_mail.send_reply(rt, dict(job.payload))  # a second run sends nothing more
        [(_, _, data)] = back.wait_for(1)
        assert back.messages == [back.messages[0]]
    assert parsed(data).get_content().strip() == "担当の経理です。確認いたします。"
    [stored] = queries.get_request(rt, operator, request.request_id).messages
    assert stored.delivery == "sent"


def test_requester_answer_to_our_reply_threads_into_the_request(
        rt: Runtime, tenant: Tenant, operator: Principal, smtp: SmtpServer) -> None:
    """GIVEN an operator's reply went out by mail
    WHEN the requester answers it (In-Reply-To = our Message-ID)
    THEN the answer is an inbound message of the same request."""
    desk_mail.save_account(rt, command_line(tenant.id), account(smtp=smtp))
    request = desk_mail.import_mail(rt, command_line(tenant.id), raw("cp932.eml"))
    desk_service.reply(rt, operator, request.request_id, ReplyCreate(body="購入手配します。"))
    [(_, _, ours)] = smtp.wait_for(1)

    result = desk_mail.import_mail(rt, command_line(tenant.id),
                                      requester_reply(ours, "ありがとうございます。①だけ先にお願いします。"))

    assert not result.created and result.request_id == request.request_id
    kinds = [(m.kind, m.body) for m in queries.get_request(rt, operator, request.request_id).messages]
    assert kinds == [("outbound", "購入手配します。"),
                     ("inbound", "ありがとうございます。①だけ先にお願いします。")]


@pytest.mark.mailserver
def test_mail_round_trip_through_imap_and_smtp(
        rt: Runtime, tenant: Tenant, operator: Principal, imap: ImapServer, folder: str,
        smtp: SmtpServer) -> None:
    """GIVEN a mail request polled from Dovecot
    WHEN the operator replies and sets it waiting, and the requester's answer to that
    reply lands in the mailbox
    THEN the next poll adds the answer to the same request and reopens it; the operator's
    next reply references the whole thread."""
    desk_mail.save_account(rt, command_line(tenant.id), account(imap=imap, folder=folder, smtp=smtp))
    imap.append(raw("utf8_attachment.eml"), folder=folder)
    [opened] = desk_mail.poll(rt, tenant.id).imported
    desk_service.reply(rt, operator, opened.request_id,
                       ReplyCreate(body="原本の到着をお待ちしています。", status="waiting"))
    [(_, _, first_reply)] = smtp.wait_for(1)
    assert queries.get_request(rt, operator, opened.request_id).status == "waiting"
    imap.append(requester_reply(first_reply, "本日送付しました。"), folder=folder)

    [answer] = desk_mail.poll(rt, tenant.id).imported

    assert answer.request_id == opened.request_id and not answer.created
    out = queries.get_request(rt, operator, opened.request_id)
    assert out.status == "in_progress"
    assert [m.kind for m in out.messages] == ["outbound", "inbound"]
    assert imap.unseen_count(folder) == 0

    desk_service.reply(rt, operator, opened.request_id, ReplyCreate(body="受領しました。"))
    second_reply = parsed(smtp.wait_for(2)[1].raw)
    answer_id = parsed(imap.fetch_all(folder)[1])["Message-ID"]
    assert second_reply["In-Reply-To"] == answer_id
    refs = second_reply["References"].split()
    assert refs[0] == MSGID_ORIGINAL and parsed(first_reply)["Message-ID"] in refs
    assert answer_id in refs


# --------------------------------------------------------------------------- CLI


def configure(cli: Callable[..., Result], imap: ImapServer, folder: str, *, port: int,
              security: str, password: str) -> Result:
    return cli("mail", "configure", "--address", DESK, "--imap-host", imap.host,
               "--imap-port", str(port), "--imap-security", security,
               "--imap-user", imap.user, "--imap-folder", folder, "--password-stdin",
               input=f"{password}\n")


@pytest.mark.mailserver
def test_cli_configure_and_poll_against_dovecot(
        cli: Callable[..., Result], imap: ImapServer, folder: str) -> None:
    """GIVEN `ushiro mail configure … --password-stdin` pointing at Dovecot
    WHEN `ushiro mail poll --json` runs twice over two good mails and a malformed one
    THEN the first run reports 2 imported and the bad one quarantined with its Japanese
    reason, the second run imports nothing, and the requests are in the database."""
    configured = configure(cli, imap, folder, port=imap.port, security="none",
                           password=imap.password)
    assert configured.exit_code == 0, configured.output
    assert "さくら精機株式会社 のメール設定を保存しました。" in configured.stdout
    for name in ("iso2022jp.eml", "malformed.eml", "rfc2047_filename.eml"):
        imap.append(raw(name), folder=folder)

    first = cli("mail", "poll", "--json")
    second = cli("mail", "poll", "--json")

    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert (summary["imported"], summary["duplicates"]) == (2, 0)
    [error] = summary["errors"]
    assert "差出人(From)のメールアドレスを読み取れません" in error
    [held] = summary["quarantined"]
    assert held["code"] == "mail_malformed" and "差出人" in held["reason"]
    assert json.loads(second.stdout) == {"imported": 0, "duplicates": 0, "quarantined": [],
                                         "errors": []}
    assert imap.unseen_count(folder) == 0
    db = Database(cli.env["USHIRO_DATABASE_URL"], pool_size=1)  # type: ignore[attr-defined]
    try:
        with db.reading() as session:
            titles = sorted(r.title for r in session.scalars(select(Request)))
    finally:
        db.dispose()
    assert titles == sorted(["交通費の精算について", "複合機リース更新の見積書送付"])


@pytest.mark.mailserver
def test_cli_poll_over_tls_with_ca_file(
        cli: Callable[..., Result], imap: ImapServer, folder: str) -> None:
    """GIVEN the mailbox configured for IMAPS and USHIRO_MAIL_CA_FILE trusting its CA
    WHEN `ushiro mail poll --json` runs
    THEN the mail is imported."""
    assert configure(cli, imap, folder, port=imap.tls_port or 0, security="ssl",
                     password=imap.password).exit_code == 0
    imap.append(raw("cp932.eml"), folder=folder)

    result = cli("mail", "poll", "--json", USHIRO_MAIL_CA_FILE=imap.cafile or "")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["imported"] == 1


@pytest.mark.mailserver
def test_cli_poll_reports_a_connection_failure_in_japanese(
        cli: Callable[..., Result], imap: ImapServer, folder: str) -> None:
    """GIVEN a stored IMAP password that Dovecot rejects
    WHEN `ushiro mail poll` runs
    THEN it exits 2 with a Japanese error and its code on stderr; nothing is marked seen."""
    configure(cli, imap, folder, port=imap.port, security="none", password="wrong-pass")
    imap.append(raw("cp932.eml"), folder=folder)

    result = cli("mail", "poll", "--json")

    assert result.exit_code == 2
    stderr = result.stderr.replace("\n", "")
    assert "IMAP サーバー" in stderr and "接続できません" in stderr
    assert "mail_connection_failed" in stderr
    assert imap.unseen_count(folder) == 1


def test_cli_poll_without_configuration(cli: Callable[..., Result]) -> None:
    result = cli("mail", "poll")

    assert result.exit_code == 2
    assert "mail_not_configured" in result.stderr and "メール設定" in result.stderr.replace("\n", "")
