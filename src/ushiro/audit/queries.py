"""Reads of the audit log for the pages above it (the caller has checked who may read)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ushiro.audit import repository
from ushiro.audit.models import AuditEvent


def recent_events(session: Session, tenant_id: int, limit: int = 100,
                  object_type: str | None = None,
                  object_id: str | None = None) -> list[AuditEvent]:
    """The newest events of a tenant's chain, optionally of one object, newest first."""
    return repository.recent(session, tenant_id, limit, object_type, object_id)
