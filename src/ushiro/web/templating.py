"""Jinja2 with the layout, every domain's ``templates/`` folder and gettext."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import BaseLoader, ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from ushiro.core import i18n
from ushiro.core.clock import format_local

# The layout first; the app adds every domain's folder (ushiro.domains) when it is built.
_FOLDERS: list[Path] = [Path(__file__).resolve().parent / "templates"]
_LOADERS: list[BaseLoader] = [FileSystemLoader(str(_FOLDERS[0]))]
_LOADER = ChoiceLoader(_LOADERS)


def add_template_dirs(dirs: list[Path]) -> None:
    for folder in dirs:
        if folder not in _FOLDERS:
            _FOLDERS.append(folder)
            _LOADERS.append(FileSystemLoader(str(folder)))


def _env() -> Environment:
    env = Environment(loader=_LOADER, autoescape=select_autoescape(["html"]),
                      extensions=["jinja2.ext.i18n"], trim_blocks=True, lstrip_blocks=True)
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=i18n.gettext_, ngettext=lambda s, p, n: i18n.gettext_(s if n == 1 else p),
        newstyle=True)
    env.filters["local"] = format_local
    env.filters["filesize"] = _filesize
    return env


def _filesize(size: int) -> str:
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}"
        size //= 1024
    return f"{size} GB"


ENV = _env()


def render(request: Request, name: str, context: dict[str, Any] | None = None,
           status_code: int = 200) -> HTMLResponse:
    ctx: dict[str, Any] = {
        "request": request,
        "principal": getattr(request.state, "principal", None),
        "tenants": getattr(request.state, "tenants", []),
        "csrf_token": request.session.get("csrf", "") if "session" in request.scope else "",
        "lang": i18n.get_language(),
        "htmx": request.headers.get("HX-Request") == "true",
    }
    ctx.update(context or {})
    html = ENV.get_template(name).render(ctx)
    return HTMLResponse(html, status_code=status_code)
