"""Pages: login/logout, tenant switch, the admin screens (users, taxonomy, tokens, the
company's reply signature) and the staff member's own settings (their signature)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from ushiro.core.errors import ErrorCode, UshiroError
from ushiro.core.limits import Id
from ushiro.core.security import new_csrf_token
from ushiro.identity import invitations, service, signatures
from ushiro.identity.choices import Role, WorkType
from ushiro.identity.queries import admin_overview
from ushiro.identity.schemas import UserIn
from ushiro.web.deps import CsrfChecked, PagePrincipal, RuntimeDep
from ushiro.web.templating import render

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect after login would help phishing.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    request.session.setdefault("csrf", new_csrf_token())
    return render(request, "identity/login.html", {"next": _safe_next(next)})


@router.post("/login", dependencies=[CsrfChecked])
def login(request: Request, rt: RuntimeDep, email: Annotated[str, Form()],
          password: Annotated[str, Form()], next: Annotated[str, Form()] = "/") -> Response:
    ip = request.client.host if request.client else ""
    try:
        signed_in = service.login(rt.db, rt.settings, email, password, ip)
    except UshiroError as error:
        return render(request, "identity/login.html",
                      {"error": error, "email": email, "next": _safe_next(next)}, error.status)
    # A fresh session on login: nothing from before authentication carries over.
    request.session.clear()
    request.session.update({"uid": signed_in.user.id, "tid": signed_in.tenants[0].id,
                            "key": signed_in.session_key, "csrf": new_csrf_token()})
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout", dependencies=[CsrfChecked])
def logout(request: Request, rt: RuntimeDep) -> Response:
    service.logout(rt.db, request.session.get("uid"), request.session.get("key"))
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.post("/switch-tenant", dependencies=[CsrfChecked])
def switch_tenant(request: Request, principal: PagePrincipal, rt: RuntimeDep,
                  tenant_id: Annotated[Id, Form()]) -> Response:
    service.switch_tenant(rt.db, principal, tenant_id)  # raises unless a member
    request.session["tid"] = tenant_id
    return RedirectResponse("/", status_code=303)


@router.get("/")
def home(principal: PagePrincipal) -> Response:
    return RedirectResponse("/desk" if principal.is_staff else "/portal", status_code=303)


@router.get("/admin/users")
def users_page(request: Request, principal: PagePrincipal, rt: RuntimeDep,
               notice: str | None = None) -> Response:
    return render(request, "identity/admin_users.html",
                  {**admin_overview(rt, principal), "roles": Role, "notice": notice})


@router.post("/admin/users", dependencies=[CsrfChecked])
def add_user(request: Request, principal: PagePrincipal, rt: RuntimeDep,
             email: Annotated[str, Form()], name: Annotated[str, Form()],
             role: Annotated[Role, Form()], password: Annotated[str, Form()] = "",
             departments: Annotated[list[str] | None, Form()] = None) -> Response:
    data = UserIn(email=email.strip(), name=name, role=role, password=password or None,
                  departments=departments or [])
    added = service.add_member(rt.db, principal, data)
    notice = "invited" if added.invited else "added"
    return RedirectResponse(f"/admin/users?notice={notice}", status_code=303)


@router.post("/admin/users/{user_id}", dependencies=[CsrfChecked])
def update_user(principal: PagePrincipal, rt: RuntimeDep, user_id: Id,
                role: Annotated[Role | None, Form()] = None,
                active: Annotated[str | None, Form()] = None) -> Response:
    service.update_member(rt.db, principal, user_id, role=role,
                          active=None if active is None else active == "1")
    return RedirectResponse("/admin/users?notice=updated", status_code=303)


@router.get("/admin/taxonomy")
def taxonomy_page(request: Request, principal: PagePrincipal, rt: RuntimeDep) -> Response:
    return render(request, "identity/admin_taxonomy.html",
                  {**admin_overview(rt, principal), "work_types": WorkType})


@router.post("/admin/departments", dependencies=[CsrfChecked])
def add_department(principal: PagePrincipal, rt: RuntimeDep,
                   name: Annotated[str, Form()]) -> Response:
    service.add_department(rt.db, principal, name)
    return RedirectResponse("/admin/taxonomy", status_code=303)


@router.post("/admin/categories", dependencies=[CsrfChecked])
def add_category(principal: PagePrincipal, rt: RuntimeDep,
                 department_id: Annotated[Id, Form()], name: Annotated[str, Form()],
                 work_type: Annotated[WorkType | None, Form()] = None) -> Response:
    service.add_category(rt.db, principal, department_id, name, work_type)
    return RedirectResponse("/admin/taxonomy", status_code=303)


@router.post("/admin/categories/{category_id}/active", dependencies=[CsrfChecked])
def toggle_category(principal: PagePrincipal, rt: RuntimeDep, category_id: Id,
                    active: Annotated[str, Form()]) -> Response:
    service.set_category_active(rt.db, principal, category_id, active == "1")
    return RedirectResponse("/admin/taxonomy", status_code=303)


@router.get("/admin/tokens")
def tokens_page(request: Request, principal: PagePrincipal, rt: RuntimeDep) -> Response:
    return render(request, "identity/admin_tokens.html", admin_overview(rt, principal))


@router.post("/admin/tokens", dependencies=[CsrfChecked])
def create_token(request: Request, principal: PagePrincipal, rt: RuntimeDep,
                 email: Annotated[str, Form()], name: Annotated[str, Form()] = "") -> Response:
    token = service.create_token(rt.db, principal, email, name)
    return render(request, "identity/admin_tokens.html",
                  {**admin_overview(rt, principal), "new_token": token})


@router.post("/admin/tokens/{token_id}/revoke", dependencies=[CsrfChecked])
def revoke_token(principal: PagePrincipal, rt: RuntimeDep, token_id: Id) -> Response:
    service.revoke_token(rt.db, principal, token_id)
    return RedirectResponse("/admin/tokens", status_code=303)


@router.get("/invitations")
def invitations_page(request: Request, principal: PagePrincipal, rt: RuntimeDep) -> Response:
    """The signed-in user's own pending invitations to other tenants."""
    return render(request, "identity/invitations.html",
                  {"invitations": invitations.pending_for(rt.db, principal)})


@router.post("/invitations/{invitation_id}/accept", dependencies=[CsrfChecked])
def accept_invitation(request: Request, principal: PagePrincipal, rt: RuntimeDep,
                      invitation_id: Id) -> Response:
    request.session["tid"] = invitations.accept(rt.db, principal, invitation_id)
    return RedirectResponse("/", status_code=303)


@router.post("/invitations/{invitation_id}/decline", dependencies=[CsrfChecked])
def decline_invitation(principal: PagePrincipal, rt: RuntimeDep, invitation_id: Id) -> Response:
    invitations.decline(rt.db, principal, invitation_id)
    return RedirectResponse("/invitations", status_code=303)


def _signature_form(request: Request, principal: PagePrincipal, rt: RuntimeDep, *,
                    admin: bool, saved: str = "", error: UshiroError | None = None,
                    value: str | None = None) -> Response:
    page = "identity/admin_signature.html" if admin else "identity/settings.html"
    return render(request, page, {
        "signatures": signatures.signatures(rt.db, principal, admin=admin), "saved": saved,
        "error": error, "value": value, "max_chars": signatures.MAX_CHARS,
        "max_lines": signatures.MAX_LINES}, error.status if error else 200)


@router.get("/admin/signature")
def tenant_signature_page(request: Request, principal: PagePrincipal, rt: RuntimeDep,
                          saved: str = "") -> Response:
    return _signature_form(request, principal, rt, admin=True, saved=saved)


@router.post("/admin/signature", dependencies=[CsrfChecked])
def save_tenant_signature(request: Request, principal: PagePrincipal, rt: RuntimeDep,
                          signature: Annotated[str, Form()] = "") -> Response:
    return _save_signature(request, principal, rt, signature, admin=True)


@router.get("/settings")
def settings_page(request: Request, principal: PagePrincipal, rt: RuntimeDep,
                  saved: str = "") -> Response:
    """The staff member's own settings: their reply signature in this company."""
    return _signature_form(request, principal, rt, admin=False, saved=saved)


@router.post("/settings", dependencies=[CsrfChecked])
def save_settings(request: Request, principal: PagePrincipal, rt: RuntimeDep,
                  signature: Annotated[str, Form()] = "") -> Response:
    return _save_signature(request, principal, rt, signature, admin=False)


def _save_signature(request: Request, principal: PagePrincipal, rt: RuntimeDep,
                    signature: str, *, admin: bool) -> Response:
    save = signatures.set_tenant_signature if admin else signatures.set_own_signature
    try:
        save(rt.db, principal, signature)
    except UshiroError as error:
        if error.code is not ErrorCode.VALIDATION:
            raise
        # The page again with what was typed, so that shortening it is one edit away.
        return _signature_form(request, principal, rt, admin=admin, error=error,
                               value=signature)
    return RedirectResponse(("/admin/signature" if admin else "/settings") + "?saved=1",
                            status_code=303)
