"""Time in one place: UTC in storage, Asia/Tokyo (or the configured zone) on screen."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

DISPLAY_ZONE = ZoneInfo("Asia/Tokyo")


def now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def local(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value).astimezone(DISPLAY_ZONE)


def format_local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    shown = local(value)
    return "" if shown is None else shown.strftime(fmt)
