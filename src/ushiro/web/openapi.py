"""The error answers of the REST API as the OpenAPI document declares them: every /api
router lists these, so that the document describes each status a caller can receive (the
schema-driven fuzzer, tests/access/test_api_fuzz.py, holds the API to it)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ushiro.core.errors import ErrorCode


class ErrorBody(BaseModel):
    code: ErrorCode = Field(description="安定したエラーコード(プログラム向け)")
    message: str = Field(description="日本語のメッセージ: 何をどう直すか")
    field: str | None = Field(default=None, description="誤りのある入力項目")
    details: dict[str, Any] | None = Field(
        default=None, description="項目ごとの誤り(validation_error)など")


class ErrorOut(BaseModel):
    """The one error format: ``{"error": {"code", "message", "field"}}``."""

    error: ErrorBody


_DESCRIPTIONS = {
    401: "認証が必要、またはトークンが無効です(auth_required, auth_failed)",
    403: "権限がありません(forbidden)",
    404: "見つかりません。他テナントのデータも同じく見つかりません(not_found)",
    409: "現在の状態では実行できません(invalid_status_transition など)",
    413: "送信データが大きすぎます(payload_too_large)",
    422: "入力内容に誤りがあります(validation_error, idempotency_key_reused)",
}

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text} for status, text in _DESCRIPTIONS.items()}
