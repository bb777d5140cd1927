"""Read use cases over the audit log (for the admin page)."""

from __future__ import annotations

from ushiro.audit import repository
from ushiro.audit.models import AuditEvent
from ushiro.audit.schemas import VerifyReport
from ushiro.audit.verify import verify_instance
from ushiro.core.runtime import Runtime
from ushiro.identity import Principal, Role, require


def tenant_log(rt: Runtime, principal: Principal) -> tuple[list[AuditEvent], VerifyReport]:
    """The newest events of the admin's tenant and the verification of its chain."""
    require(principal, Role.ADMIN)
    with rt.db.reading() as session:
        events = repository.recent(session, principal.tenant_id, 200)
    return events, verify_instance(rt, principal.tenant_id)
