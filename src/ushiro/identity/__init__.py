"""Tenants, users, roles, departments, the category taxonomy and access checks."""

from ushiro.identity.access import (
    principal_for,
    principal_from_session,
    principal_from_token,
    require,
    require_same_tenant,
    tenant_choices,
)
from ushiro.identity.choices import Role, WorkType
from ushiro.identity.models import Category, Department, Membership, Tenant, User
from ushiro.identity.schemas import Principal, UserIn

__all__ = [
    "Category", "Department", "Membership", "Principal", "Role", "Tenant", "User", "UserIn",
    "WorkType", "principal_for", "principal_from_session", "principal_from_token", "require",
    "require_same_tenant", "tenant_choices",
]
