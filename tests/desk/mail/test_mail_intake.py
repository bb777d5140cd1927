"""Mail intake through the public services and `ushiro mail import`: Japanese decoding,
attachments, idempotency, threading, reopening and the rejection of bad mail."""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import Result

from ushiro.auditlog import tenant_log
from ushiro.core.db import Database
from ushiro.core.errors import ErrorCode, UshiroError
from ushiro.core.runtime import Runtime
from ushiro.desk import mail as desk_mail
from ushiro.desk import queries
from ushiro.desk import service as desk_service
from ushiro.desk.models import Request
from ushiro.desk.schemas import QueueFilter, RequestChange
from ushiro.identity import Principal, Role, Tenant, User, command_line
from ushiro.identity import service as identity_service

MAIL_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "mail"
MSGID_ORIGINAL = "<CAJm4rT2xQ8nV1b9ZpK3wYcR7uF5eHd0sA6gL2jM@mail.gmail.com>"
REQUESTER = b"kenta.tanaka@example.co.jp"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def raw(name: str) -> bytes:
    return (MAIL_DIR / name).read_bytes()


@pytest.fixture
def admin(make_user: Callable[..., User], rt: Runtime, tenant: Tenant) -> Principal:
    user = make_user(Role.ADMIN, email="admin@sakura.example.co.jp", name="管理 花子")
    return identity_service.principal(rt.db, user.id, tenant.id)


def request_total(rt: Runtime, principal: Principal) -> int:
    return int(queries.list_requests(rt, principal, QueueFilter()).total)


def audit_seq(rt: Runtime, principal: Principal) -> int:
    """The tenant's audit chain length (its seqs are gapless); the chain must verify."""
    events, report = tenant_log(rt, principal)
    assert report.ok
    return int(events[0].seq) if events else 0


def requester_name(rt: Runtime, request_id: int) -> str:
    # RequestOut exposes only the address; the display name is shown on the desk pages.
    with rt.db.reading() as session:
        found = session.get(Request, request_id)
        assert found is not None
        return str(found.requester_name)


def stored_files(rt: Runtime) -> list[Path]:
    root = rt.files.root
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def fixture_attachment_bytes(name: str) -> dict[str, bytes]:
    """What the stdlib decodes as the fixture's attachments (the reference bytes)."""
    msg = email.message_from_bytes(raw(name), policy=email.policy.default)
    return {str(part.get_filename()): bytes(part.get_payload(decode=True))
            for part in msg.iter_attachments()}


# --------------------------------------------------------------------------- decoding

DECODING = [
    ("iso2022jp.eml", "交通費の精算について", "hanako.sato@example.co.jp", "佐藤 花子",
     ["ICカードの利用履歴を印刷したもので"], []),
    ("cp932.eml", "備品購入のお願い", "ichiro.takahashi@example.co.jp", "髙橋 一郎",
     ["①ボールペン", "②付箋", "いつもの㈱文具堂から購入", "開発部の髙橋です"], []),
    ("utf8_attachment.eml", "出張旅費の精算について（大阪出張 1/15〜1/16）",
     "kenta.tanaka@example.co.jp", "田中 健太", ["合計：43,240円"],
     [("領収書.pdf", "application/pdf", 629)]),
    ("html_only.eml", "【至急】第2会議室のエアコンが故障しています",
     "misaki.yamamoto@example.co.jp", "山本 美咲",
     ["リモコンには「E5」というエラー表示が出ています。"], []),
    ("rfc2047_filename.eml", "複合機リース更新の見積書送付", "yuki.nakamura@example.co.jp",
     "中村 由紀", ["更新の見積書を業者から受け取りましたので添付いたします。"],
     [("見積書.xlsx", XLSX, 2628)]),
]


@pytest.mark.parametrize(("name", "subject", "address", "display", "phrases", "files"),
                         DECODING, ids=[row[0] for row in DECODING])
def test_each_fixture_becomes_a_correctly_decoded_request(
        rt: Runtime, tenant: Tenant, admin: Principal, name: str, subject: str, address: str,
        display: str, phrases: list[str], files: list[tuple[str, str, int]]) -> None:
    """GIVEN a Japanese mail as a mail server stores it (ISO-2022-JP, CP932 labelled
    Shift_JIS, UTF-8 with RFC 2231 names, HTML only, RFC 2047 names)
    WHEN it is imported
    THEN one new mail request holds its subject, sender, display name, body text and
    attachments, all decoded without mojibake."""
    result = desk_mail.import_mail(rt, command_line(tenant.id), raw(name))

    assert result.created and not result.duplicate
    out = queries.get_request(rt, admin, result.request_id)
    assert out.number == result.number and out.reference == f"REQ-{result.number}"
    assert out.title == subject
    assert out.channel == "mail" and out.status == "new"
    assert out.requester == address
    assert requester_name(rt, out.id) == display
    for phrase in phrases:
        assert phrase in out.body
    assert "\ufffd" not in out.body and "\r" not in out.body
    assert [(a.filename, a.content_type, a.size) for a in out.attachments] == files


@pytest.mark.parametrize(("name", "filename", "magic"), [
    ("utf8_attachment.eml", "領収書.pdf", b"%PDF-"),
    ("rfc2047_filename.eml", "見積書.xlsx", b"PK\x03\x04"),
])
def test_attachment_bytes_are_stored_and_retrievable(
        rt: Runtime, tenant: Tenant, admin: Principal, name: str, filename: str,
        magic: bytes) -> None:
    """GIVEN a mail with an attachment named by RFC 2231 or by an RFC 2047 `name=`
    WHEN it is imported
    THEN the attachment keeps its Japanese name and its exact bytes can be read back."""
    result = desk_mail.import_mail(rt, command_line(tenant.id), raw(name))

    [listed] = queries.get_request(rt, admin, result.request_id).attachments
    found, data = queries.attachment_for(rt, admin, listed.id)
    expected = fixture_attachment_bytes(name)[filename]
    assert found.filename == filename
    assert data == expected and data.startswith(magic)
    assert found.size == len(data)
    assert found.sha256 == hashlib.sha256(data).hexdigest()
    assert rt.files.read(found.sha256) == data


def test_html_only_mail_becomes_text_without_active_content(
        rt: Runtime, tenant: Tenant, admin: Principal) -> None:
    """GIVEN a mail with only an HTML part carrying <style>, <script> and javascript: links
    WHEN it is imported
    THEN the request body is plain text with none of the script, style or markup."""
    result = desk_mail.import_mail(rt, command_line(tenant.id), raw("html_only.eml"))

    body = queries.get_request(rt, admin, result.request_id).body
    assert "本社3階 第2会議室" in body and "詳細はこちら" in body
    for forbidden in ("alert(", "<script", "javascript:", "onclick", "font-family", "<", ">"):
        assert forbidden not in body


def plain_mail(*, sender: str, subject: str, filename: str | None = None,
               charset: str = "utf-8", encode: str = "utf-8") -> bytes:
    """A mail whose headers carry raw 8-bit text, as RFC 6532 (UTF-8) allows and as some
    legacy Japanese systems do with Shift_JIS; or any header text given verbatim."""
    head = (f"From: {sender}\r\nTo: desk@example.co.jp\r\nSubject: {subject}\r\n"
            f"Message-ID: <raw.{uuid.uuid4().hex}@example.co.jp>\r\nMIME-Version: 1.0\r\n")
    text = f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n"
    if filename is None:
        return (head + text + "\r\n本文です。\r\n").encode(encode)
    return (head + "Content-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\n" + text
            + "\r\n本文です。\r\n--XX\r\nContent-Type: application/pdf\r\n"
            + f'Content-Disposition: attachment; filename="{filename}"\r\n'
            + "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--XX--\r\n").encode(encode)


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
def test_unencoded_8bit_headers_are_decoded(
        rt: Runtime, tenant: Tenant, admin: Principal, encoding: str) -> None:
    """GIVEN a mail whose Subject, From name and attachment name are raw 8-bit text
    (UTF-8 per RFC 6532, or Shift_JIS from an old system) instead of encoded words
    WHEN it is imported
    THEN they are decoded like the body, not turned into replacement characters."""
    data = plain_mail(sender="田中 健太 <kenta.tanaka@example.co.jp>", subject="出張旅費の件 ①",
                      filename="領収書.pdf", charset="shift_jis" if encoding == "cp932" else "utf-8",
                      encode=encoding)

    result = desk_mail.import_mail(rt, command_line(tenant.id), data)

    out = queries.get_request(rt, admin, result.request_id)
    assert out.title == "出張旅費の件 ①"
    assert out.requester == "kenta.tanaka@example.co.jp"
    assert requester_name(rt, out.id) == "田中 健太"
    assert out.body == "本文です。"
    assert [a.filename for a in out.attachments] == ["領収書.pdf"]


@pytest.mark.parametrize("subject", ["=?UTF-8?B?5?=", "=?UTF-8?B?44GC?= =?UTF-8?B?x?="])
def test_a_broken_encoded_word_does_not_stop_the_mail(
        rt: Runtime, tenant: Tenant, admin: Principal, subject: str) -> None:
    """GIVEN a mail whose Subject holds an encoded word that is not valid base64
    WHEN it is imported
    THEN the request is opened with the subject text as received (a crash here would
    block every later mail of the mailbox, since the mail would never be marked seen)."""
    result = desk_mail.import_mail(
        rt, command_line(tenant.id), plain_mail(sender="kenta.tanaka@example.co.jp", subject=subject))

    assert result.created
    assert queries.get_request(rt, admin, result.request_id).title == subject


# --------------------------------------------------------------------------- idempotency

def test_importing_the_same_mail_twice_stores_it_once(
        rt: Runtime, tenant: Tenant, admin: Principal) -> None:
    """GIVEN a mail already imported
    WHEN the same bytes are imported again (a re-poll, a repeated CLI run)
    THEN the first request is reported as a duplicate; no request, attachment or audit
    event is added."""
    first = desk_mail.import_mail(rt, command_line(tenant.id), raw("utf8_attachment.eml"))
    requests, events = request_total(rt, admin), audit_seq(rt, admin)

    again = desk_mail.import_mail(rt, command_line(tenant.id), raw("utf8_attachment.eml"))

    assert (again.request_id, again.number) == (first.request_id, first.number)
    assert again.duplicate and not again.created
    assert request_total(rt, admin) == requests == 1
    assert audit_seq(rt, admin) == events
    assert len(queries.get_request(rt, admin, first.request_id).attachments) == 1


def test_a_threaded_reply_imported_twice_is_one_message(
        rt: Runtime, tenant: Tenant, admin: Principal) -> None:
    """GIVEN a reply already added to its request
    WHEN it is imported again
    THEN it is a duplicate and the request still has one inbound message."""
    original = desk_mail.import_mail(rt, command_line(tenant.id), raw("utf8_attachment.eml"))
    desk_mail.import_mail(rt, command_line(tenant.id), raw("reply.eml"))
    events = audit_seq(rt, admin)

    again = desk_mail.import_mail(rt, command_line(tenant.id), raw("reply.eml"))

    assert again.duplicate and again.request_id == original.request_id
    assert len(queries.get_request(rt, admin, original.request_id).messages) == 1
    assert audit_seq(rt, admin) == events


def test_a_mail_without_message_id_is_identified_by_its_content(
        rt: Runtime, tenant: Tenant, admin: Principal) -> None:
    """GIVEN a mail that has no Message-ID header
    WHEN it is imported twice
    THEN the second import is a duplicate of the first."""
    data = re.sub(rb"Message-ID: [^\r\n]*\r\n", b"", raw("iso2022jp.eml"))
    assert b"Message-ID" not in data

    first = desk_mail.import_mail(rt, command_line(tenant.id), data)
    again = desk_mail.import_mail(rt, command_line(tenant.id), data)

    assert first.created and again.duplicate and again.request_id == first.request_id
    assert request_total(rt, admin) == 1


# --------------------------------------------------------------------------- threading

def test_reply_with_in_reply_to_joins_the_original_request(
        rt: Runtime, tenant: Tenant, admin: Principal) -> None:
    """GIVEN a request opened by a mail
    WHEN the requester's reply (In-Reply-To / References → that mail) is imported
    THEN it is an inbound message of that request, not a new request."""
    original = desk_mail.import_mail(rt, command_line(tenant.id), raw("utf8_attachment.eml"))

    result = desk_mail.import_mail(rt, command_line(tenant.id), raw("reply.eml"))

    assert not result.created and result.request_id == original.request_id
    assert request_total(rt, admin) == 1
    [message] = queries.get_request(rt, admin, original.request_id).messages
    assert message.kind == "inbound" and message.author == "田中 健太"
    assert "宿泊費の領収書の原本を、本日社内便で経理部宛てに送付しました。" in message.body


def test_mail_from_a_registered_member_is_linked_to_their_account(
        rt: Runtime, tenant: Tenant, make_user: Callable[..., User]) -> None:
    """GIVEN 田中 健太 is a member of the tenant (registered as 田中 健太郎)
    WHEN his mail arrives, with the address in another letter case
    THEN the request is his: he sees it in his own view, under his registered name."""
    user = make_user(Role.REQUESTER, email="kenta.tanaka@example.co.jp", name="田中 健太郎")
    member = identity_service.principal(rt.db, user.id, tenant.id)
    data = raw("utf8_attachment.eml").replace(REQUESTER, b"Kenta.Tanaka@Example.CO.JP")

    result = desk_mail.import_mail(rt, command_line(tenant.id), data)

    assert queries.get_request(rt, member, result.request_id).requester == REQUESTER.decode()
    assert requester_name(rt, result.request_id) == "田中 健太郎"


def test_reply_whose_original_is_unknown_opens_a_request(
        rt: Runtime, tenant: Tenant, admin: Principal) -> None:
    """GIVEN no request for the mail a reply refers to
    WHEN the reply is imported
    THEN it opens a new request rather than being lost."""
    result = desk_mail.import_mail(rt, command_line(tenant.id), raw("reply.eml"))

    assert result.created
    assert queries.get_request(rt, admin, result.request_id).title.startswith("Re: 出張旅費")


def test_threading_never_crosses_tenants(
        rt: Runtime, tenant: Tenant, make_tenant: Callable[..., Tenant]) -> None:
    """GIVEN the original mail was imported into another tenant
    WHEN the reply is imported into this tenant
    THEN it opens a request here and leaves the other tenant's request alone."""
    other = make_tenant("momiji", "もみじ商事株式会社")
    theirs = desk_mail.import_mail(rt, command_line(other.id), raw("utf8_attachment.eml"))

    ours = desk_mail.import_mail(rt, command_line(tenant.id), raw("reply.eml"))

    assert ours.created and ours.request_id != theirs.request_id


@pytest.mark.parametrize(("sender", "threads"), [
    ("requester", True),
    ("operator", False),  # staff, but not a participant of REQ-n (see test_mail_forgery.py)
    ("stranger", False),
    ("other_member", False),
])
def test_subject_reference_threads_only_for_a_participant(
        rt: Runtime, tenant: Tenant, admin: Principal, make_user: Callable[..., User],
        sender: str, threads: bool) -> None:
    """GIVEN request REQ-n opened by 田中 健太's mail (and an unrelated REQ-1)
    WHEN a mail with "[REQ-n]" in its subject but no threading headers arrives
    THEN it joins REQ-n only when sent by a participant (here: the requester); from anyone
    else, staff included, it opens a new request (a subject line is easy to forge)."""
    make_user(Role.OPERATOR, email="keiri.op@sakura.example.co.jp", name="経理 担当")
    make_user(Role.REQUESTER, email="jiro.suzuki@sakura.example.co.jp", name="鈴木 次郎")
    addresses = {"requester": REQUESTER, "operator": b"keiri.op@sakura.example.co.jp",
                 "stranger": b"someone@outside.example.com",
                 "other_member": b"jiro.suzuki@sakura.example.co.jp"}
    desk_mail.import_mail(rt, command_line(tenant.id), raw("iso2022jp.eml"))
    target = desk_mail.import_mail(rt, command_line(tenant.id), raw("utf8_attachment.eml"))
    assert target.number == 2
    data = (raw("reply_subject_ref.eml").replace(b"[REQ-1]", f"[REQ-{target.number}]".encode())
            .replace(REQUESTER, addresses[sender]))

    result = desk_mail.import_mail(rt, command_line(tenant.id), data)

    assert result.created is not threads
    if threads:
        assert result.request_id == target.request_id
        [message] = queries.get_request(rt, admin, target.request_id).messages
        assert "出張旅費の振込予定日はいつ頃になりますでしょうか。" in message.body
    else:
        assert result.request_id != target.request_id
        assert queries.get_request(rt, admin, target.request_id).messages == []
        opened = queries.get_request(rt, admin, result.request_id)
        assert opened.requester == addresses[sender].decode()
        assert opened.title == f"Re: [REQ-{target.number}] 出張旅費の件"


def test_subject_reference_to_a_missing_request_opens_a_request(
        rt: Runtime, tenant: Tenant) -> None:
    """GIVEN no request REQ-999
    WHEN the requester writes about "[REQ-999]"
    THEN a new request is opened."""
    data = raw("reply_subject_ref.eml").replace(b"[REQ-1]", b"[REQ-999]")

    assert desk_mail.import_mail(rt, command_line(tenant.id), data).created


@pytest.mark.parametrize(("status", "after"), [
    ("waiting", "in_progress"),
    ("resolved", "in_progress"),
    ("in_progress", "in_progress"),
    ("new", "new"),
])
def test_a_mail_reply_reopens_a_waiting_or_resolved_request(
        rt: Runtime, tenant: Tenant, admin: Principal, status: str, after: str) -> None:
    """GIVEN a mail request waiting on the requester, or already resolved
    WHEN the requester's reply mail arrives
    THEN the request is back in progress (other statuses are left as they are)."""
    original = desk_mail.import_mail(rt, command_line(tenant.id), raw("utf8_attachment.eml"))
    desk_service.change(rt, admin, original.request_id, RequestChange(status=status))

    desk_mail.import_mail(rt, command_line(tenant.id), raw("reply.eml"))

    assert queries.get_request(rt, admin, original.request_id).status == after


@pytest.mark.parametrize(("header", "reopens"), [
    (b"Auto-Submitted: auto-replied", False),
    (b"Auto-Submitted: auto-generated", False),
    (b"X-Autoreply: yes", False),
    (b"X-Autorespond: =?UTF-8?B?5LiN5Zyo?=", False),
    (b"Precedence: auto_reply", False),
    (b"Precedence: bulk", False),
    (b"Auto-Submitted: no", True),
    (b"Precedence: first-class", True),
])
def test_an_out_of_office_reply_does_not_reopen_a_waiting_request(
        rt: Runtime, tenant: Tenant, admin: Principal, header: bytes, reopens: bool) -> None:
    """GIVEN a mail request waiting on the requester
    WHEN a reply mail arrives that a machine sent (不在通知: RFC 3834 Auto-Submitted,
    X-Autoreply, Precedence: auto_reply/bulk)
    THEN it joins the thread, so the operator sees it, but the request keeps waiting; a
    mail marked ``Auto-Submitted: no`` (a person's) reopens it as any reply does."""
    original = desk_mail.import_mail(rt, command_line(tenant.id), raw("utf8_attachment.eml"))
    desk_service.change(rt, admin, original.request_id, RequestChange(status="waiting"))
    reply = raw("reply.eml").replace(b"MIME-Version: 1.0\r\n", b"MIME-Version: 1.0\r\n"
                                     + header + b"\r\n", 1)
    reply = reply.replace(b"MIME-Version: 1.0\n", b"MIME-Version: 1.0\n" + header + b"\n", 1)
    assert header in reply

    result = desk_mail.import_mail(rt, command_line(tenant.id), reply)

    assert (result.request_id, result.created) == (original.request_id, False)
    request = queries.get_request(rt, admin, original.request_id)
    assert request.status == ("in_progress" if reopens else "waiting")
    assert [m.kind for m in request.messages] == ["inbound"]  # the reply, in the thread


# --------------------------------------------------------------------------- bad input

def test_malformed_mail_is_rejected_in_japanese_and_nothing_is_stored(
        rt: Runtime, tenant: Tenant, admin: Principal) -> None:
    """GIVEN a mail whose From has no usable address and whose headers are broken
    WHEN it is imported
    THEN it is rejected with mail_malformed and a Japanese reason; nothing is stored."""
    requests, events = request_total(rt, admin), audit_seq(rt, admin)

    with pytest.raises(UshiroError) as caught:
        desk_mail.import_mail(rt, command_line(tenant.id), raw("malformed.eml"))

    assert caught.value.code == ErrorCode.MAIL_MALFORMED
    assert JAPANESE.search(caught.value.message) and "差出人" in caught.value.message
    assert request_total(rt, admin) == requests
    assert audit_seq(rt, admin) == events
    assert stored_files(rt) == []


def test_mail_over_the_size_limit_is_rejected(
        rt: Runtime, tenant: Tenant, admin: Principal) -> None:
    """GIVEN a desk that accepts mail up to max_mail_bytes
    WHEN a larger mail is imported
    THEN it is rejected with mail_too_large, naming the limit, and nothing is stored."""
    data = raw("utf8_attachment.eml")
    small = Runtime(rt.settings.model_copy(update={"max_mail_bytes": len(data) - 1}), rt.db)

    with pytest.raises(UshiroError) as caught:
        desk_mail.import_mail(small, command_line(tenant.id), data)

    assert caught.value.code == ErrorCode.MAIL_TOO_LARGE
    assert "上限" in caught.value.message and f"{len(data) - 1:,}" in caught.value.message
    assert request_total(rt, admin) == 0
    assert desk_mail.import_mail(rt, command_line(tenant.id), data).created  # the default limit takes it


def test_attachment_over_the_size_limit_rejects_the_whole_mail(
        rt: Runtime, tenant: Tenant, admin: Principal) -> None:
    """GIVEN a desk that accepts attachments up to max_attachment_bytes
    WHEN a mail with a larger attachment is imported
    THEN it is rejected with payload_too_large naming the file; no request, no file."""
    small = Runtime(rt.settings.model_copy(update={"max_attachment_bytes": 600}), rt.db)
    events = audit_seq(rt, admin)

    with pytest.raises(UshiroError) as caught:
        desk_mail.import_mail(small, command_line(tenant.id), raw("utf8_attachment.eml"))

    assert caught.value.code == ErrorCode.TOO_LARGE == "payload_too_large"
    assert "領収書.pdf" in caught.value.message and "600" in caught.value.message
    assert request_total(rt, admin) == 0
    assert audit_seq(rt, admin) == events
    assert stored_files(rt) == []


# --------------------------------------------------------------------------- CLI import


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def cli_titles(url: str) -> dict[int, str]:
    db = Database(url, pool_size=1)
    try:
        with db.reading() as session:
            return {r.number: r.title for r in session.scalars(select(Request))}
    finally:
        db.dispose()


def test_cli_import_prints_json_lines_with_request_refs(cli: Callable[..., Result]) -> None:
    """GIVEN an initialised desk
    WHEN `ushiro mail import a.eml b.eml --json` runs, then runs again
    THEN each file gets one JSON line naming its request; the rerun reports duplicates."""
    files = [str(MAIL_DIR / "iso2022jp.eml"), str(MAIL_DIR / "cp932.eml")]

    first = cli("mail", "import", *files, "--json")
    again = cli("mail", "import", *files, "--json")

    assert first.exit_code == 0, first.output
    rows = json_lines(first.stdout)
    assert [(r["file"], r["request"], r["created"], r["duplicate"]) for r in rows] == [
        (files[0], "REQ-1", True, False), (files[1], "REQ-2", True, False)]
    assert again.exit_code == 0
    assert [(r["request"], r["duplicate"]) for r in json_lines(again.stdout)] == [
        ("REQ-1", True), ("REQ-2", True)]
    assert cli_titles(cli.env["USHIRO_DATABASE_URL"]) == {  # type: ignore[attr-defined]
        1: "交通費の精算について", 2: "備品購入のお願い"}


@pytest.mark.parametrize("json_out", [True, False], ids=["json", "text"])
def test_cli_import_quarantines_a_malformed_file_and_keeps_the_good_ones(
        cli: Callable[..., Result], json_out: bool) -> None:
    """GIVEN a batch with one malformed mail between two good ones
    WHEN `ushiro mail import` runs
    THEN both good mails are imported, the malformed one is quarantined with its
    Japanese reason (a warning on stderr), and the command exits 0: every mail is kept."""
    files = [str(MAIL_DIR / n) for n in ("iso2022jp.eml", "malformed.eml", "cp932.eml")]

    result = cli("mail", "import", *files, *(["--json"] if json_out else []))

    assert result.exit_code == 0
    stderr = result.stderr.replace("\n", "")
    assert "差出人(From)のメールアドレスを読み取れません" in stderr and "隔離しました" in stderr
    if json_out:
        rows = json_lines(result.stdout)
        assert [r.get("request") for r in rows] == ["REQ-1", None, "REQ-2"]
        assert rows[1]["quarantined"]["code"] == "mail_malformed"
        assert JAPANESE.search(rows[1]["quarantined"]["reason"])
    else:
        assert "2 件を取り込みました。隔離 1 件、失敗 0 件。" in result.stdout
    assert sorted(cli_titles(cli.env["USHIRO_DATABASE_URL"]).values()) == sorted(  # type: ignore[attr-defined]
        ["交通費の精算について", "備品購入のお願い"])


def test_cli_import_of_a_missing_file_is_an_error_not_a_crash(
        cli: Callable[..., Result], tmp_path: Path) -> None:
    result = cli("mail", "import", str(tmp_path / "nai.eml"), "--json")

    assert result.exit_code == 1
    [row] = json_lines(result.stdout)
    assert row["error"]["code"] == "io_error"
