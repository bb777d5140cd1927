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

    user_id: int
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
    def actor(self) -> Actor:
        return Actor(self.user_id, self.email)


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
