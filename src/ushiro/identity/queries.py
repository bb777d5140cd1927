"""Read use cases for the admin screens."""

from __future__ import annotations

from typing import Any

from ushiro.core.runtime import Runtime
from ushiro.identity import repository
from ushiro.identity.access import require, tenant_choices
from ushiro.identity.choices import Role
from ushiro.identity.schemas import Principal


def admin_overview(rt: Runtime, principal: Principal) -> dict[str, Any]:
    require(principal, Role.ADMIN)
    with rt.db.reading() as session:
        departments = repository.departments(session, principal.tenant_id)
        dept_names = {d.id: d.name for d in departments}
        members = []
        for user, member in repository.members(session, principal.tenant_id):
            ids = repository.department_ids_of(session, member.id)
            members.append({"user": user, "role": Role(member.role), "active": member.is_active,
                            "departments": [dept_names[i] for i in ids if i in dept_names]})
        invited = [{"email": email, "role": Role(i.role), "created_at": i.created_at}
                   for i, email in repository.invitations_of_tenant(session, principal.tenant_id)]
        return {
            "members": members,
            "invitations": invited,
            "departments": departments,
            "categories": repository.categories(session, principal.tenant_id),
            "tokens": repository.tokens(session, principal.tenant_id),
            "tenants": tenant_choices(session, principal),
        }


def tenants_for(rt: Runtime, principal: Principal) -> list[Any]:
    with rt.db.reading() as session:
        return tenant_choices(session, principal)


__all__ = ["admin_overview", "tenants_for"]
