"""Pages of the knowledge domain on the desk: FAQ candidates, and the recurrence panel of
the request page (registered with ``desk.panels`` when this module is imported)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ushiro.desk import panels
from ushiro.desk.choices import Status
from ushiro.knowledge import recurrence
from ushiro.web.deps import PagePrincipal, RuntimeDep
from ushiro.web.templating import render

router = APIRouter(include_in_schema=False)

panels.register(recurrence.panel)


@router.get("/desk/faq-candidates")
def faq_candidates(request: Request, principal: PagePrincipal, rt: RuntimeDep) -> Response:
    items = recurrence.faq_candidates(rt, principal)
    return render(request, "knowledge/faq_candidates.html",
                  {"items": items, "statuses": Status, "min_count": recurrence.MIN_CLUSTER,
                   "days": recurrence.RECENT_DAYS})
