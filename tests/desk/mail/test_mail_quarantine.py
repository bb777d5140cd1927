"""A mailbox nothing can block: every mail that cannot become a request is quarantined
(kept with its reason, listed for the admin), the batch and the poll go on; MIME limits,
the body-length limit on mail, bounded HTML conversion and mislabelled charsets."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import Result

from ushiro.core.runtime import Runtime
from ushiro.desk import mail as desk_mail
from ushiro.desk import queries
from ushiro.desk.mail import ImportResult, Quarantined, quarantine
from ushiro.desk.schemas import QueueFilter
from ushiro.identity import Principal, Role, Tenant, User, command_line
from ushiro.identity import service as identity_service

MAIL_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "mail"


def raw(name: str) -> bytes:
    return (MAIL_DIR / name).read_bytes()


def nested(depth: int, *, sender: str = "kenta.tanaka@example.co.jp") -> bytes:
    """A multipart mail nested ``depth`` levels deep around one text part."""
    body = b"Content-Type: text/plain; charset=utf-8\r\n\r\nhello\r\n"
    for level in range(depth):
        b = b"b%d" % level
        body = (b'Content-Type: multipart/mixed; boundary="' + b + b'"\r\n\r\n--' + b
                + b"\r\n" + body + b"\r\n--" + b + b"--\r\n")
    head = (f"From: {sender}\r\nSubject: =?UTF-8?B?5YWl44KM5a2Q?=\r\n"
            f"Message-ID: <nested.{depth}.{uuid.uuid4().hex}@example.co.jp>\r\n"
            "MIME-Version: 1.0\r\n").encode()
    return head + body


def wide(parts: int) -> bytes:
    msg = EmailMessage(policy=SMTP)
    msg["From"] = "kenta.tanaka@example.co.jp"
    msg["Subject"] = "部品が多いメール"
    msg["Message-ID"] = f"<wide.{uuid.uuid4().hex}@example.co.jp>"
    msg.set_content("本文です。")
    for n in range(parts):
        msg.add_attachment(f"part {n}".encode(), maintype="text", subtype="x-part")
    return msg.as_bytes()


def text_mail(body: bytes, charset: str, *, subtype: str = "plain") -> bytes:
    head = ("From: =?UTF-8?B?55Sw5LitIOWBpeWkqg==?= <kenta.tanaka@example.co.jp>\r\n"
            "Subject: =?UTF-8?B?5paH5a2X44Kz44O844OJ?=\r\n"
            f"Message-ID: <text.{uuid.uuid4().hex}@example.co.jp>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/{subtype}; charset={charset}\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n").encode()
    return head + body


@pytest.fixture
def admin(make_user: Callable[..., User], rt: Runtime, tenant: Tenant) -> Principal:
    user = make_user(Role.ADMIN, email="admin@sakura.example.co.jp", name="管理 花子")
    return identity_service.principal(rt.db, user.id, tenant.id)


# --------------------------------------------------------------------------- quarantine

def test_a_deeply_nested_mail_is_quarantined_not_raised(
        rt: Runtime, tenant: Tenant, admin: Principal) -> None:
    """GIVEN a multipart mail nested 1,000 levels deep (RecursionError in the stdlib parser)
    WHEN it is received
    THEN it is quarantined with a Japanese reason and its raw bytes kept; no request."""
    data = nested(1000)

    result = desk_mail.receive(rt, command_line(tenant.id), data)

    assert isinstance(result, Quarantined)
    assert "入れ子" in result.reason
    [held] = quarantine.listing(rt, admin)
    assert held.id == result.id and held.sender == "kenta.tanaka@example.co.jp"
    assert held.subject == "入れ子" and held.size == len(data)
    assert quarantine.raw_mail(rt, admin, held.id)[1] == data
    assert queries.list_requests(rt, admin, QueueFilter()).total == 0


@pytest.mark.parametrize(("build", "words"), [
    (lambda: nested(30), "入れ子"),
    (lambda: wide(250), "部品"),
    (lambda: raw("malformed.eml"), "差出人"),
], ids=["depth-30", "parts-250", "no-sender"])
def test_limits_and_unreadable_mail_quarantine_with_the_reason(
        rt: Runtime, tenant: Tenant, admin: Principal, build: Callable[[], bytes],
        words: str) -> None:
    """GIVEN the default limits (MIME depth 20, 200 parts)
    WHEN a mail beyond one of them, or without a usable sender, is received
    THEN it is quarantined, and the reason names what was exceeded."""
    result = desk_mail.receive(rt, command_line(tenant.id), build())

    assert isinstance(result, Quarantined) and words in result.reason
    assert [q.reason for q in quarantine.listing(rt, admin)] == [result.reason]


def test_decoded_size_over_the_limit_is_quarantined(rt: Runtime, tenant: Tenant) -> None:
    small = Runtime(rt.settings.model_copy(update={"mail_max_decoded_bytes": 400}), rt.db)

    result = desk_mail.receive(small, command_line(tenant.id), raw("utf8_attachment.eml"))

    assert isinstance(result, Quarantined) and "400" in result.reason


def test_a_released_mail_is_imported_and_leaves_the_quarantine(
        rt: Runtime, tenant: Tenant, admin: Principal) -> None:
    """GIVEN a mail quarantined because its attachment exceeded the limit then
    WHEN the limit is raised and the admin releases it
    THEN it becomes a request and is no longer listed."""
    small = Runtime(rt.settings.model_copy(update={"max_attachment_bytes": 600}), rt.db)
    held = desk_mail.receive(small, command_line(tenant.id), raw("utf8_attachment.eml"))
    assert isinstance(held, Quarantined) and "領収書.pdf" in held.reason

    released = desk_mail.release(rt, admin, held.id)

    assert isinstance(released, ImportResult) and released.created
    assert quarantine.listing(rt, admin) == []


def test_cli_import_quarantines_the_nested_mail_and_stores_the_others(
        cli: Callable[..., Result], tmp_path: Path) -> None:
    """GIVEN a.eml, nested.eml (1,000 levels) and b.eml
    WHEN `ushiro mail import a.eml nested.eml b.eml` runs
    THEN a and b become REQ-1 and REQ-2, nested is reported as quarantined with its
    reason, and the command exits 0 (every mail is kept) with a warning line; importing
    nested.eml again reports the same quarantine entry."""
    bad = tmp_path / "nested.eml"
    bad.write_bytes(nested(1000))
    files = [str(MAIL_DIR / "iso2022jp.eml"), str(bad), str(MAIL_DIR / "cp932.eml")]

    result = cli("mail", "import", *files, "--json")
    text = cli("mail", "import", str(bad))

    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [r.get("request") for r in rows] == ["REQ-1", None, "REQ-2"]
    assert rows[1]["quarantined"]["id"] >= 1 and "入れ子" in rows[1]["quarantined"]["reason"]
    assert text.exit_code == 0
    assert "隔離 1 件" in text.stdout.replace("\n", "")
    assert f"(#{rows[1]['quarantined']['id']})" in text.stderr.replace("\n", "")  # held once


def test_the_admin_mail_page_lists_quarantined_mail_with_download_and_delete(
        rt: Runtime, tenant: Tenant, client: TestClient, make_user: Callable[..., User],
        login: Callable[[str], str]) -> None:
    """GIVEN a quarantined mail
    WHEN the admin opens the mail settings page
    THEN it lists the mail with its sender, subject and Japanese reason, the raw mail can
    be downloaded, and deleting it removes it from the list."""
    user = make_user(Role.ADMIN, email="admin@sakura.example.co.jp", name="管理 花子")
    data = nested(1000)
    held = desk_mail.receive(rt, command_line(tenant.id), data)
    assert isinstance(held, Quarantined)
    csrf = login(user.email)

    page = client.get("/admin/mail")
    download = client.get(f"/admin/mail/quarantine/{held.id}/raw")
    deleted = client.post(f"/admin/mail/quarantine/{held.id}/delete",
                          data={"csrf_token": csrf}, follow_redirects=False)
    after = client.get("/admin/mail")

    assert page.status_code == 200
    assert "kenta.tanaka@example.co.jp" in page.text and "入れ子" in page.text
    assert download.status_code == 200 and download.content == data
    assert download.headers["content-type"].startswith("message/rfc822")
    assert deleted.status_code == 303
    assert "kenta.tanaka@example.co.jp" not in after.text


def test_a_requester_cannot_see_the_quarantine(
        rt: Runtime, tenant: Tenant, client: TestClient, make_user: Callable[..., User],
        login: Callable[[str], str]) -> None:
    user = make_user(Role.OPERATOR, email="op@sakura.example.co.jp", name="担当")
    held = desk_mail.receive(rt, command_line(tenant.id), nested(1000))
    assert isinstance(held, Quarantined)
    login(user.email)

    assert client.get(f"/admin/mail/quarantine/{held.id}/raw").status_code == 403


# --------------------------------------------------------------------------- body limits

def test_a_mail_body_over_the_limit_is_cut_with_a_note_and_the_original_kept(
        rt: Runtime, tenant: Tenant, admin: Principal) -> None:
    """GIVEN max_body_chars = 1,000
    WHEN a mail with a 5,000-character body arrives
    THEN the request body is cut to the limit and says so, and the whole original mail
    is attached (nothing is lost)."""
    small = Runtime(rt.settings.model_copy(update={"max_body_chars": 1000}), rt.db)
    data = text_mail(("経費精算のお願いです。" * 500).encode(), "utf-8")

    result = desk_mail.receive(small, command_line(tenant.id), data)

    assert isinstance(result, ImportResult)
    out = queries.get_request(rt, admin, result.request_id)
    assert len(out.body) <= 1000 and "省略" in out.body
    [original] = out.attachments
    assert original.filename == "original.eml" and original.size == len(data)
    notes = desk_mail.mail_notes(rt, admin, result.request_id)
    assert any("省略" in w for n in notes for w in n.warnings)


def test_a_huge_html_only_mail_is_converted_in_bounded_time(
        rt: Runtime, tenant: Tenant, admin: Principal) -> None:
    """GIVEN an HTML-only mail of 20 MB (26 s and 1.4 GB before)
    WHEN it is received
    THEN it becomes a request within a few seconds, its body within max_body_chars, and
    the original mail is attached."""
    row = "<tr><td class='c'>項目</td><td><b>経費精算</b> の申請です。</td></tr>\n"
    html = "<html><body><table>" + row * (20 * 1024 * 1024 // len(row.encode())) + "</table>"
    data = text_mail(html.encode(), "utf-8", subtype="html")

    started = time.perf_counter()
    result = desk_mail.receive(rt, command_line(tenant.id), data)
    elapsed = time.perf_counter() - started

    assert isinstance(result, ImportResult)
    out = queries.get_request(rt, admin, result.request_id)
    assert len(out.body) <= rt.settings.max_body_chars and "経費精算 の申請です。" in out.body
    assert [a.filename for a in out.attachments] == ["original.eml"]
    assert elapsed < 12, f"{elapsed:.1f} s"


# --------------------------------------------------------------------------- charsets

MISLABELLED = [
    ("shift_jis", "utf-8"),
    ("iso-8859-1", "cp932"),
    ("shift_jis", "euc_jp"),
    ("utf-8", "cp932"),
    ("us-ascii", "iso2022_jp"),
]


@pytest.mark.parametrize(("declared", "actual"), MISLABELLED,
                         ids=[f"{d}-is-{a}" for d, a in MISLABELLED])
def test_a_mislabelled_charset_is_read_right_and_flagged(
        rt: Runtime, tenant: Tenant, admin: Principal, declared: str, actual: str) -> None:
    """GIVEN a mail whose body is in one charset but labelled as another
    WHEN it is received
    THEN the body is the Japanese text, not mojibake, and the request carries a warning
    naming the declared charset, for the operator to check."""
    text = "お世話になっております。交通費の精算をお願いいたします。よろしくお願いします。"

    result = desk_mail.receive(rt, command_line(tenant.id), text_mail(text.encode(actual), declared))

    assert isinstance(result, ImportResult)
    assert queries.get_request(rt, admin, result.request_id).body == text
    [note] = desk_mail.mail_notes(rt, admin, result.request_id)
    assert any(declared in w for w in note.warnings), note.warnings


def test_undecodable_bytes_are_flagged(rt: Runtime, tenant: Tenant, admin: Principal) -> None:
    data = text_mail("受付".encode() + b"\xff\xfe\xfa" + "です".encode(), "utf-8")

    result = desk_mail.receive(rt, command_line(tenant.id), data)

    assert isinstance(result, ImportResult)
    [note] = desk_mail.mail_notes(rt, admin, result.request_id)
    assert any("文字化け" in w for w in note.warnings)


def test_a_correctly_labelled_mail_has_no_warning(
        rt: Runtime, tenant: Tenant, admin: Principal) -> None:
    for name in ("iso2022jp.eml", "cp932.eml", "utf8_attachment.eml", "html_only.eml"):
        result = desk_mail.receive(rt, command_line(tenant.id), raw(name))
        assert isinstance(result, ImportResult)
        assert all(n.warnings == [] for n in desk_mail.mail_notes(rt, admin, result.request_id))


def test_the_request_page_shows_the_mail_warning(
        rt: Runtime, tenant: Tenant, client: TestClient, make_user: Callable[..., User],
        login: Callable[[str], str]) -> None:
    user = make_user(Role.ADMIN, email="admin@sakura.example.co.jp", name="管理 花子")
    text = "お世話になっております。交通費の精算をお願いいたします。"
    result = desk_mail.receive(rt, command_line(tenant.id), text_mail(text.encode("utf-8"), "shift_jis"))
    assert isinstance(result, ImportResult)
    login(user.email)

    page = client.get(f"/desk/requests/{result.request_id}")

    assert page.status_code == 200 and "shift_jis" in page.text
    assert re.search("文字コード", page.text)
