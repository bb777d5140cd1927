"""The admin's view of the audit log, verified on every visit."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ushiro.audit import action_label
from ushiro.auditlog.queries import tenant_log
from ushiro.web.deps import PagePrincipal, RuntimeDep
from ushiro.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/admin/audit")
def audit_log(request: Request, principal: PagePrincipal, rt: RuntimeDep) -> Response:
    events, report = tenant_log(rt, principal)
    return render(request, "audit/log.html",
                  {"events": events, "report": report, "action_label": action_label})
