"""The FAQ candidates page: questions that keep coming back without an FAQ entry."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ushiro.desk import Status
from ushiro.recurrence import MIN_CLUSTER, RECENT_DAYS, faq_candidates
from ushiro.web.deps import PagePrincipal, RuntimeDep
from ushiro.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/desk/faq-candidates")
def faq_candidates_page(request: Request, principal: PagePrincipal, rt: RuntimeDep) -> Response:
    items = faq_candidates(rt, principal)
    return render(request, "recurrence/faq_candidates.html",
                  {"items": items, "statuses": Status, "min_count": MIN_CLUSTER,
                   "days": RECENT_DAYS})
