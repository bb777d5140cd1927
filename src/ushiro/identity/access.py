"""The access layer: who is acting, in which tenant, with which role.

Every page and endpoint obtains a :class:`Principal` here and checks roles with
:func:`require`. Domain ``access`` modules build on these two functions; nothing else
decides who may see or change what.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ushiro.core.clock import now
from ushiro.core.errors import ErrorCode, UshiroError, forbidden
from ushiro.core.security import token_digest
from ushiro.identity import repository
from ushiro.identity.choices import Role
from ushiro.identity.models import Tenant, User
from ushiro.identity.schemas import Principal


def command_line(tenant_id: int) -> Principal:
    """The command line on the server acting for a tenant: whoever runs it can read the
    data directory already, so it acts with the tenant's administrator rights, named "cli"
    in the audit log."""
    return Principal.system(tenant_id, "cli")


def require(principal: Principal, role: Role) -> None:
    if not principal.role.at_least(role):
        raise forbidden()


def person(principal: Principal) -> int:
    """The signed-in person's user id; a system principal has none and is refused what
    only a person may do (their invitations, switching company)."""
    if principal.user_id is None:
        raise forbidden()
    return principal.user_id


def require_same_tenant(principal: Principal, tenant_id: int) -> None:
    if principal.tenant_id != tenant_id:
        # Foreign IDs look exactly like missing ones: no hint that the object exists.
        raise UshiroError(ErrorCode.NOT_FOUND, "指定されたデータが見つかりません。")


@dataclass(frozen=True)
class _Standing:
    """What decides a principal, read from ORM objects (sessions) or from the plain columns
    of the one token query (every API call): checked in one place, :func:`_principal`."""

    user_id: int
    email: str
    name: str
    locale: str
    user_active: bool
    tenant_id: int
    tenant_slug: str
    tenant_name: str
    member_id: int | None  # None: no member of the tenant
    role: str | None
    member_active: bool | None
    department_ids: frozenset[int]


def _principal(s: _Standing) -> Principal:
    if not s.user_active:
        raise UshiroError(ErrorCode.AUTH_FAILED, "このアカウントは無効化されています。")
    if s.member_id is None or s.role is None:
        raise forbidden()
    if not s.member_active:
        raise UshiroError(ErrorCode.AUTH_FAILED, "このテナントでのアカウントは無効化されています。")
    return Principal(
        user_id=s.user_id, email=s.email, name=s.name, tenant_id=s.tenant_id,
        tenant_slug=s.tenant_slug, tenant_name=s.tenant_name, role=Role(s.role),
        department_ids=s.department_ids, locale=s.locale,
    )


def _standing(session: Session, user: User, tenant: Tenant) -> _Standing:
    member = repository.membership(session, user.id, tenant.id)
    departments = frozenset(repository.department_ids_of(session, member.id)) if member else None
    return _Standing(
        user.id, user.email, user.name, user.locale, user.is_active, tenant.id, tenant.slug,
        tenant.name, member.id if member else None, member.role if member else None,
        member.is_active if member else None, departments or frozenset())


def principal_for(session: Session, user: User, tenant: Tenant) -> Principal:
    return _principal(_standing(session, user, tenant))


def principal_from_session(session: Session, user_id: int | None, tenant_id: int | None,
                           session_key: str | None, max_age: timedelta) -> Principal | None:
    """The principal behind a login cookie, or None when the cookie is stale: its login
    session ended (logout, new password) or is older than ``max_age``, or the account or
    its membership was disabled since."""
    if not user_id or not tenant_id or not session_key:
        return None
    since = now() - max_age
    if repository.live_session(session, user_id, token_digest(session_key), since) is None:
        return None
    user = session.get(User, user_id)
    tenant = session.get(Tenant, tenant_id)
    if user is None or tenant is None:
        return None
    standing = _standing(session, user, tenant)
    if not standing.user_active or standing.role is None or not standing.member_active:
        return None
    return _principal(standing)


def principal_from_token(session: Session | Connection, token: str) -> Principal:
    """``session``: a plain connection will do (:meth:`Database.reading_rows`)."""
    row = repository.token_holder(session, token_digest(token))
    if row is None:
        raise UshiroError(ErrorCode.AUTH_FAILED, "APIトークンが無効です。新しいトークンを発行してください。")
    (user_id, email, name, locale, user_active, tenant_id, slug, tenant_name,
     member_id, role, member_active, departments) = row
    ids = frozenset(int(part) for part in departments.split(",")) if departments else frozenset()
    return _principal(_Standing(user_id, email, name, locale, user_active, tenant_id, slug,
                                tenant_name, member_id, role, member_active, ids))


def tenant_choices(session: Session, principal: Principal) -> list[Tenant]:
    return [t for t, _role in repository.tenants_of(session, person(principal))]
