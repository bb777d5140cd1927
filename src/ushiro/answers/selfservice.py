"""Self-service, earned per category by reviewed drafts.

A category starts in ``draft_only``: every draft waits for a person. An administrator may
switch it to ``suggest`` (the employee sees the cited answer in the chat at once) or
``auto_send`` (the answer is sent and the request resolved) only when, over the
category's last ``selfservice_window`` drafts reviewed by a person (30), at least
``selfservice_threshold`` (90 %) were accepted without substantive edit
(:mod:`ushiro.answers.compare`) — and there are that many reviews. After every review the
rule is checked again; when the category no longer meets it, it falls back to
``draft_only`` by itself (audit event ``automation.fallback``).

Reviewed: approved, sent or rejected by a person (answers the system sent by itself do not
count, or self-service would vouch for itself). Accepted: sent or approved, not an
abstention, edit ratio below 0.10.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from ushiro import audit, identity
from ushiro.answers import access, compare, repository
from ushiro.answers.choices import AutomationMode, DraftStatus
from ushiro.answers.models import CategoryAutomation
from ushiro.answers.schemas import AutomationOut
from ushiro.audit import Actor
from ushiro.core.clock import now
from ushiro.core.errors import ErrorCode, UshiroError
from ushiro.core.runtime import Runtime
from ushiro.core.settings import Settings
from ushiro.identity import Category, Principal

SYSTEM = Actor(None, "answers")
# Japanese names for messages (labels follow the reader's language; errors are Japanese).
MODE_NAMES = {AutomationMode.DRAFT_ONLY: "下書きのみ", AutomationMode.SUGGEST: "自動回答の提示",
              AutomationMode.AUTO_SEND: "自動送信"}


@dataclass(frozen=True)
class Acceptance:
    reviewed: int
    accepted: int
    window: int
    threshold: float

    @property
    def rate(self) -> float | None:
        return self.accepted / self.reviewed if self.reviewed else None

    @property
    def eligible(self) -> bool:
        rate = self.rate
        return self.reviewed >= self.window and rate is not None and rate >= self.threshold

    def describe(self) -> str:
        rate = "-" if self.rate is None else f"{self.rate:.1%}"
        return f"レビュー {self.reviewed} 件、修正なしの承認 {self.accepted} 件、承認率 {rate}"

    def as_dict(self) -> dict[str, object]:
        return {"reviewed": self.reviewed, "accepted": self.accepted,
                "acceptance": None if self.rate is None else round(self.rate, 4),
                "window": self.window, "threshold": self.threshold}


def acceptance(session: Session, settings: Settings, tenant_id: int,
               category_id: int) -> Acceptance:
    window = settings.selfservice_window
    rows = repository.recent_reviews(session, tenant_id, category_id, window)
    accepted = sum(1 for status, ratio, abstained in rows
                   if status != DraftStatus.REJECTED.value and not abstained
                   and compare.accepted(ratio))
    return Acceptance(len(rows), accepted, window, settings.selfservice_threshold)


def mode_of(session: Session, tenant_id: int, category_id: int | None) -> AutomationMode:
    if category_id is None:
        return AutomationMode.DRAFT_ONLY
    row = repository.automation(session, tenant_id, category_id)
    return AutomationMode(row.mode) if row is not None else AutomationMode.DRAFT_ONLY


def check_fallback(session: Session, settings: Settings, tenant_id: int,
                   category_id: int | None) -> bool:
    """After a review: a self-service category that no longer meets the rule goes back to
    draft_only. Call inside the review's transaction (after the draft changed)."""
    if category_id is None:
        return False
    row = repository.automation(session, tenant_id, category_id)
    if row is None or row.mode == AutomationMode.DRAFT_ONLY.value:
        return False
    session.flush()
    stats = acceptance(session, settings, tenant_id, category_id)
    if stats.eligible:
        return False
    before = row.mode
    row.mode, row.changed_by, row.changed_at = AutomationMode.DRAFT_ONLY.value, None, now()
    audit.record(session, tenant_id=tenant_id, actor=SYSTEM, action="automation.fallback",
                 object_type="category", object_id=category_id, before={"mode": before},
                 after={"mode": row.mode, **stats.as_dict()})
    return True


def set_mode(rt: Runtime, who: Principal, category_id: int,
             mode: AutomationMode) -> AutomationOut:
    """Refuses suggest/auto_send until the category has earned it (see module docstring).
    ``who``: an administrator, or a system principal (the command line on the server)."""
    access.require_automation_admin(who)
    tenant_id, actor = who.tenant_id, who.actor
    with rt.db.transaction() as session:
        category = access.category_for(session, tenant_id, category_id)
        stats = acceptance(session, rt.settings, tenant_id, category_id)
        if mode.self_service and not stats.eligible:
            raise UshiroError(
                ErrorCode.SELF_SERVICE_NOT_EARNED,
                f"カテゴリ「{category.name}」は「{MODE_NAMES[mode]}」にできません。"
                f"直近 {stats.window} 件のレビューで、修正なしの承認率が "
                f"{stats.threshold:.0%} 以上必要です(現在: {stats.describe()})。"
                "このカテゴリの下書きのレビューを続けてください。", field="mode",
                details=stats.as_dict())
        row = repository.automation(session, tenant_id, category_id)
        if row is None:
            row = CategoryAutomation(tenant_id=tenant_id, category_id=category_id,
                                     mode=AutomationMode.DRAFT_ONLY.value)
            session.add(row)
        if row.mode != mode.value:
            before = row.mode
            row.mode, row.changed_by, row.changed_at = mode.value, actor.user_id, now()
            audit.record(session, tenant_id=tenant_id, actor=actor,
                         action="automation.set", object_type="category",
                         object_id=category_id, before={"mode": before},
                         after={"mode": mode.value, **stats.as_dict()})
        session.flush()
        return _out(session, category, row, stats)


def get_mode(rt: Runtime, principal: Principal, category_id: int) -> AutomationOut:
    access.require_automation_admin(principal)
    with rt.db.reading() as session:
        category = access.category_for(session, principal.tenant_id, category_id)
        row = repository.automation(session, principal.tenant_id, category_id)
        stats = acceptance(session, rt.settings, principal.tenant_id, category_id)
        return _out(session, category, row, stats)


def overview(rt: Runtime, who: Principal) -> list[AutomationOut]:
    """Every category of the tenant with its mode and the numbers that decide it."""
    access.require_automation_admin(who)
    tenant_id = who.tenant_id
    with rt.db.reading() as session:
        rows = repository.automations(session, tenant_id)
        departments = {d.id: d.name for d in identity.departments(session, tenant_id)}
        return [_out(session, c, rows.get(c.id),
                     acceptance(session, rt.settings, tenant_id, c.id), departments)
                for c in identity.categories(session, tenant_id)]


def _out(session: Session, category: Category, row: CategoryAutomation | None,
         stats: Acceptance, departments: dict[int, str] | None = None) -> AutomationOut:
    if departments is None:
        found = identity.department(session, category.tenant_id, category.department_id)
        department = found.name if found else ""
    else:
        department = departments.get(category.department_id, "")
    return AutomationOut(
        category_id=category.id, category=category.name, department=department,
        work_type=category.default_work_type,
        mode=AutomationMode(row.mode) if row else AutomationMode.DRAFT_ONLY,
        reviewed=stats.reviewed, accepted=stats.accepted, acceptance=stats.rate,
        window=stats.window, threshold=stats.threshold, eligible=stats.eligible,
        changed_at=row.changed_at if row else None)


def resolve_category(rt: Runtime, tenant_id: int, name_or_id: str) -> int:
    """A category id from its id or its name (the command line takes either)."""
    with rt.db.reading() as session:
        if name_or_id.isdigit():
            found = identity.category(session, tenant_id, int(name_or_id))
        else:
            found = identity.category_by_name(session, tenant_id, name_or_id.strip())
        if found is None:
            names = "、".join(c.name for c in identity.categories(session, tenant_id))
            raise UshiroError(ErrorCode.NOT_FOUND, f"カテゴリ「{name_or_id}」は存在しません。"
                              f"登録済みのカテゴリ: {names or 'なし'}", field="category")
        return found.id
