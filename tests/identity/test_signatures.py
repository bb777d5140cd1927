"""Reply signatures: the company's (administrators, /admin/signature) and each staff
member's own (/settings), checked, audited, and kept to their own company."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from bs4 import BeautifulSoup, Tag
from fastapi.testclient import TestClient
from httpx import Response

from ushiro import audit, identity
from ushiro.core.runtime import Runtime
from ushiro.identity import Role, Tenant, User

COMPANY = "総務部　ヘルプデスク"
OWN = "人事部　佐藤 花子\n内線 1234"


def _one(text: str, css: str) -> Tag:
    found = BeautifulSoup(text, "html.parser").select_one(css)
    assert found is not None, f"{css} not on the page"
    return found


def _post(client: TestClient, csrf: str, url: str, signature: str) -> Response:
    return client.post(url, data={"signature": signature, "csrf_token": csrf},
                       follow_redirects=False)


def _signature(rt: Runtime, tenant_id: int, user_id: int | None = None) -> str:
    with rt.db.reading() as session:
        return identity.reply_signature(session, tenant_id, user_id)


def test_the_company_and_the_own_signature_are_saved_and_audited(
        client: TestClient, rt: Runtime, tenant: Tenant, make_user: Callable[..., User],
        login: Callable[[str], str]) -> None:
    """GIVEN a company's administrator and an operator
    WHEN the administrator saves the company's signature (with stray spaces and a CRLF),
    the operator saves their own and later empties it
    THEN the company's is stored trimmed and shown in a preview of a reply; the operator's
    replaces it for them only, and once emptied they sign with the company's again; each
    change is an audit event with the old and the new signature."""
    admin = make_user(Role.ADMIN, name="鈴木 一郎")
    operator = make_user(Role.OPERATOR, name="佐藤 花子")
    csrf = login(admin.email)
    assert _post(client, csrf, "/admin/signature", f"  {COMPANY}  \r\n").status_code == 303
    page = client.get("/admin/signature?saved=1").text
    assert _one(page, "#signature-saved") is not None
    assert _one(page, "#signature-form input[name=csrf_token]")["value"] == csrf
    assert _one(page, "textarea#signature").get_text() == COMPANY
    assert _one(page, "#signature-preview .body").get_text() == (
        f"山田さん　お疲れさまです。\n\n（回答）\n\n{COMPANY}")
    assert _signature(rt, tenant.id) == COMPANY

    csrf = login(operator.email)
    settings = client.get("/settings").text
    assert COMPANY in _one(settings, "#signature-company").get_text()
    assert _post(client, csrf, "/settings", OWN).status_code == 303
    assert _signature(rt, tenant.id, operator.id) == OWN
    assert _signature(rt, tenant.id, admin.id) == COMPANY
    assert _post(client, csrf, "/settings", "").status_code == 303
    assert _signature(rt, tenant.id, operator.id) == COMPANY

    with rt.db.reading() as session:
        events = [e for e in audit.recent_events(session, tenant.id)
                  if e.action in ("tenant.signature", "user.signature")]
    assert [(e.action, e.before, e.after) for e in reversed(events)] == [
        ("tenant.signature", {"signature": ""}, {"signature": COMPANY}),
        ("user.signature", {"signature": ""}, {"signature": OWN}),
        ("user.signature", {"signature": OWN}, {"signature": ""}),
    ]


@pytest.mark.parametrize("url", ["/admin/signature", "/settings"])
@pytest.mark.parametrize("typed, message", [
    ("総" * 201, "署名は200文字以内で入力してください(現在 201 文字)。"),
    ("\n".join("総務部" for _ in range(6)), "署名は5行以内で入力してください(現在 6 行)。"),
])
def test_a_too_long_signature_is_refused_and_kept_for_editing(
        client: TestClient, rt: Runtime, tenant: Tenant, make_user: Callable[..., User],
        login: Callable[[str], str], url: str, typed: str, message: str) -> None:
    """GIVEN an administrator on either settings page
    WHEN they save a signature over 200 characters or over 5 lines
    THEN the page comes back as 422 with the reason in Japanese, the typed text still in
    the field to shorten, and nothing stored."""
    admin = make_user(Role.ADMIN)
    csrf = login(admin.email)
    refused = _post(client, csrf, url, typed)
    assert refused.status_code == 422
    assert message in _one(refused.text, "#signature-error").get_text()
    assert _one(refused.text, "textarea#signature").get_text() == typed
    assert _signature(rt, tenant.id, admin.id) == ""


def test_another_company_cannot_change_the_signatures(
        client: TestClient, rt: Runtime, tenant: Tenant, make_tenant: Callable[..., Tenant],
        make_user: Callable[..., User], login: Callable[[str], str]) -> None:
    """GIVEN two companies, each with an administrator
    WHEN the other company's administrator saves a signature, and an operator and an
    employee of the first try the company's page
    THEN only the other company's signature changes; the operator and the employee are
    refused (403), and an employee has no personal settings either."""
    admin = make_user(Role.ADMIN)
    operator = make_user(Role.OPERATOR)
    employee = make_user(Role.REQUESTER)
    other = make_tenant("kaede", "かえで商事株式会社")
    foreign = make_user(Role.ADMIN, name="外部 管理者", tenant_obj=other)
    assert _post(client, login(admin.email), "/admin/signature", COMPANY).status_code == 303
    csrf = login(foreign.email)
    assert _post(client, csrf, "/admin/signature", "かえで商事　総務").status_code == 303
    assert "かえで商事　総務" in client.get("/admin/signature").text
    assert _signature(rt, other.id) == "かえで商事　総務"
    assert _signature(rt, tenant.id) == COMPANY
    csrf = login(operator.email)
    assert _post(client, csrf, "/admin/signature", "x").status_code == 403
    csrf = login(employee.email)
    assert _post(client, csrf, "/admin/signature", "x").status_code == 403
    assert _post(client, csrf, "/settings", "x").status_code == 403
    assert client.get("/settings").status_code == 403
    assert _signature(rt, tenant.id) == COMPANY
