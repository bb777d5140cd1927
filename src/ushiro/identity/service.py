"""Identity use cases. Each function owns its transaction and writes the audit event."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources

from sqlalchemy.orm import Session

from ushiro import audit
from ushiro.audit import Actor
from ushiro.core.clock import now
from ushiro.core.db import Database
from ushiro.core.errors import ErrorCode, UshiroError, invalid
from ushiro.core.security import (
    hash_password,
    new_api_token,
    new_session_key,
    token_digest,
    verify_password,
)
from ushiro.core.settings import Settings
from ushiro.core.text import one_line
from ushiro.identity import invitations, repository
from ushiro.identity.access import person, principal_for, require
from ushiro.identity.choices import Role, WorkType
from ushiro.identity.models import (
    ApiToken,
    Category,
    Department,
    LoginAttempt,
    LoginSession,
    MemberDepartment,
    Membership,
    Tenant,
    User,
)
from ushiro.identity.schemas import Principal, SignedIn, UserIn

IP_FACTOR = 4
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def default_taxonomy() -> dict[str, dict[str, str]]:
    text = resources.files("ushiro.identity").joinpath("data/taxonomy.json").read_text("utf-8")
    data: dict[str, dict[str, str]] = json.loads(text)
    return data


def _seed_taxonomy(session: Session, tenant: Tenant) -> None:
    for d_order, (dept_name, cats) in enumerate(default_taxonomy().items()):
        dept = Department(tenant_id=tenant.id, name=dept_name, sort_order=d_order)
        session.add(dept)
        session.flush()
        for c_order, (cat_name, work_type) in enumerate(cats.items()):
            session.add(Category(tenant_id=tenant.id, department_id=dept.id, name=cat_name,
                                 default_work_type=work_type, sort_order=c_order))


def create_tenant(db: Database, actor: Actor, slug: str, name: str,
                  *, seed_taxonomy: bool = True) -> Tenant:
    if not _SLUG.match(slug):
        raise invalid("slug", "英小文字・数字・ハイフンで指定してください(例: sakura)。")
    with db.transaction() as session:
        if repository.tenant_by_slug(session, slug):
            raise UshiroError(ErrorCode.CONFLICT, f"テナント「{slug}」は既に存在します。",
                              field="slug")
        tenant = Tenant(slug=slug, name=one_line(name) or slug)
        session.add(tenant)
        session.flush()
        if seed_taxonomy:
            _seed_taxonomy(session, tenant)
        audit.record(session, tenant_id=tenant.id, actor=actor, action="tenant.create",
                     object_type="tenant", object_id=tenant.id,
                     after={"slug": slug, "name": tenant.name})
    return tenant


def resolve_tenant(db: Database, slug: str | None) -> Tenant:
    with db.reading() as session:
        tenant = (repository.tenant_by_slug(session, slug) if slug
                  else repository.first_tenant(session))
    if tenant is None:
        if slug:
            raise UshiroError(ErrorCode.NOT_FOUND, f"テナント「{slug}」が見つかりません。",
                              field="tenant")
        raise UshiroError(ErrorCode.NOT_INITIALISED,
                          "テナントがありません。先に `ushiro init` を実行してください。")
    return tenant


def _validate_user(data: UserIn) -> None:
    if not _EMAIL.match(data.email):
        raise invalid("email", "メールアドレスの形式が正しくありません(例: taro@example.co.jp)。")


@dataclass(frozen=True)
class Added:
    """What adding a user did: created the account and its membership, or (an account
    that exists already) only invited it."""

    user: User
    invited: bool


def add_user(db: Database, principal: Principal, data: UserIn, *,
             join_existing: bool = False) -> User:
    """:func:`add_member`, returning the user."""
    return add_member(db, principal, data, join_existing=join_existing).user


def add_member(db: Database, principal: Principal, data: UserIn, *,
               join_existing: bool = False) -> Added:
    """Create the user with a membership; an address that already has an account (e.g. a
    BPaaS operator of another tenant) gets an invitation to accept instead: no admin can
    join someone to their tenant, or learn their name, by typing the address.
    ``join_existing``: a membership at once (the demo loader, which owns its sample people)."""
    require(principal, Role.ADMIN)
    tenant_id, actor = principal.tenant_id, principal.actor
    _validate_user(data)
    with db.transaction() as session:
        user = repository.user_by_email(session, data.email)
        existing = user is not None
        if user is None:
            user = User(email=data.email.lower(), name=one_line(data.name),
                        password_hash=hash_password(data.password) if data.password else None)
            session.add(user)
            session.flush()
        # An existing account keeps its password: otherwise any tenant's admin could take
        # over another tenant's user by "adding" them with a password of their choosing.
        # (``set_password`` is the way to reset one.)
        if repository.membership(session, user.id, tenant_id):
            raise UshiroError(ErrorCode.CONFLICT,
                              f"{data.email} は既にこのテナントに登録されています。", field="email")
        if existing and not join_existing:
            invitations.invite(session, actor, tenant_id, user, data)
            return Added(user, invited=True)
        member = Membership(user_id=user.id, tenant_id=tenant_id, role=data.role.value)
        session.add(member)
        session.flush()
        set_departments(session, tenant_id, member, data.departments)
        audit.record(session, tenant_id=tenant_id, actor=actor, action="user.add",
                     object_type="user", object_id=user.id,
                     after={"email": user.email, "name": user.name, "role": data.role.value,
                            "departments": data.departments})
    return Added(user, invited=False)


def set_departments(session: Session, tenant_id: int, member: Membership,
                    names: list[str]) -> None:
    for name in names:
        dept = repository.department_by_name(session, tenant_id, name)
        if dept is None:
            raise invalid("departments", f"部門「{name}」は存在しません。")
        session.add(MemberDepartment(membership_id=member.id, department_id=dept.id))


def update_member(db: Database, principal: Principal, user_id: int, *, role: Role | None = None,
                  active: bool | None = None) -> None:
    require(principal, Role.ADMIN)
    with db.transaction() as session:
        member = repository.membership(session, user_id, principal.tenant_id)
        user = session.get(User, user_id)
        if member is None or user is None:
            raise UshiroError(ErrorCode.NOT_FOUND, "ユーザーが見つかりません。")
        if user_id == principal.user_id and (active is False or (role and role != Role.ADMIN)):
            raise UshiroError(ErrorCode.CONFLICT, "自分自身の管理者権限は変更できません。")
        before = {"role": member.role, "active": member.is_active}
        if role is not None:
            member.role = role.value
        if active is not None:
            member.is_active = active
        after = {"role": member.role, "active": member.is_active}
        audit.record(session, tenant_id=principal.tenant_id, actor=principal.actor,
                     action="user.update", object_type="user", object_id=user_id,
                     before=before, after=after)


def set_password(db: Database, actor: Actor, email: str, password: str) -> None:
    if len(password) < 8:
        raise invalid("password", "パスワードは8文字以上にしてください。")
    with db.transaction() as session:
        user = repository.user_by_email(session, email)
        if user is None:
            raise UshiroError(ErrorCode.NOT_FOUND, f"ユーザー {email} が見つかりません。")
        user.password_hash = hash_password(password)
        # Whoever knew the old password may have signed in with it: end those sessions.
        repository.end_sessions(session, user.id, now())
        audit.record(session, tenant_id=None, actor=actor, action="user.password",
                     object_type="user", object_id=user.id)


def create_token(db: Database, principal: Principal, email: str, name: str = "") -> str:
    """Returns the token once; only its digest is stored."""
    require(principal, Role.ADMIN)
    tenant_id, actor = principal.tenant_id, principal.actor
    raw = new_api_token()
    with db.transaction() as session:
        user = repository.user_by_email(session, email)
        if user is None or repository.membership(session, user.id, tenant_id) is None:
            raise UshiroError(ErrorCode.NOT_FOUND,
                              f"ユーザー {email} はこのテナントに登録されていません。", field="email")
        record = ApiToken(user_id=user.id, tenant_id=tenant_id, name=one_line(name, 100),
                          digest=token_digest(raw), prefix=raw[:10])
        session.add(record)
        session.flush()
        audit.record(session, tenant_id=tenant_id, actor=actor, action="token.create",
                     object_type="api_token", object_id=record.id,
                     after={"user": user.email, "prefix": record.prefix})
    return raw


def revoke_token(db: Database, principal: Principal, token_id: int) -> None:
    require(principal, Role.ADMIN)
    with db.transaction() as session:
        record = repository.token(session, principal.tenant_id, token_id)
        if record is None:
            raise UshiroError(ErrorCode.NOT_FOUND, "APIトークンが見つかりません。")
        record.revoked_at = now()
        audit.record(session, tenant_id=principal.tenant_id, actor=principal.actor,
                     action="token.revoke", object_type="api_token", object_id=token_id)


def login(db: Database, settings: Settings, email: str, password: str,
          ip: str = "") -> SignedIn:
    """Check the password (too many recent failures lock the account for a while) and
    open a login session."""
    email = email.strip().lower()
    since = now() - timedelta(seconds=settings.login_window_seconds)
    with db.transaction() as session:
        # Per account (guessing one password) and per address (trying many accounts).
        by_ip = repository.recent_failures_from(session, ip[:64], since) if ip else 0
        if (repository.recent_failures(session, email, since) >= settings.login_max_failures
                or by_ip >= settings.login_max_failures * IP_FACTOR):
            raise UshiroError(ErrorCode.RATE_LIMITED,
                              "ログインの失敗が続いたため一時的にロックしています。"
                              "15分ほど待ってから再度お試しください。")
        user = repository.user_by_email(session, email)
        ok = verify_password(user.password_hash if user else None, password)
        ok = ok and user is not None and user.is_active
        session.add(LoginAttempt(email=email, ip=ip[:64], succeeded=ok))
    if not ok or user is None:
        raise UshiroError(ErrorCode.AUTH_FAILED,
                          "メールアドレスまたはパスワードが正しくありません。")
    with db.reading() as session:
        tenants = [t for t, _r in repository.tenants_of(session, user.id)]
    if not tenants:
        raise UshiroError(ErrorCode.AUTH_FAILED,
                          "このアカウントは現在利用できません(所属テナントがないか、無効化されています)。"
                          "管理者に連絡してください。")
    key = new_session_key()
    with db.transaction() as session:
        repository.forget_sessions(
            session, user.id, now() - timedelta(seconds=settings.session_max_age_seconds))
        session.add(LoginSession(user_id=user.id, digest=token_digest(key)))
    return SignedIn(user, tenants, key)


def logout(db: Database, user_id: int | None, session_key: str | None) -> None:
    """End this browser's login session: a copy of its cookie no longer signs anyone in."""
    if user_id and session_key:
        with db.transaction() as session:
            repository.end_sessions(session, user_id, now(), digest=token_digest(session_key))


def switch_tenant(db: Database, who: Principal, tenant_id: int) -> Principal:
    """The signed-in person's principal in another company they belong to."""
    return principal(db, person(who), tenant_id)


def principal(db: Database, user_id: int, tenant_id: int) -> Principal:
    with db.reading() as session:
        user = session.get(User, user_id)
        tenant = session.get(Tenant, tenant_id)
        # A tenant the user does not belong to looks exactly like a missing one.
        if (user is None or tenant is None
                or repository.membership(session, user.id, tenant.id) is None):
            raise UshiroError(ErrorCode.NOT_FOUND, "ユーザーまたはテナントが見つかりません。")
        return principal_for(session, user, tenant)


def add_department(db: Database, principal: Principal, name: str) -> Department:
    require(principal, Role.ADMIN)
    name = one_line(name, 100)
    if not name:
        raise invalid("name", "部門名を入力してください。")
    with db.transaction() as session:
        if repository.department_by_name(session, principal.tenant_id, name):
            raise UshiroError(ErrorCode.CONFLICT, f"部門「{name}」は既にあります。", field="name")
        dept = Department(tenant_id=principal.tenant_id, name=name, sort_order=100)
        session.add(dept)
        session.flush()
        audit.record(session, tenant_id=principal.tenant_id, actor=principal.actor,
                     action="department.add", object_type="department", object_id=dept.id,
                     after={"name": name})
    return dept


def add_category(db: Database, principal: Principal, department_id: int, name: str,
                 work_type: WorkType | None) -> Category:
    require(principal, Role.ADMIN)
    name = one_line(name, 100)
    if not name:
        raise invalid("name", "カテゴリ名を入力してください。")
    with db.transaction() as session:
        if repository.department(session, principal.tenant_id, department_id) is None:
            raise invalid("department_id", "部門を選択してください。")
        cat = Category(tenant_id=principal.tenant_id, department_id=department_id, name=name,
                       default_work_type=work_type.value if work_type else None, sort_order=100)
        session.add(cat)
        session.flush()
        audit.record(session, tenant_id=principal.tenant_id, actor=principal.actor,
                     action="category.add", object_type="category", object_id=cat.id,
                     after={"name": name, "department_id": department_id})
    return cat


def set_category_active(db: Database, principal: Principal, category_id: int,
                        active: bool) -> None:
    require(principal, Role.ADMIN)
    with db.transaction() as session:
        cat = repository.category(session, principal.tenant_id, category_id)
        if cat is None:
            raise UshiroError(ErrorCode.NOT_FOUND, "カテゴリが見つかりません。")
        before = {"active": cat.is_active}
        cat.is_active = active
        audit.record(session, tenant_id=principal.tenant_id, actor=principal.actor,
                     action="category.update", object_type="category", object_id=category_id,
                     before=before, after={"active": active})
