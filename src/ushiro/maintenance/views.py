"""The /admin/jobs page: the tenant's job backlog and the jobs that gave up."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ushiro.maintenance.queries import jobs_overview
from ushiro.web.deps import PagePrincipal, RuntimeDep
from ushiro.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/admin/jobs")
def jobs_page(request: Request, principal: PagePrincipal, rt: RuntimeDep) -> Response:
    return render(request, "maintenance/admin_jobs.html",
                  {"overview": jobs_overview(rt, principal)})
