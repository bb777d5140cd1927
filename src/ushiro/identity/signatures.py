"""Reply signatures: how the company's replies end (「総務部　ヘルプデスク」).

The tenant's administrator sets the company's signature; each staff member may set their
own, which replaces it in their replies and drafts. A member's own signature belongs to
their membership, not their account: one operator working for several client companies
signs for each of them differently. Empty means none (the tenant's, or no signature).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from ushiro import audit
from ushiro.core.db import Database
from ushiro.core.errors import invalid
from ushiro.core.text import clean
from ushiro.identity import repository
from ushiro.identity.access import person, require
from ushiro.identity.choices import Role
from ushiro.identity.models import Tenant
from ushiro.identity.schemas import Principal

# A signature is a few closing lines (department, name, extension), not a letterhead.
MAX_CHARS = 200
MAX_LINES = 5


@dataclass(frozen=True)
class Signatures:
    """What the settings pages show: the company's, the member's own, and the one their
    replies get (own, else the company's)."""

    tenant: str
    own: str

    @property
    def effective(self) -> str:
        return self.own or self.tenant


def reply_signature(session: Session, tenant_id: int, user_id: int | None) -> str:
    """The signature of replies written by ``user_id`` in the tenant (None: by the system,
    which signs with the company's), inside the caller's session."""
    own = None
    if user_id is not None:
        member = repository.membership(session, user_id, tenant_id)
        own = member.reply_signature if member is not None else None
    if own:
        return own
    tenant = session.get(Tenant, tenant_id)
    return (tenant.reply_signature or "") if tenant is not None else ""


def signatures(db: Database, principal: Principal, *, admin: bool = False) -> Signatures:
    """The settings pages' read: staff see their own and the company's; ``admin``: the
    company's settings page, for administrators only."""
    require(principal, Role.ADMIN if admin else Role.OPERATOR)
    with db.reading() as session:
        tenant = session.get(Tenant, principal.tenant_id)
        member = (repository.membership(session, principal.user_id, principal.tenant_id)
                  if principal.user_id is not None else None)
        return Signatures((tenant.reply_signature or "") if tenant else "",
                          (member.reply_signature or "") if member else "")


def normalise(text: str, field: str = "signature") -> str:
    """Trimmed lines, at most :data:`MAX_LINES` of them and :data:`MAX_CHARS` characters."""
    lines = [line.rstrip() for line in clean(text).splitlines()]
    value = "\n".join(lines)
    if len(value) > MAX_CHARS:
        raise invalid(field, f"署名は{MAX_CHARS}文字以内で入力してください"
                             f"(現在 {len(value)} 文字)。")
    if len(lines) > MAX_LINES:
        raise invalid(field, f"署名は{MAX_LINES}行以内で入力してください(現在 {len(lines)} 行)。")
    return value


def set_tenant_signature(db: Database, principal: Principal, text: str) -> str:
    """The company's signature (administrators only); returns it as stored."""
    require(principal, Role.ADMIN)
    value = normalise(text)
    with db.transaction() as session:
        tenant = session.get(Tenant, principal.tenant_id)
        assert tenant is not None, "the principal's tenant exists"
        before = tenant.reply_signature or ""
        if value == before:
            return value
        tenant.reply_signature = value or None
        audit.record(session, tenant_id=tenant.id, actor=principal.actor,
                     action="tenant.signature", object_type="tenant", object_id=tenant.id,
                     before={"signature": before}, after={"signature": value})
    return value


def set_own_signature(db: Database, principal: Principal, text: str) -> str:
    """The signed-in staff member's own signature in this tenant; empty: the company's."""
    require(principal, Role.OPERATOR)
    user_id = person(principal)
    value = normalise(text)
    with db.transaction() as session:
        member = repository.membership(session, user_id, principal.tenant_id)
        assert member is not None, "a principal is a member"
        before = member.reply_signature or ""
        if value == before:
            return value
        member.reply_signature = value or None
        audit.record(session, tenant_id=principal.tenant_id, actor=principal.actor,
                     action="user.signature", object_type="user", object_id=user_id,
                     before={"signature": before}, after={"signature": value})
    return value
