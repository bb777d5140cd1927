"""Pydantic validation errors as one Japanese message naming each field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ushiro.core.errors import ErrorCode, UshiroError

_MESSAGES = {
    "missing": "必須項目です",
    "string_type": "文字列で指定してください",
    "string_too_short": "空にはできません",
    "string_too_long": "長すぎます(最大 {max_length} 文字)",
    "int_parsing": "整数で指定してください",
    "int_type": "整数で指定してください",
    "enum": "次のいずれかを指定してください: {expected}",
    "literal_error": "次のいずれかを指定してください: {expected}",
    "extra_forbidden": "この項目は受け付けていません",
    "json_invalid": "JSON として読み取れません",
    "model_attributes_type": "JSON オブジェクトで指定してください",
    "dict_type": "JSON オブジェクトで指定してください",
    "list_type": "配列で指定してください",
    "too_long": "多すぎます(最大 {max_length} 件)",
    "datetime_from_date_parsing": "日時の形式が正しくありません(例: 2026-04-01T09:00:00+09:00)",
    "datetime_parsing": "日時の形式が正しくありません(例: 2026-04-01T09:00:00+09:00)",
    "bool_parsing": "true または false で指定してください",
    "greater_than_equal": "{ge} 以上にしてください",
    "less_than_equal": "{le} 以下にしてください",
    "date_out_of_range": "{earliest} 年から {latest} 年までの日時で指定してください",
    "string_unicode": "文字として読み取れない値(対になっていないサロゲート)が含まれています",
}


def _field(loc: Sequence[Any], error_type: str = "") -> str:
    if error_type == "json_invalid":
        return "body"  # the location is ("body", <character offset>), not a field
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "form")]
    return ".".join(parts) or "body"


def japanese_validation_error(errors: Sequence[Any]) -> UshiroError:
    items = []
    for err in errors:
        template = _MESSAGES.get(err.get("type", ""), "値が正しくありません")
        try:
            text = template.format(**(err.get("ctx") or {}))
        except (KeyError, IndexError):
            text = template
        items.append({"field": _field(err.get("loc", ()), err.get("type", "")), "message": text,
                      "type": err.get("type")})
    summary = "、".join(f"{i['field']}: {i['message']}" for i in items[:5])
    return UshiroError(ErrorCode.VALIDATION, f"入力内容に誤りがあります。{summary}",
                       field=items[0]["field"] if items else None, details={"errors": items})
