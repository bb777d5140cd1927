"""Answers queries. Never commits."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from ushiro.answers.choices import OPEN, REVIEWED, DraftStatus
from ushiro.answers.models import CategoryAutomation, Draft, DraftRevision, FaqPromotion


def draft(session: Session, tenant_id: int, draft_id: int) -> Draft | None:
    stmt = select(Draft).where(Draft.tenant_id == tenant_id, Draft.id == draft_id)
    return session.scalars(stmt).first()


def lock_draft(session: Session, tenant_id: int, draft_id: int) -> Draft | None:
    """The draft, row-locked on PostgreSQL (SQLite write transactions are serial anyway)."""
    stmt = (select(Draft).where(Draft.tenant_id == tenant_id, Draft.id == draft_id)
            .with_for_update())
    return session.scalars(stmt).first()


def drafts_of(session: Session, request_id: int) -> list[Draft]:
    stmt = select(Draft).where(Draft.request_id == request_id).order_by(Draft.number.desc())
    return list(session.scalars(stmt))


def latest_draft(session: Session, request_id: int) -> Draft | None:
    stmt = select(Draft).where(Draft.request_id == request_id).order_by(Draft.number.desc())
    return session.scalars(stmt.limit(1)).first()


def next_number(session: Session, request_id: int) -> int:
    stmt = select(func.max(Draft.number)).where(Draft.request_id == request_id)
    return int(session.scalar(stmt) or 0) + 1


def supersede_open(session: Session, request_id: int) -> list[int]:
    """Mark the request's undecided drafts superseded; returns their ids."""
    ids = list(session.scalars(select(Draft.id).where(
        Draft.request_id == request_id, Draft.status == DraftStatus.PROPOSED.value)))
    if ids:
        session.execute(update(Draft).where(Draft.id.in_(ids))
                        .values(status=DraftStatus.SUPERSEDED.value))
    return ids


def revisions(session: Session, draft_ids: list[int]) -> dict[int, list[DraftRevision]]:
    found: dict[int, list[DraftRevision]] = {i: [] for i in draft_ids}
    if not draft_ids:
        return found
    stmt = (select(DraftRevision).where(DraftRevision.draft_id.in_(draft_ids))
            .order_by(DraftRevision.id))
    for revision in session.scalars(stmt):
        found[revision.draft_id].append(revision)
    return found


def recent_reviews(session: Session, tenant_id: int, category_id: int,
                   window: int) -> list[tuple[str, float | None, bool]]:
    """(status, edit_ratio, abstained) of the category's last ``window`` drafts decided by
    a person, newest first."""
    stmt = (select(Draft.status, Draft.edit_ratio, Draft.abstained)
            .where(Draft.tenant_id == tenant_id, Draft.category_id == category_id,
                   Draft.decided_by.is_not(None),
                   Draft.status.in_([s.value for s in REVIEWED]))
            .order_by(Draft.decided_at.desc(), Draft.id.desc()).limit(window))
    return [(status, ratio, bool(abstained)) for status, ratio, abstained in session.execute(stmt)]


def automation(session: Session, tenant_id: int, category_id: int) -> CategoryAutomation | None:
    stmt = select(CategoryAutomation).where(CategoryAutomation.tenant_id == tenant_id,
                                            CategoryAutomation.category_id == category_id)
    return session.scalars(stmt).first()


def automations(session: Session, tenant_id: int) -> dict[int, CategoryAutomation]:
    stmt = select(CategoryAutomation).where(CategoryAutomation.tenant_id == tenant_id)
    return {row.category_id: row for row in session.scalars(stmt)}


def promotion(session: Session, draft_id: int) -> FaqPromotion | None:
    return session.scalars(select(FaqPromotion).where(FaqPromotion.draft_id == draft_id)).first()


def promotions(session: Session, draft_ids: list[int]) -> dict[int, FaqPromotion]:
    if not draft_ids:
        return {}
    stmt = select(FaqPromotion).where(FaqPromotion.draft_id.in_(draft_ids))
    return {row.draft_id: row for row in session.scalars(stmt)}


def is_open(draft: Draft) -> bool:
    return draft.status in [s.value for s in OPEN]


def first_draft(session: Session, request_id: int) -> Draft | None:
    """The request's first draft: the automatic one, when there is one."""
    stmt = select(Draft).where(Draft.request_id == request_id, Draft.number == 1)
    return session.scalars(stmt).first()
