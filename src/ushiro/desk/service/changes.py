"""Changing a request: assignment, tags, category, work type, priority, due date, status."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ushiro import audit, identity
from ushiro.core.errors import invalid
from ushiro.core.runtime import Runtime
from ushiro.desk import events, repository
from ushiro.desk.access import access_request_by_id, require_staff
from ushiro.desk.choices import Status
from ushiro.desk.models import Request
from ushiro.desk.schemas import RequestChange
from ushiro.desk.service.common import (
    audit_change,
    category_named,
    clean_tags,
    snapshot,
    transition,
)
from ushiro.identity import Principal


def change(rt: Runtime, principal: Principal, request_id: int, data: RequestChange) -> Request:
    """Assign, tag, re-categorise, set work type, priority, due date or status."""
    require_staff(principal)
    with rt.db.transaction() as session:
        request = access_request_by_id(session, principal, request_id)
        before = snapshot(request)
        if data.category_id is not None:
            chosen = category_named(session, request.tenant_id, data.category_id)
            assert chosen is not None
            category = chosen[0]
            request.category_id, request.department_id = category.id, category.department_id
            request.work_type = request.work_type or category.default_work_type
        if data.work_type is not None:
            request.work_type = data.work_type.value
        if data.priority is not None:
            request.priority = data.priority.value
        if data.due_at is not None:
            request.due_at = data.due_at
        _apply_assignee(session, request, data)
        if data.tags is not None:
            old_tags = repository.tags_for(session, [request.id]).get(request.id, [])
            new_tags = clean_tags(data.tags)
            repository.set_tags(session, request.id, new_tags)
            if old_tags != new_tags:
                audit.record(session, tenant_id=request.tenant_id, actor=principal.actor,
                             action="request.tags", object_type="request", object_id=request.id,
                             before={"tags": old_tags}, after={"tags": new_tags})
        if data.status is not None:
            transition(request, data.status)
        elif request.status == Status.NEW and request.category_id and request.work_type:
            transition(request, Status.TRIAGED)
        audit_change(session, principal.actor, request, before)
        if (request.work_type, request.category_id) != (before["work_type"],
                                                        before["category_id"]):
            events.request_classified(session, request)
    return request


def _apply_assignee(session: Session, request: Request, data: RequestChange) -> None:
    if data.unassign:
        request.assignee_id = None
        return
    if data.assignee_id is None:
        return
    staff_ids = {u.id for u in identity.staff(session, request.tenant_id)}
    if data.assignee_id not in staff_ids:
        raise invalid("assignee_id", "担当者はこのテナントの担当者・承認者・管理者から選んでください。")
    request.assignee_id = data.assignee_id

