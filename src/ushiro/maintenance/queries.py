"""The job backlog as a tenant's administrator reads it (the /admin/jobs page).

jobs is a leaf below identity, where the access layer lives; the page that needs both is
here, with ``ushiro doctor``, which reports the same backlog for the whole instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ushiro.core.runtime import Runtime
from ushiro.identity import Principal, Role, require
from ushiro.jobs import FAILED_RETENTION_FACTOR, Backlog, backlog, failed_jobs


@dataclass(frozen=True)
class FailedJob:
    id: int
    kind: str
    attempts: int
    last_error: str
    finished_at: datetime | None


@dataclass(frozen=True)
class JobsOverview:
    backlog: Backlog
    failed: list[FailedJob]
    retention_days: int
    failed_retention_days: int


def jobs_overview(rt: Runtime, principal: Principal) -> JobsOverview:
    """The admin's own tenant only: other tenants' queues are none of its business."""
    require(principal, Role.ADMIN)
    with rt.db.reading() as session:
        found = backlog(session, principal.tenant_id)
        failed = [FailedJob(j.id, j.kind, j.attempts, j.last_error or "", j.finished_at)
                  for j in failed_jobs(session, principal.tenant_id)]
    days = rt.settings.jobs_retention_days
    return JobsOverview(found, failed, days, days * FAILED_RETENTION_FACTOR)
