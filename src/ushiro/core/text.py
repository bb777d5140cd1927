"""Text normalisation for everything that enters the desk."""

from __future__ import annotations

import re
import unicodedata

# C0/C1 controls other than tab/newline: they break rendering and CSV exports.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean(text: str | None) -> str:
    """NFC, unified newlines, no control characters, trimmed."""
    if not text:
        return ""
    value = unicodedata.normalize("NFC", text)
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROL.sub("", value)
    return value.strip()


def fold(text: str) -> str:
    """NFKC + casefold: the comparison form (全角英数 → 半角, ｶﾅ → カナ)."""
    return unicodedata.normalize("NFKC", text).casefold()


def one_line(text: str, limit: int = 200) -> str:
    value = " ".join(clean(text).split())
    return value[:limit]
