"""The application factory: pages, REST API, one error handler."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ushiro import domains
from ushiro.core import i18n
from ushiro.core.errors import ErrorCode, UshiroError
from ushiro.core.runtime import Runtime
from ushiro.core.settings import Settings
from ushiro.web.deps import LoginRequired
from ushiro.web.proxies import TrustedProxies
from ushiro.web.strict_json import BodyRefused
from ushiro.web.templating import add_template_dirs, render
from ushiro.web.validation import japanese_validation_error

STATIC = Path(__file__).resolve().parent / "web" / "static"


class BodyLimit:
    """Refuse bodies over the limit with 413 and a Japanese message: before reading them
    when Content-Length says so, and while reading them when it is absent (chunked): the
    bytes that arrive are counted, reading stops with an error at the limit, and whatever
    the app answers to that error (FastAPI turns it into "error parsing the body") is
    replaced by the same 413."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    def _error(self) -> UshiroError:
        return UshiroError(ErrorCode.TOO_LARGE,
                           f"送信データが大きすぎます。上限は {self.limit:,} バイトです。")

    def _refusal(self) -> JSONResponse:
        return JSONResponse({"error": self._error().as_dict()}, status_code=413)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length and length.isdigit():
            if int(length) > self.limit:
                await self._refusal()(scope, receive, send)
                return
            await self.app(scope, receive, send)  # the server stops at Content-Length
            return
        await self._counted(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        received, over, answered = 0, False, False

        async def counting() -> Message:
            nonlocal received, over
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                over = True
                raise self._error()
            return message

        async def answering(message: Message) -> None:
            nonlocal answered
            if over:
                if not answered:
                    answered = True
                    await self._refusal()(scope, receive, send)
                return  # the app's own answer to the aborted read is dropped
            await send(message)

        try:
            await self.app(scope, counting, answering)
        except Exception:
            if not over:
                raise
            if not answered:
                await self._refusal()(scope, receive, send)


_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]
_NO_STORE = (b"cache-control", b"no-store")
_CSP = (b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'")


class SecurityHeaders:
    """Adds the security headers to every response and resets the UI language.

    Plain ASGI rather than ``@app.middleware("http")``: that form runs the rest of the app
    in a second task with memory streams between the two, which cost more server time per
    API request than storing the request did (bench/intake.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        i18n.set_language(i18n.DEFAULT_LANGUAGE)
        wanted = list(_SECURITY_HEADERS)
        if not scope["path"].startswith(("/docs", "/redoc")):
            wanted.append(_CSP)
        if not scope["path"].startswith("/static/"):
            # Pages behind the login, the API and even error answers name people and their
            # requests: no browser cache or shared proxy keeps a copy. Static files are public.
            wanted.append(_NO_STORE)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in wanted if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class PageSessions(SessionMiddleware):
    """Cookie sessions for the pages only: the REST API authenticates every call with a
    bearer token and never reads a session, so it skips decoding and re-signing one."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _error_response(request: Request, error: UshiroError) -> Response:
    if _is_api(request):
        return JSONResponse({"error": error.as_dict()}, status_code=error.status)
    if request.headers.get("HX-Request") == "true":
        response = render(request, "partials/flash.html", {"error": error}, error.status)
        response.headers["HX-Retarget"] = "#flash"
        response.headers["HX-Reswap"] = "innerHTML"
        return response
    return render(request, "error.html", {"error": error}, error.status)


def _http_error(request: Request, exc: StarletteHTTPException) -> UshiroError:
    """Starlette's and FastAPI's own refusals (no such URL, method, unreadable body) in the
    project's error format."""
    if isinstance(exc, BodyRefused):
        return exc.error
    if exc.status_code == 404:
        return UshiroError(ErrorCode.NOT_FOUND, "ページが見つかりません。URL を確かめてください。"
                           if not _is_api(request) else
                           f"この URL の API はありません: {request.url.path}")
    if exc.status_code == 405:
        return UshiroError(ErrorCode.METHOD_NOT_ALLOWED,
                           f"この URL は {request.method} を受け付けません。")
    if exc.status_code == 400:
        return UshiroError(ErrorCode.VALIDATION, "送信された本文を読み取れません。"
                           "JSON は UTF-8 で、フォームは正しい形式で送ってください。", field="body")
    return UshiroError(ErrorCode.VALIDATION, f"リクエストを処理できません(HTTP {exc.status_code})。")


def create_app(settings: Settings | None = None, rt: Runtime | None = None) -> FastAPI:
    if rt is None:
        rt = Runtime.from_settings(settings or Settings())
    app = FastAPI(title="Ushiro API", version="1", docs_url="/docs", redoc_url=None,
                  openapi_url="/api/v1/openapi.json",
                  description="Ushiro (後ろ) — 総務・人事・経理の窓口。Bearer トークンで認証します。")
    app.state.rt = rt
    _add_middleware(app, rt)
    _add_error_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _include_routers(app)
    return app


def _add_middleware(app: FastAPI, rt: Runtime) -> None:
    app.add_middleware(SecurityHeaders)
    app.add_middleware(PageSessions, secret_key=rt.settings.resolved_secret_key(),
                       session_cookie="ushiro_session",
                       max_age=rt.settings.session_max_age_seconds, same_site="lax",
                       https_only=rt.settings.cookie_secure)
    limit = rt.settings.max_attachment_bytes * 10 + 1024 * 1024
    app.add_middleware(BodyLimit, limit=limit)
    if rt.settings.trusted_proxy_networks:
        app.add_middleware(TrustedProxies, networks=rt.settings.trusted_proxy_networks)


def _add_error_handlers(app: FastAPI) -> None:
    """The one error type and the framework's own errors, all rendered by
    :func:`_error_response` (JSON for /api, a page or an htmx fragment otherwise)."""

    @app.exception_handler(UshiroError)
    async def _ushiro_error(request: Request, exc: UshiroError) -> Response:
        return _error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return _error_response(request, japanese_validation_error(exc.errors()))

    @app.exception_handler(ValidationError)
    async def _model_validation(request: Request, exc: ValidationError) -> Response:
        # Handlers and services build input models from form fields (UserIn, ReplyCreate,
        # MailAccountIn, …): bad input there is a 422 like any other, not a server error.
        return _error_response(request, japanese_validation_error(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        response = _error_response(request, _http_error(request, exc))
        response.headers.update(exc.headers or {})  # Allow on a 405
        return response

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        if request.headers.get("HX-Request") == "true":
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


def _include_routers(app: FastAPI) -> None:
    """Every domain's routers and templates, and its hooks and panels (``ushiro.domains``)."""
    domains.load_hooks()
    add_template_dirs(domains.template_dirs())
    for router in domains.routers():
        app.include_router(router)


def with_job_worker(app: FastAPI, rt: Runtime) -> FastAPI:
    """Run a job worker thread for as long as ``app`` is served (``worker_in_process``):
    started with the app, stopped when the server shuts down — the running job finishes,
    the jobs it claimed but did not start go back to the queue."""
    from ushiro import jobs

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(served: Any) -> AsyncIterator[Any]:
        worker = jobs.start_worker_thread(rt)
        try:
            async with inner(served) as state:
                yield state
        finally:
            worker.stop()

    app.router.lifespan_context = lifespan
    return app


def app_from_env() -> FastAPI:
    """Factory for several web processes (``uvicorn --factory``): settings from the
    environment, one job-worker thread per process unless ``worker_in_process`` is off
    (``ushiro serve --no-jobs``)."""
    rt = Runtime.from_settings(Settings())
    app = create_app(rt=rt)
    return with_job_worker(app, rt) if rt.settings.worker_in_process else app
