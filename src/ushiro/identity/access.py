"""The access layer: who is acting, in which tenant, with which role.

Every page and endpoint obtains a :class:`Principal` here and checks roles with
:func:`require`. Domain ``access`` modules build on these two functions; nothing else
decides who may see or change what.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from ushiro.core.errors import ErrorCode, UshiroError, forbidden
from ushiro.core.security import token_digest
from ushiro.identity import repository
from ushiro.identity.choices import Role
from ushiro.identity.models import Tenant, User
from ushiro.identity.schemas import Principal


def require(principal: Principal, role: Role) -> None:
    if not principal.role.at_least(role):
        raise forbidden()


def require_same_tenant(principal: Principal, tenant_id: int) -> None:
    if principal.tenant_id != tenant_id:
        # Foreign IDs look exactly like missing ones: no hint that the object exists.
        raise UshiroError(ErrorCode.NOT_FOUND, "指定されたデータが見つかりません。")


def principal_for(session: Session, user: User, tenant: Tenant) -> Principal:
    if not user.is_active:
        raise UshiroError(ErrorCode.AUTH_FAILED, "このアカウントは無効化されています。")
    member = repository.membership(session, user.id, tenant.id)
    if member is None:
        raise forbidden()
    if not member.is_active:
        raise UshiroError(ErrorCode.AUTH_FAILED, "このテナントでのアカウントは無効化されています。")
    return Principal(
        user_id=user.id, email=user.email, name=user.name, tenant_id=tenant.id,
        tenant_slug=tenant.slug, tenant_name=tenant.name, role=Role(member.role),
        department_ids=frozenset(repository.department_ids_of(session, member.id)),
        locale=user.locale,
    )


def principal_from_session(session: Session, user_id: int | None,
                           tenant_id: int | None) -> Principal | None:
    """The principal behind a login cookie, or None when the cookie is stale."""
    if not user_id or not tenant_id:
        return None
    user = session.get(User, user_id)
    tenant = session.get(Tenant, tenant_id)
    if user is None or tenant is None or not user.is_active:
        return None
    member = repository.membership(session, user.id, tenant.id)
    if member is None or not member.is_active:
        return None
    return principal_for(session, user, tenant)


def principal_from_token(session: Session, token: str) -> Principal:
    record = repository.token_by_digest(session, token_digest(token))
    if record is None:
        raise UshiroError(ErrorCode.AUTH_FAILED, "APIトークンが無効です。新しいトークンを発行してください。")
    user = session.get(User, record.user_id)
    tenant = session.get(Tenant, record.tenant_id)
    if user is None or tenant is None:
        raise UshiroError(ErrorCode.AUTH_FAILED, "APIトークンが無効です。")
    return principal_for(session, user, tenant)


def tenant_choices(session: Session, principal: Principal) -> list[Tenant]:
    return [t for t, _role in repository.tenants_of(session, principal.user_id)]
