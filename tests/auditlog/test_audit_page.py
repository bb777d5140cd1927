"""The admin's audit page checks the admin's own tenant's chain, and only that one."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from ushiro import audit
from ushiro.audit import AuditEvent
from ushiro.core.runtime import Runtime
from ushiro.identity import Role, Tenant, User


def _events(rt: Runtime, tenant: Tenant) -> int:
    with rt.db.reading() as session:
        return len(audit.recent_events(session, tenant.id, 10_000))


def _tamper(rt: Runtime, tenant: Tenant) -> None:
    with rt.db.transaction() as session:
        first = session.scalar(select(func.min(AuditEvent.seq)).where(AuditEvent.chain == tenant.id))
        session.execute(update(AuditEvent).where(AuditEvent.chain == tenant.id,
                                                 AuditEvent.seq == first)
                        .values(actor="改ざん者"))


def test_an_admin_sees_their_own_chain_checked_not_another_tenants(
        client: TestClient, rt: Runtime, tenant: Tenant, make_tenant: Callable[..., Tenant],
        make_user: Callable[..., User], login: Callable[[str], str]) -> None:
    """GIVEN two tenants, each with an admin and a few events, and the other tenant's
    chain altered
    WHEN this tenant's admin opens the audit page
    THEN it says the chain is intact and counts this tenant's events only, with nothing
    about the other tenant's problem; the other tenant's admin sees the alteration."""
    other = make_tenant("momiji", "もみじ商事株式会社")
    admin = make_user(Role.ADMIN, name="管理 一郎")
    other_admin = make_user(Role.ADMIN, name="管理 二郎", tenant_obj=other)
    make_user(Role.REQUESTER, tenant_obj=other)
    _tamper(rt, other)

    login(admin.email)
    page = client.get("/admin/audit")
    assert page.status_code == 200, page.text
    assert 'id="audit-ok"' in page.text and 'id="audit-bad"' not in page.text
    assert f"{_events(rt, tenant)} 件のイベントを検証" in page.text
    assert "一致しません" not in page.text and "改ざん者" not in page.text

    client.cookies.clear()
    login(other_admin.email)
    page = client.get("/admin/audit")
    assert 'id="audit-bad"' in page.text and "内容がハッシュと一致しません" in page.text
