"""Who may search which documents.

A principal searches only its own tenant's knowledge (a foreign tenant is *not found*). An
open document is searchable by everyone of the tenant; a restricted one only by members
whose role is at least its ``min_role`` and, when it names departments, who work in one
of them. Administrators manage the knowledge base and see every document. ``None`` is the
system itself (the command line on the server), which sees everything.
"""

from __future__ import annotations

from collections.abc import Iterable

from ushiro.audit import Actor
from ushiro.identity import Principal, Role, require, require_same_tenant
from ushiro.knowledge.schemas import DocMeta


def check_tenant(principal: Principal | None, tenant_id: int) -> None:
    if principal is not None:
        require_same_tenant(principal, tenant_id)


def may_search(principal: Principal | None, document: DocMeta) -> bool:
    if principal is None or principal.is_admin or not document.restricted:
        return True
    if document.min_role is not None and not principal.role.at_least(document.min_role):
        return False
    return not document.department_ids or bool(document.department_ids
                                                  & principal.department_ids)


def searchable_documents(principal: Principal | None,
                         documents: Iterable[DocMeta]) -> frozenset[int] | None:
    """The ids the principal may search, or None when that is every document."""
    documents = list(documents)
    if principal is None or principal.is_admin or not any(d.restricted for d in documents):
        return None
    return frozenset(d.id for d in documents if may_search(principal, d))


def require_manager(principal: Principal | None) -> None:
    """Adding documents and editing synonyms is for administrators (or the system)."""
    if principal is not None:
        require(principal, Role.ADMIN)


def acting(who: Principal | Actor, tenant_id: int) -> Actor:
    """The actor of a write use case: a principal must be a manager of the tenant; an
    explicit actor (the command line, a job) is trusted as it is."""
    if isinstance(who, Principal):
        check_tenant(who, tenant_id)
        require_manager(who)
        return who.actor
    return who
