"""Admin mail pages (account settings, quarantined mail) and the mail panel of the
request page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ushiro.core.limits import Id
from ushiro.core.runtime import Runtime
from ushiro.desk.choices import MailSecurity
from ushiro.desk.mail import account, intake, quarantine, queries
from ushiro.desk.mail.schemas import MailAccountIn
from ushiro.desk.schemas import RequestOut
from ushiro.identity import Principal
from ushiro.web.deps import CsrfChecked, PagePrincipal, RuntimeDep
from ushiro.web.templating import render

router = APIRouter(include_in_schema=False)
# Within the id column's range (int4 on PostgreSQL), like every other id (core.limits).
QuarantineId = Id


@router.get("/admin/mail")
def mail_settings(request: Request, principal: PagePrincipal, rt: RuntimeDep,
                  saved: str = "", released: str = "", deleted: str = "") -> Response:
    page = account.settings_page(rt, principal)
    return render(request, "desk/admin_mail.html", {
        "account": page.account, "quarantined": page.quarantined, "securities": MailSecurity,
        "saved": saved, "released": released, "deleted": deleted})


@router.post("/admin/mail", dependencies=[CsrfChecked])
async def save_mail_settings(request: Request, principal: PagePrincipal,
                             rt: RuntimeDep) -> Response:
    form = await request.form()
    fields = {k: v for k, v in form.items() if k != "csrf_token" and isinstance(v, str)}
    data = MailAccountIn.model_validate(fields)
    account.save_account(rt, principal, data)
    return RedirectResponse("/admin/mail?saved=1", status_code=303)


@router.get("/admin/mail/quarantine/{quarantine_id}/raw")
def quarantined_raw(principal: PagePrincipal, rt: RuntimeDep,
                    quarantine_id: QuarantineId) -> Response:
    item, data = quarantine.raw_mail(rt, principal, quarantine_id)
    return Response(data, media_type="message/rfc822", headers={
        "Content-Disposition": f'attachment; filename="quarantine-{item.id}.eml"'})


@router.post("/admin/mail/quarantine/{quarantine_id}/release", dependencies=[CsrfChecked])
def release_quarantined(principal: PagePrincipal, rt: RuntimeDep,
                        quarantine_id: QuarantineId) -> Response:
    result = intake.release(rt, principal, quarantine_id)
    return RedirectResponse(f"/admin/mail?released=REQ-{result.number}", status_code=303)


@router.post("/admin/mail/quarantine/{quarantine_id}/delete", dependencies=[CsrfChecked])
def delete_quarantined(principal: PagePrincipal, rt: RuntimeDep,
                       quarantine_id: QuarantineId) -> Response:
    quarantine.discard(rt, principal, quarantine_id)
    return RedirectResponse("/admin/mail?deleted=1", status_code=303)


def mail_panel(rt: Runtime, principal: Principal, item: RequestOut) -> dict[str, Any] | None:
    """What intake noticed about the request's mails: authentication results, charset
    and length warnings, a sender refused as not a participant."""
    notes = [n for n in queries.mail_notes(rt, principal, item.id)
             if n.warnings or n.authentication]
    return {"template": "desk/_mail_panel.html", "notes": notes} if notes else None
