"""One error type with stable codes. Messages are Japanese and say what to fix.

Handlers never build error responses themselves: they raise :class:`UshiroError` and the
single handler in ``ushiro.app`` renders it as JSON (API) or a page (HTML).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    AUTH_REQUIRED = "auth_required"
    AUTH_FAILED = "auth_failed"
    RATE_LIMITED = "rate_limited"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    VALIDATION = "validation_error"
    CONFLICT = "conflict"
    CSRF_FAILED = "csrf_failed"
    TOO_LARGE = "payload_too_large"
    INVALID_TRANSITION = "invalid_status_transition"
    MAIL_MALFORMED = "mail_malformed"
    MAIL_TOO_LARGE = "mail_too_large"
    MAIL_UNKNOWN_SENDER = "mail_unknown_sender"
    MAIL_NOT_CONFIGURED = "mail_not_configured"
    MAIL_CONNECTION = "mail_connection_failed"
    BACKUP_FAILED = "backup_failed"
    NOT_INITIALISED = "not_initialised"
    DOCUMENT_UNREADABLE = "document_unreadable"
    DOCUMENT_NEEDS_OCR = "document_needs_ocr"
    DOCUMENT_TOO_LARGE = "document_too_large"
    UNSUPPORTED_FORMAT = "unsupported_format"
    SELF_SERVICE_NOT_EARNED = "self_service_not_earned"
    EMBEDDING_MODEL_UNAVAILABLE = "embedding_model_unavailable"
    # A backup that cannot be restored as it is: missing or altered file, broken line.
    BACKUP_DAMAGED = "backup_damaged"
    MAIL_LIMIT = "mail_limit_exceeded"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    METHOD_NOT_ALLOWED = "method_not_allowed"


STATUS_BY_CODE: dict[ErrorCode, int] = {
    ErrorCode.AUTH_REQUIRED: 401,
    ErrorCode.AUTH_FAILED: 401,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.VALIDATION: 422,
    ErrorCode.CONFLICT: 409,
    ErrorCode.CSRF_FAILED: 403,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.INVALID_TRANSITION: 409,
    ErrorCode.MAIL_MALFORMED: 422,
    ErrorCode.MAIL_TOO_LARGE: 413,
    ErrorCode.MAIL_UNKNOWN_SENDER: 422,
    ErrorCode.MAIL_NOT_CONFIGURED: 409,
    ErrorCode.MAIL_CONNECTION: 502,
    ErrorCode.BACKUP_FAILED: 500,
    ErrorCode.NOT_INITIALISED: 409,
    ErrorCode.DOCUMENT_UNREADABLE: 422,
    ErrorCode.DOCUMENT_NEEDS_OCR: 422,
    ErrorCode.DOCUMENT_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_FORMAT: 415,
    ErrorCode.SELF_SERVICE_NOT_EARNED: 409,
    # The operator's setting names no usable model: search cannot run until it is fixed.
    ErrorCode.EMBEDDING_MODEL_UNAVAILABLE: 503,
    ErrorCode.BACKUP_DAMAGED: 422,
    ErrorCode.MAIL_LIMIT: 422,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 422,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
}


class UshiroError(Exception):
    """A failure the user can act on.

    ``message`` is shown to people (Japanese); ``code`` is stable for programs; ``field``
    names the input at fault (``body``, ``row 3: amount``…) when there is one.
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        field: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.details = details or {}

    @property
    def status(self) -> int:
        return STATUS_BY_CODE.get(self.code, 400)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": str(self.code), "message": self.message}
        if self.field:
            body["field"] = self.field
        if self.details:
            body["details"] = self.details
        return body


def not_found(what: str) -> UshiroError:
    return UshiroError(ErrorCode.NOT_FOUND, f"{what}が見つかりません。番号を確認してください。")


def forbidden() -> UshiroError:
    return UshiroError(ErrorCode.FORBIDDEN, "この操作を行う権限がありません。")


def invalid(field: str, message: str) -> UshiroError:
    return UshiroError(ErrorCode.VALIDATION, f"{field}: {message}", field=field)
