"""Who may see and change which request. Built on ``identity.access``.

- requesters see only their own requests and may add follow-ups to them;
- operators and approvers see requests of their departments, requests not yet sorted into
  a department, and requests assigned to them (all of the tenant when they have no
  departments);
- admins see every request of the tenant.
A request of another tenant is reported as not found, exactly like a missing one.
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.orm import Session

from ushiro.core.errors import not_found
from ushiro.desk import repository
from ushiro.desk.models import Request
from ushiro.desk.schemas import Scope
from ushiro.identity import Principal, Role, require


def scope_for(principal: Principal) -> Scope:
    if principal.role is Role.ADMIN:
        return Scope(tenant_id=principal.tenant_id)
    if principal.is_staff:
        depts = principal.department_ids or None
        return Scope(tenant_id=principal.tenant_id, department_ids=depts,
                     user_id=principal.user_id)
    return Scope(tenant_id=principal.tenant_id, requester_id=principal.user_id)


def access_request_by_id(session: Session, principal: Principal, request_id: int) -> Request:
    request = repository.request_in_scope(session, scope_for(principal), request_id)
    if request is None:
        raise not_found("依頼")
    return request


def access_request_by_number(session: Session, principal: Principal, number: int) -> Request:
    request = repository.request_by_number_in_scope(session, scope_for(principal), number)
    if request is None:
        raise not_found("依頼")
    return request


def require_staff(principal: Principal) -> None:
    require(principal, Role.OPERATOR)


def as_requester(principal: Principal) -> Principal:
    """The portal shows staff their own requests only, as it does everyone else."""
    return replace(principal, role=Role.REQUESTER)
