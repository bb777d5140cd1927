"""Loading history: requests that happened before Ushiro (the sample company, imports)
get their real times back after they have been replayed through the normal use cases."""

from __future__ import annotations

from datetime import timedelta

from ushiro import audit
from ushiro.core.runtime import Runtime
from ushiro.desk import repository
from ushiro.desk.access import access_request_by_id, require_staff
from ushiro.desk.choices import Status
from ushiro.identity import Principal


def backdate(rt: Runtime, principal: Principal, request_id: int, delta: timedelta) -> None:
    """Move a request and its messages ``delta`` back in time."""
    require_staff(principal)
    with rt.db.transaction() as session:
        request = access_request_by_id(session, principal, request_id)
        before = request.created_at
        repository.shift_times(session, request, delta)
        audit.record(session, tenant_id=request.tenant_id, actor=principal.actor,
                     action="request.backdate", object_type="request", object_id=request.id,
                     before={"created_at": before.isoformat()},
                     after={"created_at": request.created_at.isoformat()})


def status_of(rt: Runtime, principal: Principal, request_id: int) -> Status:
    require_staff(principal)
    with rt.db.reading() as session:
        return Status(access_request_by_id(session, principal, request_id).status)
