"""Tenants, users, roles, departments, the category taxonomy and access checks.

Other packages use what is exported here and nothing else: the use cases (create a tenant,
add a user, resolve a tenant by slug, a user's principal) and the named reads they run
inside their own transactions (a tenant's categories, departments, members and staff).
"""

from ushiro.identity.access import (
    command_line,
    principal_for,
    principal_from_session,
    principal_from_token,
    require,
    require_same_tenant,
    tenant_choices,
)
from ushiro.identity.categorize import guess as guess_category
from ushiro.identity.choices import STAFF_ROLES, Role, WorkType
from ushiro.identity.models import Category, Department, Membership, Tenant, User
from ushiro.identity.repository import (
    all_tenants,
    categories,
    category,
    category_by_name,
    category_with_department,
    department,
    departments,
    first_tenant,
    members,
    members_by_ids,
    membership,
    staff,
    user_by_email,
)
from ushiro.identity.schemas import Principal, UserIn
from ushiro.identity.service import add_user, create_tenant, principal, resolve_tenant
from ushiro.identity.signatures import reply_signature

__all__ = [
    "STAFF_ROLES", "Category", "Department", "Membership", "Principal", "Role", "Tenant",
    "User", "UserIn", "WorkType", "add_user", "all_tenants", "categories", "category", "category_by_name",
    "category_with_department", "command_line", "guess_category", "create_tenant", "department", "departments", "first_tenant", "members",
    "members_by_ids", "membership", "principal", "principal_for", "principal_from_session",
    "principal_from_token", "reply_signature", "require", "require_same_tenant", "resolve_tenant", "staff",
    "tenant_choices", "user_by_email",
]
