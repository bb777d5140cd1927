"""Who may work with drafts and self-service modes. Built on ``identity`` and ``desk``.

- Drafts are staff work: operators, approvers and admins generate, review and promote the
  drafts of the requests they can see in the desk (desk scope: departments, unsorted,
  assigned); a request out of their reach, or of another tenant, is *not found*.
- A category's self-service mode is set by the tenant's administrators.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ushiro import identity
from ushiro.answers import repository
from ushiro.answers.models import Draft
from ushiro.core.errors import not_found
from ushiro.core.runtime import Runtime
from ushiro.desk import RequestFacts, request_facts
from ushiro.identity import Category, Principal, Role, require


def require_reviewer(principal: Principal) -> None:
    require(principal, Role.OPERATOR)


def require_automation_admin(principal: Principal) -> None:
    require(principal, Role.ADMIN)


def request_for(rt: Runtime, principal: Principal, request_id: int) -> RequestFacts:
    """The request as the desk lets this staff member see it (not found otherwise)."""
    require_reviewer(principal)
    return request_facts(rt, principal, request_id)


def draft_for(rt: Runtime, session: Session, principal: Principal, draft_id: int) -> Draft:
    """A draft of the principal's tenant whose request the principal may see."""
    require_reviewer(principal)
    found = repository.draft(session, principal.tenant_id, draft_id)
    if found is None:
        raise not_found("下書き")
    request_facts(rt, principal, found.request_id)  # desk scope
    return found


def category_for(session: Session, tenant_id: int, category_id: int) -> Category:
    found = identity.category(session, tenant_id, category_id)
    if found is None:
        raise not_found("カテゴリ")
    return found
