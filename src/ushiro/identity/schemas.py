"""Identity shapes used across the app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from ushiro.audit import Actor
from ushiro.identity.choices import Role

if TYPE_CHECKING:
    from ushiro.identity.models import Tenant, User


@dataclass(frozen=True)
class Principal:
    """The signed-in user acting in one tenant. Every access check takes one of these."""

    user_id: int | None  # None: a named system process acting for the tenant (see system())
    email: str
    name: str
    tenant_id: int
    tenant_slug: str
    tenant_name: str
    role: Role
    department_ids: frozenset[int]
    locale: str = "ja"

    @property
    def is_staff(self) -> bool:
        return self.role.at_least(Role.OPERATOR)

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_system(self) -> bool:
        return self.user_id is None

    @property
    def actor(self) -> Actor:
        return Actor(self.user_id, self.email if self.user_id is not None else self.name)

    @classmethod
    def system(cls, tenant_id: int, label: str, *, tenant_slug: str = "",
               tenant_name: str = "") -> Principal:
        """A process acting for the tenant with its administrator's rights — the mail
        poller, a job, the command line — named in the audit log by ``label``. Background
        work runs as one of these, never without a principal."""
        return cls(user_id=None, email="", name=label, tenant_id=tenant_id,
                   tenant_slug=tenant_slug, tenant_name=tenant_name, role=Role.ADMIN,
                   department_ids=frozenset())


class UserIn(BaseModel):
    email: str = Field(min_length=3, max_length=254)
    name: str = Field(min_length=1, max_length=200)
    role: Role
    password: str | None = Field(default=None, min_length=8, max_length=200)
    departments: list[str] = []


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    role: Role
    is_active: bool
    departments: list[str] = []


class CategoryOut(BaseModel):
    id: int
    name: str
    department_id: int
    department: str
    default_work_type: str | None


@dataclass(frozen=True)
class SignedIn:
    """A successful login: who, the tenants they may work in (the first is opened), and the
    key of the new login session, for the cookie only (the database keeps its digest)."""

    user: User
    tenants: list[Tenant]
    session_key: str
