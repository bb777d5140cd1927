"""Invitations: how a user who already has an account joins another tenant.

The admin offers a role (and departments); the user, signed in as themselves, accepts or
declines on /invitations. Until then they are no member, and the tenant sees only the
address its admin typed. Each step is audited in the inviting tenant's chain."""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ushiro import audit
from ushiro.audit import Actor
from ushiro.core.db import Database
from ushiro.core.errors import ErrorCode, UshiroError, invalid
from ushiro.identity import repository
from ushiro.identity.access import person
from ushiro.identity.choices import Role
from ushiro.identity.models import Invitation, MemberDepartment, Membership, User
from ushiro.identity.schemas import Principal, UserIn


@dataclass(frozen=True)
class Pending:
    """An invitation as its addressee sees it."""

    id: int
    tenant: str
    role: Role
    departments: list[str]


def invite(session: Session, actor: Actor, tenant_id: int, user: User, data: UserIn) -> None:
    """In the caller's transaction (adding a user whose address has an account)."""
    if repository.invitation_for(session, tenant_id, user.id) is not None:
        raise UshiroError(ErrorCode.CONFLICT, f"{data.email} は既に招待中です。"
                          "相手が招待を承諾するのをお待ちください。", field="email")
    for name in data.departments:
        if repository.department_by_name(session, tenant_id, name) is None:
            raise invalid("departments", f"部門「{name}」は存在しません。")
    invitation = Invitation(tenant_id=tenant_id, user_id=user.id, role=data.role.value,
                            departments=json.dumps(data.departments, ensure_ascii=False),
                            invited_by=actor.user_id)
    session.add(invitation)
    session.flush()
    # The address as typed and what was offered: never the account's name.
    audit.record(session, tenant_id=tenant_id, actor=actor, action="user.invite",
                 object_type="invitation", object_id=invitation.id,
                 after={"email": user.email, "role": data.role.value,
                        "departments": data.departments})


def pending_for(db: Database, principal: Principal) -> list[Pending]:
    with db.reading() as session:
        return [Pending(i.id, t.name, Role(i.role), json.loads(i.departments))
                for i, t in repository.invitations_of_user(session, person(principal))]


def _own(session: Session, principal: Principal, invitation_id: int) -> Invitation:
    found = repository.own_invitation(session, person(principal), invitation_id)
    if found is None:
        # Someone else's invitation looks exactly like a missing one.
        raise UshiroError(ErrorCode.NOT_FOUND, "招待が見つかりません。既に承諾・辞退済みの可能性があります。")
    return found


def accept(db: Database, principal: Principal, invitation_id: int) -> int:
    """The addressee becomes a member with the role offered; returns the tenant's id."""
    with db.transaction() as session:
        invitation = _own(session, principal, invitation_id)
        tenant_id = invitation.tenant_id
        names: list[str] = json.loads(invitation.departments)
        user_id = person(principal)
        if repository.membership(session, user_id, tenant_id) is None:
            member = Membership(user_id=user_id, tenant_id=tenant_id,
                                role=invitation.role)
            session.add(member)
            session.flush()
            for name in names:  # departments renamed or removed since are left out
                dept = repository.department_by_name(session, tenant_id, name)
                if dept is not None:
                    session.add(MemberDepartment(membership_id=member.id, department_id=dept.id))
        session.delete(invitation)
        audit.record(session, tenant_id=tenant_id, actor=principal.actor,
                     action="invitation.accept", object_type="invitation",
                     object_id=invitation_id, after={"role": invitation.role,
                                                     "departments": names})
    return tenant_id


def decline(db: Database, principal: Principal, invitation_id: int) -> None:
    with db.transaction() as session:
        invitation = _own(session, principal, invitation_id)
        tenant_id = invitation.tenant_id
        session.delete(invitation)
        audit.record(session, tenant_id=tenant_id, actor=principal.actor,
                     action="invitation.decline", object_type="invitation",
                     object_id=invitation_id)
