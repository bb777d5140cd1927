"""Identity queries. Never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, cast, delete, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ushiro.identity.choices import STAFF_ROLES, Role
from ushiro.identity.models import (
    ApiToken,
    Category,
    Department,
    Invitation,
    LoginAttempt,
    LoginSession,
    MemberDepartment,
    Membership,
    Tenant,
    User,
)


def tenant_by_slug(session: Session, slug: str) -> Tenant | None:
    return session.scalars(select(Tenant).where(Tenant.slug == slug)).first()


def first_tenant(session: Session) -> Tenant | None:
    return session.scalars(select(Tenant).order_by(Tenant.id)).first()


def all_tenants(session: Session) -> list[Tenant]:
    return list(session.scalars(select(Tenant).order_by(Tenant.id)))


def user_by_email(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(func.lower(User.email) == email.lower())).first()


def membership(session: Session, user_id: int, tenant_id: int) -> Membership | None:
    stmt = select(Membership).where(Membership.user_id == user_id,
                                    Membership.tenant_id == tenant_id)
    return session.scalars(stmt).first()


def tenants_of(session: Session, user_id: int) -> list[tuple[Tenant, str]]:
    stmt = (select(Tenant, Membership.role).join(Membership, Membership.tenant_id == Tenant.id)
            .where(Membership.user_id == user_id, Membership.is_active.is_(True))
            .order_by(Tenant.id))
    return [(t, r) for t, r in session.execute(stmt)]


# Statements on the path of every API call are built once, with bound parameters: building
# a SELECT costs SQLAlchemy more than running it on SQLite (bench/intake.py).
_DEPARTMENT_IDS = select(MemberDepartment.department_id).where(
    MemberDepartment.membership_id == bindparam("membership_id"))


def department_ids_of(session: Session, membership_id: int) -> list[int]:
    return list(session.scalars(_DEPARTMENT_IDS, {"membership_id": membership_id}))


def members(session: Session, tenant_id: int) -> list[tuple[User, Membership]]:
    stmt = (select(User, Membership).join(Membership, Membership.user_id == User.id)
            .where(Membership.tenant_id == tenant_id).order_by(Membership.role.desc(), User.name))
    return [(u, m) for u, m in session.execute(stmt)]


def members_by_ids(session: Session, tenant_id: int, user_ids: set[int]) -> list[User]:
    if not user_ids:
        return []
    stmt = (select(User).join(Membership, Membership.user_id == User.id)
            .where(Membership.tenant_id == tenant_id, User.id.in_(user_ids)))
    return list(session.scalars(stmt))


def staff(session: Session, tenant_id: int,
          roles: Sequence[Role] = STAFF_ROLES) -> list[User]:
    """The tenant's active members with one of ``roles`` (by default everyone who works
    the desk), by name."""
    stmt = (select(User).join(Membership, Membership.user_id == User.id)
            .where(Membership.tenant_id == tenant_id,
                   Membership.role.in_([r.value for r in roles]),
                   Membership.is_active.is_(True), User.is_active.is_(True))
            .order_by(User.name))
    return list(session.scalars(stmt))


def departments(session: Session, tenant_id: int) -> list[Department]:
    stmt = select(Department).where(Department.tenant_id == tenant_id)
    return list(session.scalars(stmt.order_by(Department.sort_order, Department.id)))


def department(session: Session, tenant_id: int, department_id: int) -> Department | None:
    stmt = select(Department).where(Department.tenant_id == tenant_id,
                                    Department.id == department_id)
    return session.scalars(stmt).first()


def department_by_name(session: Session, tenant_id: int, name: str) -> Department | None:
    stmt = select(Department).where(Department.tenant_id == tenant_id, Department.name == name)
    return session.scalars(stmt).first()


def categories(session: Session, tenant_id: int, active_only: bool = False) -> list[Category]:
    stmt = select(Category).where(Category.tenant_id == tenant_id)
    if active_only:
        stmt = stmt.where(Category.is_active.is_(True))
    return list(session.scalars(stmt.order_by(Category.department_id, Category.sort_order,
                                              Category.id)))


def category(session: Session, tenant_id: int, category_id: int) -> Category | None:
    stmt = select(Category).where(Category.tenant_id == tenant_id, Category.id == category_id)
    return session.scalars(stmt).first()


_CATEGORY_WITH_DEPARTMENT = (
    select(Category, Department.name)
    .join(Department, Department.id == Category.department_id)
    .where(Category.tenant_id == bindparam("tenant_id")))
_CATEGORY_BY_ID = _CATEGORY_WITH_DEPARTMENT.where(Category.id == bindparam("key"))
_CATEGORY_BY_NAME = _CATEGORY_WITH_DEPARTMENT.where(Category.name == bindparam("key"))


def category_with_department(session: Session, tenant_id: int, *, category_id: int | None = None,
                             name: str | None = None) -> tuple[Category, str] | None:
    """A category by id or by name, with its department's name, in one query."""
    stmt, key = (_CATEGORY_BY_ID, category_id) if name is None else (_CATEGORY_BY_NAME, name)
    row = session.execute(stmt, {"tenant_id": tenant_id, "key": key}).first()
    return None if row is None else (row[0], row[1])


def category_by_name(session: Session, tenant_id: int, name: str) -> Category | None:
    stmt = select(Category).where(Category.tenant_id == tenant_id, Category.name == name)
    return session.scalars(stmt).first()


_TOKEN_DEPARTMENTS = (
    select(func.aggregate_strings(cast(MemberDepartment.department_id, String), ","))
    .where(MemberDepartment.membership_id == Membership.id)
    .scalar_subquery())
_TOKEN_HOLDER = (
    select(User.id, User.email, User.name, User.locale, User.is_active,
           Tenant.id, Tenant.slug, Tenant.name,
           Membership.id, Membership.role, Membership.is_active, _TOKEN_DEPARTMENTS)
    .select_from(ApiToken)
    .join(User, User.id == ApiToken.user_id)
    .join(Tenant, Tenant.id == ApiToken.tenant_id)
    .outerjoin(Membership, (Membership.user_id == ApiToken.user_id)
               & (Membership.tenant_id == ApiToken.tenant_id))
    .where(ApiToken.digest == bindparam("digest"), ApiToken.revoked_at.is_(None)))


def token_holder(session: Session | Connection, digest: str) -> tuple[Any, ...] | None:
    """Who is behind an unrevoked token, in one query of plain columns (every API call
    asks; loading three ORM objects and then the departments cost more than the query):
    user id, email, name, locale, is_active; tenant id, slug, name; membership id, role,
    is_active (None when the user is no member of the token's tenant); the membership's
    department ids as one comma-separated string (None when there are none)."""
    row = session.execute(_TOKEN_HOLDER, {"digest": digest}).first()
    return None if row is None else tuple(row)


def tokens(session: Session, tenant_id: int) -> list[tuple[ApiToken, User]]:
    stmt = (select(ApiToken, User).join(User, User.id == ApiToken.user_id)
            .where(ApiToken.tenant_id == tenant_id).order_by(ApiToken.id.desc()))
    return [(t, u) for t, u in session.execute(stmt)]


def token(session: Session, tenant_id: int, token_id: int) -> ApiToken | None:
    stmt = select(ApiToken).where(ApiToken.tenant_id == tenant_id, ApiToken.id == token_id)
    return session.scalars(stmt).first()


def recent_failures(session: Session, email: str, since: datetime) -> int:
    stmt = select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.email == email.lower(), LoginAttempt.succeeded.is_(False),
        LoginAttempt.at >= since)
    return int(session.scalar(stmt) or 0)


def recent_failures_from(session: Session, ip: str, since: datetime) -> int:
    stmt = select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.ip == ip, LoginAttempt.succeeded.is_(False), LoginAttempt.at >= since)
    return int(session.scalar(stmt) or 0)


def live_session(session: Session, user_id: int, digest: str,
                 since: datetime) -> LoginSession | None:
    stmt = select(LoginSession).where(
        LoginSession.digest == digest, LoginSession.user_id == user_id,
        LoginSession.ended_at.is_(None), LoginSession.created_at >= since)
    return session.scalars(stmt).first()


def end_sessions(session: Session, user_id: int, at: datetime, *,
                 digest: str | None = None) -> None:
    """End the user's open sessions, or only the one with ``digest``."""
    stmt = (update(LoginSession)
            .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
            .values(ended_at=at))
    if digest is not None:
        stmt = stmt.where(LoginSession.digest == digest)
    session.execute(stmt)


def forget_sessions(session: Session, user_id: int, before: datetime) -> None:
    """Drop the user's ended sessions and those too old to be used."""
    session.execute(delete(LoginSession).where(
        LoginSession.user_id == user_id,
        (LoginSession.ended_at.is_not(None)) | (LoginSession.created_at < before)))


# --- invitations ------------------------------------------------------------------------


def invitation_for(session: Session, tenant_id: int, user_id: int) -> Invitation | None:
    stmt = select(Invitation).where(Invitation.tenant_id == tenant_id,
                                    Invitation.user_id == user_id)
    return session.scalars(stmt).first()


def own_invitation(session: Session, user_id: int, invitation_id: int) -> Invitation | None:
    """The invitation only when it is addressed to this user (anyone else's: None)."""
    stmt = select(Invitation).where(Invitation.id == invitation_id,
                                    Invitation.user_id == user_id)
    return session.scalars(stmt).first()


def invitations_of_user(session: Session, user_id: int) -> list[tuple[Invitation, Tenant]]:
    stmt = (select(Invitation, Tenant).join(Tenant, Tenant.id == Invitation.tenant_id)
            .where(Invitation.user_id == user_id).order_by(Invitation.id))
    return [(i, t) for i, t in session.execute(stmt)]


def invitations_of_tenant(session: Session, tenant_id: int) -> list[tuple[Invitation, str]]:
    """Pending invitations with the address only: not the invitee's name."""
    stmt = (select(Invitation, User.email).join(User, User.id == Invitation.user_id)
            .where(Invitation.tenant_id == tenant_id).order_by(Invitation.id))
    return [(i, e) for i, e in session.execute(stmt)]
