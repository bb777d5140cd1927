"""Read use cases over the audit log (for the admin page)."""

from __future__ import annotations

from ushiro.audit import AuditEvent, VerifyReport, recent_events, verify_instance
from ushiro.core.runtime import Runtime
from ushiro.identity import Principal, Role, require


def tenant_log(rt: Runtime, principal: Principal) -> tuple[list[AuditEvent], VerifyReport]:
    """The newest events of the admin's tenant and the verification of its chain (its
    own only: other tenants' event counts and problems are none of its business)."""
    require(principal, Role.ADMIN)
    with rt.db.reading() as session:
        events = recent_events(session, principal.tenant_id, 200)
    return events, verify_instance(rt, principal.tenant_id)
