"""Mail that cannot be forged into a thread: only the request's participants thread by
mail, and the receiving server's Authentication-Results are recorded and enforced."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ushiro.core.runtime import Runtime
from ushiro.desk import mail as desk_mail
from ushiro.desk import queries
from ushiro.desk import service as desk_service
from ushiro.desk.mail import ImportResult
from ushiro.desk.schemas import ReplyCreate
from ushiro.identity import Principal, Role, Tenant, User, command_line
from ushiro.identity import service as identity_service

MAIL_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "mail"
REQUESTER = b"kenta.tanaka@example.co.jp"
OPERATOR = "keiri.op@sakura.example.co.jp"
OTHER_OPERATOR = "soumu.op@sakura.example.co.jp"


def raw(name: str) -> bytes:
    return (MAIL_DIR / name).read_bytes()


def with_header(data: bytes, header: bytes) -> bytes:
    """``data`` with ``header`` put on top, where a receiving server adds its own."""
    return header + b"\r\n" + data


@pytest.fixture
def staff(make_user: Callable[..., User], rt: Runtime, tenant: Tenant) -> dict[str, Principal]:
    users = {"admin": make_user(Role.ADMIN, email="admin@sakura.example.co.jp", name="管理"),
             "operator": make_user(Role.OPERATOR, email=OPERATOR, name="経理 担当"),
             "other": make_user(Role.OPERATOR, email=OTHER_OPERATOR, name="総務 担当")}
    return {k: identity_service.principal(rt.db, u.id, tenant.id) for k, u in users.items()}


def imported(result: object) -> ImportResult:
    assert isinstance(result, ImportResult)
    return result


@pytest.mark.parametrize(("sender", "threads"), [
    ("requester", True),
    ("replied_staff", True),
    ("other_staff", False),
    ("stranger", False),
])
def test_a_subject_reference_threads_only_for_a_participant(
        rt: Runtime, tenant: Tenant, staff: dict[str, Principal], sender: str,
        threads: bool) -> None:
    """GIVEN REQ-1 opened by 田中 健太's mail, answered by 経理 担当
    WHEN a mail "Re: [REQ-1] …" without threading headers arrives
    THEN it joins REQ-1 only from a participant (the requester, or the staff member who
    replied); from another staff member or a stranger it opens a new request marked
    as unverified."""
    target = imported(desk_mail.receive(rt, command_line(tenant.id), raw("utf8_attachment.eml")))
    desk_service.reply(rt, staff["operator"], target.request_id,
                       ReplyCreate(body="確認します。", kind="note"))
    addresses = {"requester": REQUESTER, "replied_staff": OPERATOR.encode(),
                 "other_staff": OTHER_OPERATOR.encode(), "stranger": b"x@outside.example.com"}
    data = raw("reply_subject_ref.eml").replace(REQUESTER, addresses[sender])

    result = imported(desk_mail.receive(rt, command_line(tenant.id), data))

    assert (result.request_id == target.request_id) is threads
    if not threads:
        opened = queries.get_request(rt, staff["admin"], result.request_id)
        assert "差出人未確認" in opened.tags
        [note] = desk_mail.mail_notes(rt, staff["admin"], result.request_id)
        assert any("REQ-1" in w and "参加者ではない" in w for w in note.warnings)
        assert [m.kind for m in queries.get_request(
            rt, staff["admin"], target.request_id).messages] == ["note"]


def test_a_forged_staff_from_does_not_write_into_another_employees_request(
        rt: Runtime, tenant: Tenant, staff: dict[str, Principal]) -> None:
    """GIVEN REQ-1 of 田中 健太, which no staff member has touched
    WHEN a mail From: <an operator> with Subject: Re: [REQ-1] arrives
    THEN REQ-1 is unchanged and a new request (marked unverified) holds the mail."""
    target = imported(desk_mail.receive(rt, command_line(tenant.id), raw("utf8_attachment.eml")))
    data = raw("reply_subject_ref.eml").replace(REQUESTER, OPERATOR.encode())

    result = imported(desk_mail.receive(rt, command_line(tenant.id), data))

    assert result.created and result.request_id != target.request_id
    assert queries.get_request(rt, staff["admin"], target.request_id).messages == []


def test_in_reply_to_from_a_non_participant_opens_a_request(
        rt: Runtime, tenant: Tenant, staff: dict[str, Principal]) -> None:
    """GIVEN REQ-1 opened by a mail
    WHEN someone else answers that mail (In-Reply-To points to it)
    THEN the answer opens a new request marked unverified; the requester's own answer,
    and later answers of an address already in the thread, still join REQ-1."""
    target = imported(desk_mail.receive(rt, command_line(tenant.id), raw("utf8_attachment.eml")))
    stranger = (raw("reply.eml").replace(REQUESTER, b"x@outside.example.com")
                .replace(b"<CAJm4rT3", b"<FORGED3"))

    forged = imported(desk_mail.receive(rt, command_line(tenant.id), stranger))
    genuine = imported(desk_mail.receive(rt, command_line(tenant.id), raw("reply.eml")))

    assert forged.created and "差出人未確認" in queries.get_request(
        rt, staff["admin"], forged.request_id).tags
    assert genuine.request_id == target.request_id


AUTH = "Authentication-Results: mx1.example.co.jp;"


@pytest.mark.parametrize(("results", "failing"), [
    (" spf=pass smtp.mailfrom=example.co.jp; dkim=pass header.d=example.co.jp;"
     " dmarc=pass header.from=example.co.jp", False),
    (" spf=fail smtp.mailfrom=example.co.jp", True),
    (" spf=softfail smtp.mailfrom=example.co.jp", True),
    (" spf=permerror smtp.mailfrom=example.co.jp", True),
    (" dkim=fail (bad signature) header.d=example.co.jp", True),
    (" spf=pass smtp.mailfrom=example.co.jp; dmarc=fail (p=none) header.from=example.co.jp",
     True),
    (" spf=neutral smtp.mailfrom=example.co.jp; dkim=none", False),
    (" none", False),
], ids=["all-pass", "spf-fail", "spf-softfail", "spf-permerror", "dkim-fail", "dmarc-fail",
        "neutral", "none"])
def test_authentication_results_are_recorded_and_a_failure_never_threads(
        rt: Runtime, tenant: Tenant, staff: dict[str, Principal], results: str,
        failing: bool) -> None:
    """GIVEN REQ-1 opened by 田中 健太's mail
    WHEN his reply arrives carrying our receiving server's Authentication-Results
    THEN the results are recorded with the message; a failing SPF/DKIM/DMARC result opens
    a new request marked as failing authentication instead of joining REQ-1."""
    target = imported(desk_mail.receive(rt, command_line(tenant.id), raw("utf8_attachment.eml")))
    data = with_header(raw("reply.eml"), (AUTH + results).encode())

    result = imported(desk_mail.receive(rt, command_line(tenant.id), data))

    assert (result.request_id != target.request_id) is failing
    note = desk_mail.mail_notes(rt, staff["admin"], result.request_id)[-1]
    assert note.authentication == (AUTH + results).split(":", 1)[1].strip()
    assert note.authentication_failed is failing
    if failing:
        assert "認証失敗" in queries.get_request(rt, staff["admin"], result.request_id).tags


def test_only_the_topmost_authentication_results_count(
        rt: Runtime, tenant: Tenant, staff: dict[str, Principal]) -> None:
    """GIVEN a sender who wrote his own "Authentication-Results: … dmarc=pass" into the
    mail, below the one our receiving server put on top (dmarc=fail)
    WHEN it is received
    THEN the topmost one decides: authentication failed, not threaded."""
    target = imported(desk_mail.receive(rt, command_line(tenant.id), raw("utf8_attachment.eml")))
    data = with_header(with_header(raw("reply.eml"), f"{AUTH} dmarc=pass".encode()),
                       f"{AUTH} dmarc=fail header.from=example.co.jp".encode())

    result = imported(desk_mail.receive(rt, command_line(tenant.id), data))

    assert result.request_id != target.request_id


def test_a_configured_authserv_id_ignores_headers_from_other_servers(
        rt: Runtime, tenant: Tenant, staff: dict[str, Principal]) -> None:
    """GIVEN Settings.mail_authserv_id = "mx1.example.co.jp"
    WHEN the topmost Authentication-Results comes from another host (forged, dmarc=pass)
    and ours below says dmarc=fail
    THEN ours decides; a mail with only a foreign header counts as not checked."""
    ours = Runtime(rt.settings.model_copy(update={"mail_authserv_id": "mx1.example.co.jp"}),
                   rt.db)
    target = imported(desk_mail.receive(ours, command_line(tenant.id), raw("utf8_attachment.eml")))
    data = with_header(with_header(raw("reply.eml"), f"{AUTH} dmarc=fail".encode()),
                       b"Authentication-Results: evil.example.net; dmarc=pass")

    result = imported(desk_mail.receive(ours, command_line(tenant.id), data))

    assert result.request_id != target.request_id
    foreign = with_header(raw("reply_subject_ref.eml"),
                          b"Authentication-Results: evil.example.net; dmarc=fail")
    alone = imported(desk_mail.receive(ours, command_line(tenant.id), foreign))
    assert alone.request_id == target.request_id


def test_the_request_page_shows_failed_authentication(
        rt: Runtime, tenant: Tenant, client: TestClient, staff: dict[str, Principal],
        login: Callable[[str], str]) -> None:
    data = with_header(raw("iso2022jp.eml"), f"{AUTH} spf=fail smtp.mailfrom=x".encode())
    result = imported(desk_mail.receive(rt, command_line(tenant.id), data))
    login("admin@sakura.example.co.jp")

    page = client.get(f"/desk/requests/{result.request_id}")

    assert page.status_code == 200 and "spf=fail" in page.text
