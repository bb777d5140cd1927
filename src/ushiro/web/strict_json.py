"""JSON bodies of the API read strictly: UTF-8 only, and no lone surrogate in any string.

Python's json module accepts both (it guesses UTF-16/32 from the first bytes, and decodes
an escaped ``\\ud800`` to a string that no database driver can encode): such a body gets
the project's validation error here, before any handler runs, instead of an English
"error parsing the body" or a server error when the string reaches the database."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

from ushiro.core.errors import ErrorCode, UshiroError

# A JSON escape of a surrogate code point; only a body containing one can decode to a
# lone surrogate (encoded as UTF-8 bytes, a surrogate is already refused by decoding).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class BodyRefused(HTTPException):
    """Carries an :class:`UshiroError` out of FastAPI's body reading, which re-raises
    HTTP exceptions as they are and turns anything else into an English 400."""

    def __init__(self, error: UshiroError) -> None:
        super().__init__(status_code=error.status, detail=error.message)
        self.error = error


def _refused(message: str) -> BodyRefused:
    return BodyRefused(UshiroError(ErrorCode.VALIDATION, message, field="body"))


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return _LONE_SURROGATE.search(value) is not None
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    return False


def strict_json(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refused(f"送信された本文を UTF-8 として読み取れません({exc.start + 1} バイト目)。"
                       "JSON は UTF-8 で送ってください。") from exc
    data = json.loads(text)  # a syntax error is FastAPI's json_invalid validation error
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(data):
        raise _refused("本文に文字として読み取れない値(対になっていないサロゲート \\uD800〜\\uDFFF)"
                       "が含まれています。正しい文字に直して送ってください。")
    return data


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = strict_json(await self.body())
        return self._json


class ApiRoute(APIRoute):
    """The route class of every /api router: its JSON bodies are read by
    :class:`StrictJsonRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
