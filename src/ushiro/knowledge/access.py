"""Who may search which documents.

A principal searches only its own tenant's knowledge (a foreign tenant is *not found*). An
open document is searchable by everyone of the tenant; a restricted one only by members
whose role is at least its ``min_role`` and, when it names departments, who work in one
of them. Administrators manage the knowledge base and see every document; so does a system
principal (the command line on the server, a job), which acts with administrator rights.
"""

from __future__ import annotations

from collections.abc import Iterable

from ushiro.audit import Actor
from ushiro.identity import Principal, Role, require
from ushiro.knowledge.schemas import DocMeta


def may_search(principal: Principal, document: DocMeta) -> bool:
    if principal.is_admin or not document.restricted:
        return True
    if document.min_role is not None and not principal.role.at_least(document.min_role):
        return False
    return not document.department_ids or bool(document.department_ids
                                                  & principal.department_ids)


def searchable_documents(principal: Principal,
                         documents: Iterable[DocMeta]) -> frozenset[int] | None:
    """The ids the principal may search, or None when that is every document."""
    documents = list(documents)
    if principal.is_admin or not any(d.restricted for d in documents):
        return None
    return frozenset(d.id for d in documents if may_search(principal, d))


def require_manager(principal: Principal) -> None:
    """Managing the knowledge base (adding documents, editing synonyms) is for the tenant's
    administrators and its system principal."""
    require(principal, Role.ADMIN)


def acting(principal: Principal) -> Actor:
    """The actor of a write use case, once :func:`require_manager` let it through."""
    require_manager(principal)
    return principal.actor
