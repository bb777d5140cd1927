"""FastAPI dependencies: the runtime, the principal (cookie or bearer token), CSRF."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Request

from ushiro.core import i18n
from ushiro.core.errors import ErrorCode, UshiroError
from ushiro.core.runtime import Runtime
from ushiro.core.security import same_token
from ushiro.identity import (
    Principal,
    principal_from_session,
    principal_from_token,
    tenant_choices,
)


async def get_runtime(request: Request) -> Runtime:
    # async: FastAPI runs a plain ``def`` dependency in the thread pool, a hop per request
    # for what is only an attribute read.
    rt: Runtime = request.app.state.rt
    return rt


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


class LoginRequired(Exception):
    """Raised for pages when nobody is signed in; the app redirects to the login page."""


def page_principal(request: Request, rt: RuntimeDep) -> Principal:
    max_age = timedelta(seconds=rt.settings.session_max_age_seconds)
    with rt.db.reading() as session:
        principal = principal_from_session(session, request.session.get("uid"),
                                           request.session.get("tid"),
                                           request.session.get("key"), max_age)
        if principal is not None:
            request.state.tenants = tenant_choices(session, principal)
    if principal is None:
        request.session.pop("uid", None)
        raise LoginRequired()
    i18n.set_language(i18n.pick_language(principal.locale))
    request.state.principal = principal
    return principal


def api_principal(request: Request, rt: RuntimeDep) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UshiroError(ErrorCode.AUTH_REQUIRED,
                          "認証が必要です。Authorization: Bearer <APIトークン> を付けてください。")
    with rt.db.reading_rows() as conn:
        principal = principal_from_token(conn, token.strip())
    request.state.principal = principal
    return principal


async def csrf_protect(request: Request) -> None:
    """Every form post carries the session's token (hidden field or X-CSRF-Token)."""
    expected = request.session.get("csrf")
    sent = request.headers.get("X-CSRF-Token")
    if not sent:
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not same_token(expected, sent):
        raise UshiroError(ErrorCode.CSRF_FAILED,
                          "フォームの有効期限が切れました。ページを再読み込みしてもう一度送信してください。")


PagePrincipal = Annotated[Principal, Depends(page_principal)]
ApiPrincipal = Annotated[Principal, Depends(api_principal)]
CsrfChecked = Depends(csrf_protect)
